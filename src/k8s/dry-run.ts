// What the admission webhook asks the API server: an object sent as the controller would, without
// storing it (server-side dry-run), which every admission step answers — validation, Pod Security,
// quotas, webhooks, policies; and a namespace's ResourceQuotas and which Secrets it lacks.
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import { API_GROUP, API_VERSION } from "../api/schemas.ts";
import { makeApplier } from "./apply.ts";
import type { DryRun, DryRunRequest } from "../../webhooks/dry-run.ts";
import type { ResourceQuotas } from "../../webhooks/quota.ts";
import type { MissingSecrets } from "../../webhooks/pull-secrets.ts";
import { apiErrorCode, apiErrorMessage, ignoreNotFound } from "./client.ts";

/** The texts of an answer's Warning headers (RFC 7234 `299 - "text"`, several joined by ", "). */
export function warningTexts(header: string | undefined): string[] {
  return [...(header ?? "").matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!.replace(/\\(.)/g, "$1"));
}

export function dryRun(kc: KubeConfig): DryRun {
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  // What is made for each job is created anew every time; the listener's objects are applied
  // (created or updated) by the controller's own applier. Only the Pods' warnings and admitted form are read.
  const apply = makeApplier(kc, { dryRun: true });
  const send = (request: DryRunRequest): Promise<{ headers: Record<string, string>; data?: unknown }> => {
    const { namespace } = request;
    const created = { namespace, dryRun: "All" };
    switch (request.kind) {
      case "Pod":
        return core.createNamespacedPodWithHttpInfo({ ...created, body: request.object });
      case "Job":
        return batch.createNamespacedJobWithHttpInfo({ ...created, body: request.object });
      case "Secret":
        return core.createNamespacedSecretWithHttpInfo({ ...created, body: request.object });
      case "ActRunner":
        return custom.createNamespacedCustomObjectWithHttpInfo({
          ...created,
          group: API_GROUP,
          version: API_VERSION,
          plural: "actrunners",
          body: request.object,
        });
      case "Deployment":
      case "ServiceAccount":
      case "Role":
        return apply(request.object).then(() => ({ headers: {} }));
    }
  };
  return async (request) => {
    try {
      const answer = await send(request);
      // Warnings, e.g. Pod Security in warn mode: "would violate PodSecurity …".
      const warnings = warningTexts(answer.headers.warning);
      return request.kind === "Pod" ? { warnings, admitted: answer.data as V1Pod } : { warnings };
    } catch (error) {
      const code = apiErrorCode(error);
      // 400/403/422 are verdicts on the object (invalid, forbidden by policy or quota); anything else
      // is a failure to ask, which the webhook reports as an error rather than a denial.
      if (code === 400 || code === 403 || code === 422) return { refusal: apiErrorMessage(error), warnings: [] };
      throw new Error(`server-side dry-run of the ${request.kind} in namespace ${request.namespace} failed: ${apiErrorMessage(error)}`, {
        cause: error,
      });
    }
  };
}

/** The namespace's ResourceQuotas, for the webhook's check of spec.maxRunners (webhooks/quota.ts). */
export function resourceQuotas(kc: KubeConfig): ResourceQuotas {
  const core = kc.makeApiClient(CoreV1Api);
  return async (namespace) => (await core.listNamespacedResourceQuota({ namespace })).items;
}

/** Asks the API server for an object's metadata alone (a PartialObjectMetadata), not its content. */
const METADATA_ONLY = setHeaderOptions("Accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1");

/** A Secret's metadata, without its data, or undefined when it does not exist. */
export function secretMetadata(kc: KubeConfig): (namespace: string, name: string) => Promise<KubernetesObject | undefined> {
  const core = kc.makeApiClient(CoreV1Api);
  return (namespace, name) => ignoreNotFound(core.readNamespacedSecret({ name, namespace }, METADATA_ONLY));
}

/**
 * Which of these Secrets the namespace lacks, for the webhook's check of image pull Secrets
 * (webhooks/pull-secrets.ts): read as metadata only, so their credentials never reach the controller.
 */
export function missingSecrets(kc: KubeConfig): MissingSecrets {
  const read = secretMetadata(kc);
  return async (namespace, names) => {
    const found = await Promise.all(names.map((name) => read(namespace, name)));
    return names.filter((_, i) => found[i] === undefined);
  };
}
