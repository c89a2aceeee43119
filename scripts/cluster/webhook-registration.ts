// URL-mode webhook configurations for the local cluster: the API server calls the operator process
// on https://127.0.0.1 (never a Service address; see docs/testing.md, "network rule").
import { API_GROUP, API_VERSION } from "../../src/api/schemas.ts";
import { WEBHOOK_PATHS } from "../../webhooks/app.ts";

export interface UrlWebhookOptions {
  name: string;
  port: number;
  caBundlePem: string;
  /** Only namespaces with these labels are guarded (tests scope each run to its namespace). */
  namespaceLabels?: Record<string, string>;
}

export function urlModeWebhookConfigurations(options: UrlWebhookOptions): object[] {
  const base = `https://127.0.0.1:${options.port}`;
  const caBundle = Buffer.from(options.caBundlePem).toString("base64");
  const common = (name: string, path: string, plural: string) => ({
    name: `${name}.${API_GROUP}`,
    clientConfig: { url: `${base}${path}`, caBundle },
    rules: [
      { apiGroups: [API_GROUP], apiVersions: [API_VERSION], operations: ["CREATE", "UPDATE"], resources: [plural], scope: "Namespaced" },
    ],
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
    failurePolicy: "Fail",
    timeoutSeconds: 10,
    ...(options.namespaceLabels ? { namespaceSelector: { matchLabels: options.namespaceLabels } } : {}),
  });
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: { name: options.name },
      webhooks: [
        { ...common("default-runnerdeployments", WEBHOOK_PATHS.mutateRunnerDeployments, "runnerdeployments"), reinvocationPolicy: "Never" },
      ],
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: options.name },
      webhooks: [
        common("validate-runnerdeployments", WEBHOOK_PATHS.validateRunnerDeployments, "runnerdeployments"),
        common("validate-actrunners", WEBHOOK_PATHS.validateActRunners, "actrunners"),
      ],
    },
  ];
}
