// Server-side apply with the operator's field manager: create-or-update in one idempotent call.
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "../api/well-known.ts";

export function makeApplier(kc: KubeConfig): (object: KubernetesObject) => Promise<KubernetesObject> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  return (object) => api.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}
