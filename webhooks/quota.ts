// The webhook's check of spec.maxRunners against the namespace's ResourceQuotas on counts: each
// runner takes one pod, Job, runner Secret and ActRunner, so a cap above what a quota allows (or
// none) leaves the runners beyond it waiting for room. What is full right now is the dry-run's
// concern (dry-run.ts); this is about the cap.
import type { V1ResourceQuota } from "@kubernetes/client-node";
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

/** A count quota's limit: "10", or with a decimal SI suffix ("1k"); undefined for anything else. */
export function countLimit(quantity: string): number | undefined {
  const match = /^(\d+)(k|M|G)?$/.exec(quantity.trim());
  if (!match) return undefined;
  return Number(match[1]) * { "": 1, k: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ""]!;
}

/**
 * Warnings for each count quota that leaves room for fewer runners than spec.maxRunners allows.
 * Quotas limited to some pods (scopes, a scopeSelector) are left out: whether they count the
 * runner pods depends on the pods.
 */
export function checkQuotas(maxRunners: number | undefined, quotas: V1ResourceQuota[], verdict: Verdict): void {
  for (const quota of quotas) {
    if (quota.spec?.scopes?.length || quota.spec?.scopeSelector) continue;
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
