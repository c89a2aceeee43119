// Validates a Pod exactly as the API server would, without creating it (server-side dry-run).
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { PodDryRun } from "../../webhooks/runnerdeployment.ts";
import { apiErrorCode, apiErrorMessage } from "./client.ts";

/** The texts of an answer's Warning headers (RFC 7234 `299 - "text"`, several joined by ", "). */
export function warningTexts(header: string | undefined): string[] {
  return [...(header ?? "").matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!.replace(/\\(.)/g, "$1"));
}

export function podDryRun(kc: KubeConfig): PodDryRun {
  const core = kc.makeApiClient(CoreV1Api);
  return async (namespace: string, pod: V1Pod) => {
    try {
      const answer = await core.createNamespacedPodWithHttpInfo({ namespace, body: pod, dryRun: "All" });
      // E.g. Pod Security in warn mode: "would violate PodSecurity …".
      return { warnings: warningTexts(answer.headers.warning) };
    } catch (error) {
      const code = apiErrorCode(error);
      // 400/403/422 are verdicts on the Pod (invalid, forbidden by policy or quota); anything else
      // is a failure to ask, which the webhook reports as an error rather than a denial.
      if (code === 400 || code === 403 || code === 422) return { refusal: apiErrorMessage(error), warnings: [] };
      throw new Error(`server-side dry-run of the Pod in namespace ${namespace} failed: ${apiErrorMessage(error)}`, { cause: error });
    }
  };
}
