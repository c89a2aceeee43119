{{/* Resource name prefix: <release>-<chart>, or the release name when it already holds the chart name. */}}
{{- define "forgejo-arc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "forgejo-arc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "forgejo-arc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "forgejo-arc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "forgejo-arc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "forgejo-arc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: forgejo-arc
{{- with include "forgejo-arc.commonLabels" . }}
{{ . }}
{{- end }}
{{- end -}}

{{/* commonLabels as YAML; a key the chart sets itself fails the render. */}}
{{- define "forgejo-arc.commonLabels" -}}
{{- range $key, $_ := .Values.commonLabels }}
{{- if or (hasPrefix "app.kubernetes.io/" $key) (hasPrefix "helm.sh/" $key) }}
{{- fail (printf "commonLabels: %q is a key the chart sets itself (app.kubernetes.io/*, helm.sh/*); use a key of your own" $key) }}
{{- end }}
{{- end }}
{{- with .Values.commonLabels }}{{ toYaml . }}{{ end }}
{{- end -}}

{{- define "forgejo-arc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "forgejo-arc.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: set the name of an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* nodeSelector and tolerations of the release's pods (controller, helm test, uninstall hook). */}}
{{- define "forgejo-arc.nodePlacement" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "forgejo-arc.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "forgejo-arc.webhookServiceName" -}}
{{- printf "%s-webhook" (include "forgejo-arc.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "forgejo-arc.webhookSecretName" -}}
{{- .Values.webhooks.existingSecret | default (printf "%s-webhook-tls" (include "forgejo-arc.fullname" .) | trunc 63 | trimSuffix "-") -}}
{{- end -}}

{{/* Base URL the webhooks are reached at: the Service in service mode, url.host:url.port in url mode. */}}
{{- define "forgejo-arc.webhookBaseURL" -}}
{{- if eq .Values.webhooks.mode "url" -}}
{{- printf "https://%s:%d" .Values.webhooks.url.host (int .Values.webhooks.url.port) -}}
{{- else -}}
{{- printf "https://%s.%s.svc:%d" (include "forgejo-arc.webhookServiceName" .) .Release.Namespace (int .Values.service.webhookPort) -}}
{{- end -}}
{{- end -}}

{{/* The port the controller serves webhooks on: url.port in url mode (the API server dials it directly). */}}
{{- define "forgejo-arc.webhookContainerPort" -}}
{{- if eq .Values.webhooks.mode "url" -}}{{ int .Values.webhooks.url.port }}{{- else -}}{{ int .Values.ports.webhook }}{{- end -}}
{{- end -}}

{{/* The part every webhook shares; called with (list $root $path $caBundle). */}}
{{- define "forgejo-arc.webhookCommon" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
{{- $caBundle := index . 2 -}}
clientConfig:
  {{- if eq $root.Values.webhooks.mode "url" }}
  url: {{ printf "%s%s" (include "forgejo-arc.webhookBaseURL" $root) $path | quote }}
  {{- else }}
  service:
    name: {{ include "forgejo-arc.webhookServiceName" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ $path | quote }}
    port: {{ $root.Values.service.webhookPort }}
  {{- end }}
  {{- if $caBundle }}
  caBundle: {{ $caBundle }}
  {{- end }}
sideEffects: None
admissionReviewVersions: ["v1"]
failurePolicy: {{ $root.Values.webhooks.failurePolicy }}
timeoutSeconds: {{ $root.Values.webhooks.timeoutSeconds }}
matchPolicy: Equivalent
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- toYaml (concat (list "kube-system" $root.Release.Namespace) $root.Values.webhooks.excludedNamespaces | uniq) | nindent 8 }}
{{- end -}}
