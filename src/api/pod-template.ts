// Merges a user's pod template onto the operator's default pod: maps merge key by key, containers,
// init containers, volumes and image pull Secrets by name, tolerations by taint key and effect, env
// by name, volume mounts by mount path, ports by container port (the listener's probes go by its
// port's name); any other field of the template replaces the default's.
import type { V1Container, V1PodSpec, V1PodTemplateSpec } from "@kubernetes/client-node";
import type { PodTemplate } from "../generated/api.ts";

/** `identity`: a property name, or a function giving the identity of an item (compared with ===). */
function mergeByKey<T>(
  base: T[] | undefined,
  overlay: T[] | undefined,
  identity: keyof T | ((item: T) => unknown),
  merge: (a: T, b: T) => T,
): T[] | undefined {
  if (!overlay) return base;
  if (!base) return overlay;
  const id = typeof identity === "function" ? identity : (item: T) => item[identity];
  const result = base.map((item) => {
    const match = overlay.find((o) => id(o) === id(item));
    return match ? merge(item, match) : item;
  });
  for (const item of overlay) if (!base.some((b) => id(b) === id(item))) result.push(item);
  return result;
}

export function mergeContainer(base: V1Container, overlay: V1Container): V1Container {
  return {
    ...base,
    ...overlay,
    env: mergeByKey(base.env, overlay.env, "name", (_, o) => o),
    volumeMounts: mergeByKey(base.volumeMounts, overlay.volumeMounts, "mountPath", (_, o) => o),
    ports: mergeByKey(base.ports, overlay.ports, "containerPort", (_, o) => o),
    securityContext: base.securityContext || overlay.securityContext ? { ...base.securityContext, ...overlay.securityContext } : undefined,
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function mergePodSpec(base: V1PodSpec, overlay: Partial<V1PodSpec> | undefined): V1PodSpec {
  if (!overlay) return base;
  const merged: V1PodSpec = {
    ...base,
    ...overlay,
    containers: mergeByKey(base.containers, overlay.containers, "name", mergeContainer) ?? [],
    initContainers: mergeByKey(base.initContainers, overlay.initContainers, "name", mergeContainer),
    volumes: mergeByKey(base.volumes, overlay.volumes, "name", (_, o) => o),
    imagePullSecrets: mergeByKey(base.imagePullSecrets, overlay.imagePullSecrets, "name", (_, o) => o),
    tolerations: mergeByKey(
      base.tolerations,
      overlay.tolerations,
      (t) => `${t.key ?? ""}:${t.effect ?? ""}`,
      (_, o) => o,
    ),
  };
  merged.containers = merged.containers.map(withoutUndefined);
  if (merged.initContainers) merged.initContainers = merged.initContainers.map(withoutUndefined);
  return withoutUndefined(merged);
}

export function mergePodTemplate(base: V1PodTemplateSpec, overlay: PodTemplate | undefined): V1PodTemplateSpec {
  if (!overlay) return base;
  const labels = { ...base.metadata?.labels, ...overlay.metadata?.labels };
  const annotations = { ...base.metadata?.annotations, ...overlay.metadata?.annotations };
  return {
    metadata: withoutUndefined({
      ...base.metadata,
      labels: Object.keys(labels).length > 0 ? labels : undefined,
      annotations: Object.keys(annotations).length > 0 ? annotations : undefined,
    }),
    spec: mergePodSpec(base.spec ?? { containers: [] }, overlay.spec),
  };
}
