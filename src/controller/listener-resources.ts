// The objects a RunnerDeployment's listener runs with, built from the RunnerDeployment alone:
// ServiceAccount, Role (listenerRoleRules), RoleBinding and a one-replica Recreate Deployment.
import type { V1Deployment, V1OwnerReference, V1PodTemplateSpec, V1Role, V1RoleBinding, V1ServiceAccount } from "@kubernetes/client-node";
import {
  DEFAULT_CA_BUNDLE_KEY,
  DEFAULT_POLL_INTERVAL,
  DEFAULT_TOKEN_KEY,
  FORGEJO_CA_DIR,
  LISTENER_CONTAINER,
  LISTENER_NAMESPACE_ENV,
  LISTENER_TOKEN_ENV,
} from "../api/defaults.ts";
import { fitName, hashOf } from "../api/naming.ts";
import { scopeFieldsOf, type ScopeFields } from "../api/names.ts";
import { mergePodTemplate } from "../api/pod-template.ts";
import { propagatedLabels } from "../api/propagated-labels.ts";
import { API_GROUP_VERSION } from "../api/schemas.ts";
import { LABELS, MANAGED_BY } from "../api/well-known.ts";
import type { PodTemplate, RunnerDeployment } from "../generated/api.ts";
import { listenerRoleRules } from "../listener/rbac.ts";

export const LISTENER_PORT = 8080;
export const CONFIG_HASH_ANNOTATION = "forgejo.actions.io/config-hash";
/** On the listener Deployment: the RunnerDeployment's metadata.generation it was last applied for. */
export const SPEC_GENERATION_ANNOTATION = "forgejo.actions.io/runner-deployment-generation";

export interface ListenerOptions {
  /** The operator's own image; its entrypoint is `forgejo-arc`. */
  image: string;
  imagePullPolicy?: string;
  /** Names of image pull Secrets (in the RunnerDeployment's namespace) for the listener's image. */
  imagePullSecrets?: readonly string[];
  /** Label key prefixes the RunnerDeployment's labels are not copied with (to these objects and, by the listener, to ActRunners). */
  labelPropagationExclude: readonly string[];
  /** The cluster's listener pod template (--listener-pod-template), merged under the RunnerDeployment's listenerTemplate. */
  podTemplate?: PodTemplate;
}

export interface ListenerResources {
  serviceAccount: V1ServiceAccount;
  role: V1Role;
  roleBinding: V1RoleBinding;
  deployment: V1Deployment;
}

export function listenerName(rd: RunnerDeployment): string {
  return fitName(rd.metadata!.name!, "-listener");
}

export function listenerSelector(rd: RunnerDeployment): Record<string, string> {
  return { [LABELS.name]: "forgejo-arc", [LABELS.component]: "listener", [LABELS.runnerDeployment]: fitName(rd.metadata!.name!, "") };
}

/** The labels the operator sets on the listener's pod and objects; on the pod, its Deployment's selector, which a template's labels must not replace. */
function listenerPodLabels(rd: RunnerDeployment): Record<string, string> {
  return { ...listenerSelector(rd), [LABELS.managedBy]: MANAGED_BY };
}

export function ownerReference(rd: RunnerDeployment): V1OwnerReference {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: "RunnerDeployment",
    name: rd.metadata!.name!,
    uid: rd.metadata!.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function listenerArgs(rd: RunnerDeployment, options: ListenerOptions): string[] {
  const spec = rd.spec;
  return [
    "listener",
    `--runner-deployment=${rd.metadata!.name}`,
    `--forgejo-server=${spec.forgejoServer}`,
    scopeArgument(spec),
    `--labels=${spec.labels}`,
    `--poll-interval=${spec.pollInterval ?? DEFAULT_POLL_INTERVAL}`,
    ...(spec.caBundleConfigMapRef ? [`--ca-file=${FORGEJO_CA_DIR}/${spec.caBundleConfigMapRef.key ?? DEFAULT_CA_BUNDLE_KEY}`] : []),
    `--label-propagation-exclude=${options.labelPropagationExclude.join(",")}`,
  ];
}

/** The listener flag of the RunnerDeployment's scope, named like its field: --organization=acme, --instance=true. */
function scopeArgument(spec: ScopeFields): string {
  const [field, value] = Object.entries(scopeFieldsOf(spec))[0]!;
  return `--${field}=${String(value)}`;
}

/** Taints of a node that stopped reporting; pods tolerate them for 300 s unless they say otherwise. */
const NODE_FAILURE_TOLERATIONS = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

function defaultPodTemplate(rd: RunnerDeployment, options: ListenerOptions, name: string): V1PodTemplateSpec {
  const spec = rd.spec;
  return {
    metadata: { labels: listenerPodLabels(rd) },
    spec: {
      serviceAccountName: name,
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 15,
      // One listener serves the RunnerDeployment: when its node fails, it moves after 30 s rather than
      // the default 5 minutes without new runners. A second listener meanwhile is harmless (it makes
      // the same ActRunner names).
      tolerations: NODE_FAILURE_TOLERATIONS.map((key) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 })),
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: LISTENER_CONTAINER,
          image: options.image,
          ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
          args: listenerArgs(rd, options),
          env: [
            { name: LISTENER_NAMESPACE_ENV, valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            {
              name: LISTENER_TOKEN_ENV,
              valueFrom: { secretKeyRef: { name: spec.tokenSecretRef.name, key: spec.tokenSecretRef.key ?? DEFAULT_TOKEN_KEY } },
            },
            // A RunnerDeployment's listenerTemplate may set another (env merges by name).
            { name: "LOG_LEVEL", value: "info" },
          ],
          ports: [{ name: "http", containerPort: LISTENER_PORT }],
          livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
          readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 1 },
          resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } },
          // A crash's last log lines become the termination message, which ListenerAvailable quotes.
          terminationMessagePolicy: "FallbackToLogsOnError",
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
          ...(spec.caBundleConfigMapRef ? { volumeMounts: [{ name: "forgejo-ca", mountPath: FORGEJO_CA_DIR, readOnly: true }] } : {}),
        },
      ],
      ...(spec.caBundleConfigMapRef ? { volumes: [{ name: "forgejo-ca", configMap: { name: spec.caBundleConfigMapRef.name } }] } : {}),
      ...(options.imagePullSecrets?.length ? { imagePullSecrets: options.imagePullSecrets.map((name) => ({ name })) } : {}),
    },
  };
}

/** `tokenDigest`: a hash of the token in the token Secret, when it exists. */
export function listenerResources(rd: RunnerDeployment, options: ListenerOptions, tokenDigest?: string): ListenerResources {
  const name = listenerName(rd);
  const namespace = rd.metadata!.namespace!;
  const labels = { ...propagatedLabels(rd.metadata?.labels, options.labelPropagationExclude), ...listenerPodLabels(rd) };
  const metadata = { name, namespace, labels, ownerReferences: [ownerReference(rd)] };
  const template = mergePodTemplate(mergePodTemplate(defaultPodTemplate(rd, options, name), options.podTemplate), rd.spec.listenerTemplate);
  // The hash of everything the pod is built from: a change of it rolls the listener. The token too,
  // as the listener's env holds the token of when its pod started: a token replaced in the Secret
  // reaches the listener only through a new pod.
  const configHash = hashOf({ args: listenerArgs(rd, options), template, image: options.image, token: tokenDigest });
  template.metadata = {
    ...template.metadata,
    labels: { ...template.metadata?.labels, ...listenerPodLabels(rd) },
    annotations: { ...template.metadata?.annotations, [CONFIG_HASH_ANNOTATION]: configHash },
  };
  return {
    serviceAccount: { apiVersion: "v1", kind: "ServiceAccount", metadata },
    role: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata, rules: listenerRoleRules(rd.metadata!.name!) },
    roleBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
    deployment: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        ...metadata,
        annotations: {
          [CONFIG_HASH_ANNOTATION]: configHash,
          ...(rd.metadata!.generation !== undefined ? { [SPEC_GENERATION_ANNOTATION]: String(rd.metadata!.generation) } : {}),
        },
      },
      spec: {
        replicas: 1,
        strategy: { type: "Recreate" },
        revisionHistoryLimit: 3,
        selector: { matchLabels: listenerSelector(rd) },
        template,
      },
    },
  };
}
