// One runner per Forgejo job attempt, across RunnerDeployments. RunnerDeployments whose label names
// overlap on one Forgejo server all list a job that asks only for shared labels, and each listener
// creates an ActRunner for it. A runner for each would start a pod per ActRunner for one job: one
// takes it, the others wait for it until their pickup timeout, each holding a pod and a place under
// its maxRunners. So an ActRunner claims its job attempt — Forgejo server and job handle (a handle
// names one attempt of one job, whichever scope listed it) — before it registers a runner, and one
// whose attempt another ActRunner serves yields.
//
// Who serves an attempt is what the leading replica knows: the unfinished ActRunners that existed
// when its term began (each has a runner in its status, or may have one; see registrations.ts) and
// those it let register since. A holder that finished, went or is being deleted serves no more.
import { actRunnerAttemptKey } from "../api/overlap.ts";
import { isFinished } from "../listener/plan.ts";
import type { AR } from "./cache.ts";

export interface ActRunnerRef {
  namespace: string;
  name: string;
  uid: string;
}

/** `claimed`: register a runner; `served`: another ActRunner serves the attempt; `wait`: another may be registering one. */
export type Claim = { kind: "claimed" } | { kind: "served" | "wait"; by: ActRunnerRef };

interface Holder {
  ref: ActRunnerRef;
  /** Whether it has a runner is not known yet: its registration has not answered, or it is a suspect (registrations.ts). */
  registering: boolean;
}

export class JobAttempts {
  /** attempt key → ActRunner uid → holder */
  private readonly holders = new Map<string, Map<string, Holder>>();
  private readonly attemptOfUid = new Map<string, string>();
  private readonly serving: (ref: ActRunnerRef) => boolean;

  /** `serving`: whether the ActRunner still exists (same uid), unfinished and not being deleted. */
  constructor(serving: (ref: ActRunnerRef) => boolean) {
    this.serving = serving;
  }

  /**
   * Starts a leadership term with every ActRunner that exists now. One whose status names no runner
   * counts as registering until its pass finds out whether an earlier process made one.
   */
  beginTerm(existing: AR[]): void {
    this.holders.clear();
    this.attemptOfUid.clear();
    for (const ar of existing) if (isUnfinished(ar)) this.hold(ar, ar.status?.runnerId === undefined);
  }

  /** Claims the ActRunner's job attempt for it, unless another ActRunner serves it or is registering for it. */
  claim(ar: AR): Claim {
    const ref = refOf(ar);
    for (const [uid, holder] of this.holders.get(actRunnerAttemptKey(ar)) ?? []) {
      if (uid === ref.uid) continue;
      if (!this.serving(holder.ref)) {
        this.release(uid);
        continue;
      }
      return { kind: holder.registering ? "wait" : "served", by: holder.ref };
    }
    this.hold(ar, true);
    return { kind: "claimed" };
  }

  /** The ActRunner has a runner (registered or adopted): it serves its attempt. */
  registered(ar: AR): void {
    this.hold(ar, false);
  }

  /** The ActRunner has no runner (Forgejo refused to make one, none was found) or is gone. */
  release(uid: string): void {
    const attempt = this.attemptOfUid.get(uid);
    if (attempt === undefined) return;
    this.attemptOfUid.delete(uid);
    const holders = this.holders.get(attempt)!;
    holders.delete(uid);
    if (holders.size === 0) this.holders.delete(attempt);
  }

  private hold(ar: AR, registering: boolean): void {
    const ref = refOf(ar);
    const attempt = actRunnerAttemptKey(ar);
    this.attemptOfUid.set(ref.uid, attempt);
    let holders = this.holders.get(attempt);
    if (!holders) this.holders.set(attempt, (holders = new Map()));
    holders.set(ref.uid, { ref, registering });
  }
}

/** Neither finished nor being deleted. */
export function isUnfinished(ar: AR): boolean {
  return !ar.metadata?.deletionTimestamp && !isFinished(ar);
}

function refOf(ar: AR): ActRunnerRef {
  return { namespace: ar.metadata!.namespace!, name: ar.metadata!.name!, uid: ar.metadata!.uid! };
}
