// Kubernetes connection: in a pod the ServiceAccount, elsewhere $KUBECONFIG or ~/.kube/config.
import { ApiException, KubeConfig } from "@kubernetes/client-node";

export function loadKubeConfig(kubeconfigPath = process.env.KUBECONFIG): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  return kc;
}

/** The API server's own message from a failed call (its Status body), else the error text. */
export function apiErrorMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = typeof error.body === "string" ? safeJson(error.body) : error.body;
    if (body && typeof body === "object" && "message" in body && typeof body.message === "string") return body.message;
    return `HTTP ${error.code}`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function apiErrorCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
