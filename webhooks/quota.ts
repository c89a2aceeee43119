// The webhook's check of spec.maxRunners against the namespace's ResourceQuotas: on counts, each
// runner takes one pod, Job, runner Secret and ActRunner; on compute resources (requests.cpu,
// limits.memory, …), what its pod asks for. A cap above what a quota allows (or none) leaves the
// runners beyond it waiting for room, and those that wait past spec.pickupTimeout fail. What is
// full right now is the dry-run's concern (dry-run.ts); this is about the cap.
import type { V1Container, V1PodSpec, V1ResourceQuota } from "@kubernetes/client-node";
import type { Verdict } from "./admission.ts";

/** The namespace's ResourceQuotas (the API server's list). */
export type ResourceQuotas = (namespace: string) => Promise<V1ResourceQuota[]>;

/** The quota resources each runner takes one of, and whether the listener's pod takes one too. */
const PER_RUNNER: { resource: string; what: string; listenerToo: boolean }[] = [
  { resource: "pods", what: "pods", listenerToo: true },
  { resource: "count/pods", what: "pods", listenerToo: true },
  { resource: "count/jobs.batch", what: "Jobs", listenerToo: false },
  { resource: "count/secrets", what: "Secrets", listenerToo: false },
  { resource: "count/actrunners.forgejo.actions.io", what: "ActRunners", listenerToo: false },
];

/** A count quota's limit: a whole number, however written ("10", "2k", "1Ki"); undefined for anything else. */
export function countLimit(text: string): number | undefined {
  const count = quantity(text);
  return count !== undefined && Number.isInteger(count) ? count : undefined;
}

/**
 * Warnings for each count quota that leaves room for fewer runners than spec.maxRunners allows.
 * Quotas limited to some pods (scopes, a scopeSelector) are left out: whether they count the
 * runner pods depends on the pods.
 */
export function checkQuotas(maxRunners: number | undefined, quotas: V1ResourceQuota[], verdict: Verdict, pods?: QuotaPods): void {
  for (const quota of quotas) {
    if (quota.spec?.scopes?.length || quota.spec?.scopeSelector) continue;
    if (pods) checkComputeQuota(maxRunners, quota, pods, verdict);
    for (const { resource, what, listenerToo } of PER_RUNNER) {
      const hard = quota.spec?.hard?.[resource];
      const limit = hard === undefined ? undefined : countLimit(hard);
      if (limit === undefined) continue;
      const room = limit - (listenerToo ? 1 : 0);
      if (maxRunners !== undefined && maxRunners <= room) continue;
      const cap = maxRunners === undefined ? "is not set, so runners are not capped" : `lets ${maxRunners} runners run at once`;
      const listener = listenerToo ? ", one of them the listener's" : "";
      const finished = listenerToo ? "" : ` (finished ones count until spec.retentionAfterFinish has passed)`;
      const fix = room >= 1 ? `set spec.maxRunners to at most ${room}` : "raise the quota";
      verdict.warnings.push(
        `spec.maxRunners ${cap}, but ResourceQuota "${quota.metadata?.name}" allows ${limit} ${what} in this namespace${listener}${finished}, ` +
          `one for each runner: the runners beyond that wait for room; ${fix}`,
      );
    }
  }
}

/** The pods a RunnerDeployment makes — as the dry-run admitted them, else as built: one runner pod per job, and the listener's. */
export interface QuotaPods {
  runner: V1PodSpec;
  listener: V1PodSpec;
}

/** A compute-resource quota key and what it sums over a pod: "requests.cpu" (also plain "cpu"), "limits.memory". */
function computeResource(key: string): { kind: "requests" | "limits"; resource: string } | undefined {
  const match = /^(requests|limits)\.(.+)$/.exec(key);
  if (match) return { kind: match[1] as "requests" | "limits", resource: match[2]! };
  return ["cpu", "memory", "ephemeral-storage"].includes(key) ? { kind: "requests", resource: key } : undefined;
}

/**
 * Warnings for each compute-resource quota that leaves room for fewer runner pods than
 * spec.maxRunners allows, the listener's pod counted first. Pods are counted as the quota counts
 * them (a native sidecar runs beside the containers, an init container before them). The pods as
 * admitted carry a LimitRange's defaults; as built (no dry-run), a container that sets no value
 * counts 0, so a warning is never wrong, at most missed.
 */
function checkComputeQuota(maxRunners: number | undefined, quota: V1ResourceQuota, pods: QuotaPods, verdict: Verdict): void {
  for (const [key, hard] of Object.entries(quota.spec?.hard ?? {})) {
    const measure = computeResource(key);
    const limit = measure && quantity(hard);
    if (!measure || limit === undefined) continue;
    const perRunner = podAmount(pods.runner, measure.kind, measure.resource);
    if (perRunner <= 0) continue;
    const listener = podAmount(pods.listener, measure.kind, measure.resource);
    const room = Math.max(0, Math.floor((limit - listener) / perRunner + 1e-9));
    if (maxRunners !== undefined && maxRunners <= room) continue;
    const cap = maxRunners === undefined ? "is not set, so runners are not capped" : `lets ${maxRunners} runners run at once`;
    const listenerShare = listener > 0 ? ` after the listener's ${shown(measure.resource, listener)}` : "";
    const fix = room >= 1 ? `set spec.maxRunners to at most ${room}, or raise the quota` : "raise the quota";
    verdict.warnings.push(
      `spec.maxRunners ${cap}, but ResourceQuota "${quota.metadata?.name}" allows ${key} ${hard} in this namespace and each runner pod takes ` +
        `${shown(measure.resource, perRunner)}: ${room} fit${listenerShare}; the runners beyond that wait for room, and those that wait past ` +
        `spec.pickupTimeout fail; ${fix}`,
    );
  }
}

/** What a pod takes of a resource, as the quota counts it: requests (a limit alone stands for its request) or limits. */
function podAmount(spec: V1PodSpec, kind: "requests" | "limits", resource: string): number {
  const of = (container: V1Container) => {
    const value = container.resources?.[kind]?.[resource] ?? (kind === "requests" ? container.resources?.limits?.[resource] : undefined);
    return (value === undefined ? undefined : quantity(value)) ?? 0;
  };
  let sidecars = 0;
  let initPeak = 0;
  for (const init of spec.initContainers ?? []) {
    if (init.restartPolicy === "Always") {
      sidecars += of(init);
      initPeak = Math.max(initPeak, sidecars);
    } else initPeak = Math.max(initPeak, sidecars + of(init));
  }
  const containers = spec.containers.reduce((sum, container) => sum + of(container), 0);
  return Math.max(containers + sidecars, initPeak);
}

const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * A Kubernetes quantity ("500m", "1.5Gi", "2e3") as a number, undefined when it is not one. Written
 * here because client-node's quantityToScalar refuses decimals with a suffix ("1.5Gi").
 */
export function quantity(text: string): number | undefined {
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]! + (match[2] ?? "")) * SUFFIXES[match[3] ?? ""]!;
}

/** An amount in the resource's usual unit: cores (or millicores) of cpu, MiB of memory and storage. */
function shown(resource: string, amount: number): string {
  if (resource.endsWith("cpu")) return Number.isInteger(amount) ? `${amount} cpu` : `${Math.round(amount * 1000)}m cpu`;
  if (resource.endsWith("memory") || resource.endsWith("storage")) return `${Math.round((amount / 2 ** 20) * 10) / 10}Mi of ${resource}`;
  return `${amount} ${resource}`;
}
