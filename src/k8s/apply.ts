// Server-side apply with the operator's field manager: create-or-update in one idempotent call.
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "../api/well-known.ts";

/** `dryRun`: every admission step answers, nothing is stored (the webhook's server-side dry-run). */
export function makeApplier(kc: KubeConfig, options: { dryRun?: boolean } = {}): (object: KubernetesObject) => Promise<KubernetesObject> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const dryRun = options.dryRun ? "All" : undefined;
  return (object) => api.patch(object, undefined, dryRun, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}
