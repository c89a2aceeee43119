// The RunnerDeployment's RunnersHealthy condition: whether its runners keep failing, read from the
// finished ActRunners it still keeps (spec.retentionAfterFinish), so that `kubectl describe rd`
// says what the failing-runners alert says, and why, without Prometheus. Pure.
import type { ActRunner } from "../generated/api.ts";
import type { ConditionInput } from "./conditions.ts";

/**
 * Ends that are no fault of the runners: a job cancelled or re-run, a Job or runner Secret deleted
 * from outside, a job another ActRunner serves. The ForgejoArcRunnersFailing alert leaves out the same.
 */
export const NOT_RUNNER_FAILURES: ReadonlySet<string> = new Set(["JobVanished", "JobDeleted", "RunnerSecretDeleted", "DuplicateJob"]);

/** This many failures in a row, with no success between them, make RunnersHealthy False. */
export const FAILURES_IN_A_ROW = 3;

const MESSAGE_MAX_CHARS = 400;

/**
 * False when the latest FAILURES_IN_A_ROW runners that ended on their own account all failed,
 * naming the latest; True once one succeeds (or fewer failed in a row); undefined while none of the
 * ActRunners kept ended so, which leaves the condition as it was.
 */
export function runnersHealthy(actRunners: ActRunner[]): ConditionInput | undefined {
  const ended = actRunners
    .filter((ar) => ar.status?.completedAt !== undefined && ar.status.phase !== undefined)
    .filter(
      (ar) => ar.status!.phase === "Succeeded" || (ar.status!.phase === "Failed" && !NOT_RUNNER_FAILURES.has(ar.status!.reason ?? "")),
    )
    .sort((a, b) => b.status!.completedAt!.localeCompare(a.status!.completedAt!));
  if (ended.length === 0) return undefined;
  const latest = ended.slice(0, FAILURES_IN_A_ROW);
  if (latest.length < FAILURES_IN_A_ROW || latest.some((ar) => ar.status!.phase === "Succeeded"))
    return {
      type: "RunnersHealthy",
      status: "True",
      reason: "NotFailing",
      message: `Fewer than ${FAILURES_IN_A_ROW} of its latest runners failed in a row`,
    };
  const [last] = latest;
  const why = `${last!.status!.reason}: ${last!.status!.message ?? ""}`.trim();
  return {
    type: "RunnersHealthy",
    status: "False",
    reason: last!.status!.reason ?? "Failed",
    message: `Its latest ${FAILURES_IN_A_ROW} runners failed; the last, ActRunner ${last!.metadata!.name}, ${
      why.length > MESSAGE_MAX_CHARS ? `${why.slice(0, MESSAGE_MAX_CHARS - 1)}…` : why
    }`,
  };
}
