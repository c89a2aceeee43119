// What an ActRunner's phase is, read from its batch/v1 Job and, when they were fetched, the Job's
// pods; when the controller, which does not watch runner pods, should fetch them; and how an
// ActRunner whose Job is gone ends. Pure.
import type { V1ContainerStateTerminated, V1ContainerStatus, V1Job, V1JobCondition, V1Pod, V1PodCondition } from "@kubernetes/client-node";
import { DOCKER_CONTAINER, RUNNER_CONTAINER } from "../api/defaults.ts";
import type { ActRunner } from "../generated/api.ts";
import { pickedUp } from "../listener/plan.ts";
import { findCondition } from "./conditions.ts";
import { pickupTimeout, pickupTimeoutMs } from "./runner-job.ts";

export interface ObservedRunner {
  phase: "Pending" | "Running" | "Succeeded" | "Failed";
  reason: string;
  message: string;
  startedAt?: string;
  completedAt?: string;
}

function iso(value: Date | string | undefined): string | undefined {
  return value === undefined ? undefined : new Date(value).toISOString();
}

/** A runner Job whose pod is not ready has its pods read this long after the Job was made, to say why. */
export const POD_LOOK_AFTER_MS = 10_000;
const POD_LOOK_MAX_INTERVAL_MS = 120_000;

/** Whether the Job has ended: Complete or Failed. */
export function jobEnded(job: V1Job): boolean {
  return job.status?.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True") ?? false;
}

/**
 * Milliseconds until the pods of a runner Job that waits for a ready pod should be read (≤ 0: now),
 * or undefined while there is nothing to look at (a pod is ready, or the Job finished). A Job still
 * without a pod is looked at too: its pod may be refused (quota, Pod Security admission). Looks come
 * POD_LOOK_AFTER_MS after the Job was made, then at intervals of half the Job's age at the last
 * look (at least POD_LOOK_AFTER_MS, at most 2 min): a pod stuck for long costs a read every 2 min.
 */
export function nextPodLookInMs(job: V1Job, lastLook: number | undefined, now: number): number | undefined {
  if (jobEnded(job) || (job.status?.ready ?? 0) > 0) return undefined;
  const created = new Date(job.metadata?.creationTimestamp ?? now).getTime();
  const next =
    lastLook === undefined
      ? created + POD_LOOK_AFTER_MS
      : lastLook + Math.min(Math.max((lastLook - created) / 2, POD_LOOK_AFTER_MS), POD_LOOK_MAX_INTERVAL_MS);
  return next - now;
}

export interface PodLook {
  /** Read the Job's pods now. */
  now: boolean;
  /** Milliseconds until the next read while the pod waits (after this one, when `now`). */
  nextInMs?: number;
}

/**
 * Whether mirroring should read the runner pods, which the controller does not watch: when the
 * Job's own view changes the recorded phase (Running names the pod and its start, Failed the
 * runner container's exit, Succeeded the start), and while the pod waits at the times
 * nextPodLookInMs gives, to say why. `fromJob` is observeJob(job, []).
 */
export function planPodLook(
  job: V1Job,
  fromJob: ObservedRunner,
  recordedPhase: string | undefined,
  lastLook: number | undefined,
  now: number,
): PodLook {
  const untilLook = fromJob.phase === "Pending" ? nextPodLookInMs(job, lastLook, now) : undefined;
  const look = fromJob.phase !== recordedPhase || (untilLook !== undefined && untilLook <= 0);
  if (!look) return { now: false, nextInMs: untilLook };
  const next = fromJob.phase === "Pending" ? nextPodLookInMs(job, now, now) : undefined;
  return { now: true, nextInMs: next };
}

/**
 * A runner that exited (RunnerExited) while its Job has not recorded the end yet: its pods tell no
 * more, so the recorded view stands and they are not read again; the Job's watch event brings the end.
 */
export function exitedAwaitingJob(job: V1Job, recorded: ActRunner["status"]): ObservedRunner | undefined {
  if (recorded?.phase !== "Running" || recorded.reason !== "RunnerExited" || jobEnded(job)) return undefined;
  return { phase: "Running", reason: recorded.reason, message: recorded.message ?? "", startedAt: recorded.startedAt };
}

/** Between reads of the pods, what the last read found stands; the Job only confirms the phase. */
export function sinceLastLook(fromJob: ObservedRunner, recorded: { reason?: string; message?: string } | undefined): ObservedRunner {
  return { phase: fromJob.phase, reason: recorded?.reason ?? fromJob.reason, message: recorded?.message ?? fromJob.message };
}

/**
 * With no pods given, the Job's own counts decide: a ready pod is a running runner.
 * `podCreationError`: why the Job could not create its pod (its latest FailedCreate Event), when it has none.
 */
export function observeJob(job: V1Job, pods: V1Pod[], podCreationError?: string): ObservedRunner {
  const conditions = job.status?.conditions ?? [];
  const pod = [...pods].sort((a, b) => String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)))[0];
  const runner = pod?.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER);
  const startedAt = iso(
    runner?.state?.running?.startedAt ?? runner?.state?.terminated?.startedAt ?? pod?.status?.startTime ?? job.status?.startTime,
  );
  const complete = conditions.find((c) => c.type === "Complete" && c.status === "True");
  if (complete) {
    return {
      phase: "Succeeded",
      reason: "Completed",
      message: "The runner pod finished its job",
      startedAt,
      completedAt: iso(job.status?.completionTime ?? complete.lastTransitionTime),
    };
  }
  const failed = conditions.find((c) => c.type === "Failed" && c.status === "True");
  if (failed) {
    return {
      phase: "Failed",
      reason: failed.reason === "DeadlineExceeded" ? failed.reason : podFailureReason(pod),
      message: `The runner pod failed: ${failureDetail(pod, failed)}`,
      startedAt,
      completedAt: iso(failed.lastTransitionTime) ?? new Date().toISOString(),
    };
  }
  // The pod ended and the Job records it moments later (Complete or Failed): no step back to Pending.
  const runnerExit = runner?.state?.terminated;
  if (runnerExit) {
    return {
      phase: "Running",
      reason: "RunnerExited",
      message: `The runner in pod ${pod?.metadata?.name} exited with code ${runnerExit.exitCode}; its Job records the end`,
      startedAt,
    };
  }
  if (pod?.status?.phase === "Succeeded" || pod?.status?.phase === "Failed") {
    const why = pod.status.reason ? withMessage(` (${pod.status.reason}`, pod.status.message) + ")" : "";
    return {
      phase: "Pending",
      reason: "PodEnded",
      message: `Runner pod ${pod.metadata?.name} ended${why} before its runner started; its Job records the end`,
    };
  }
  if (runner?.state?.running || pod?.status?.phase === "Running") {
    return { phase: "Running", reason: "PodRunning", message: `Runner pod ${pod?.metadata?.name} is running`, startedAt };
  }
  if (!pod && (job.status?.ready ?? 0) > 0)
    return { phase: "Running", reason: "PodRunning", message: "The runner pod is running", startedAt };
  const waiting = runner?.state?.waiting ?? pod?.status?.initContainerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
  if (waiting?.reason) {
    return {
      phase: "Pending",
      reason: waiting.reason,
      message: withMessage(`Runner pod ${pod?.metadata?.name}: ${waiting.reason}`, waiting.message),
    };
  }
  if (!pod && (job.status?.active ?? 0) === 0 && podCreationError)
    return { phase: "Pending", reason: "FailedCreate", message: `The Job cannot create the runner pod: ${podCreationError}` };
  const unschedulable = pod?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unschedulable)
    return {
      phase: "Pending",
      reason: unschedulable.reason ?? "Unschedulable",
      message: unschedulable.message ?? "The runner pod cannot be scheduled",
    };
  return {
    phase: "Pending",
    reason: "PodPending",
    message: pod
      ? `Runner pod ${pod.metadata?.name} is starting`
      : (job.status?.active ?? 0) > 0
        ? "The runner pod is starting"
        : "Waiting for the Job to create the runner pod",
  };
}

/** Quoted log lines (a failed container's, kept by the kubelet with FallbackToLogsOnError, or a runner's stopped at its pickup timeout) are cut to this length and count. */
export const LOG_TAIL_MAX_CHARS = 600;
export const LOG_TAIL_MAX_LINES = 8;

/** The Failed reasons of a runner whose pod failed; a closed set, as they label forgejo_arc_actrunners_finished_total. */
export const POD_FAILURE_REASONS = [
  "PodDeleted",
  "Evicted",
  "PodDisrupted",
  "OOMKilled",
  "DockerSidecarFailed",
  "RunnerFailed",
  "PodFailed",
] as const;

/**
 * Why a runner's pod failed — the Job's own reason, BackoffLimitExceeded with backoffLimit 0, says
 * only that it did — from what failureDetail reads first.
 */
export function podFailureReason(pod: V1Pod | undefined): (typeof POD_FAILURE_REASONS)[number] {
  if (!pod) return "PodDeleted";
  if (pod.status?.reason === "Evicted") return "Evicted";
  if (disruptionOf(pod)) return "PodDisrupted";
  const { runnerExit, dockerExit, others } = containerEnds(pod);
  if ([dockerExit, runnerExit, ...others.map((other) => other.exit)].some((exit) => exit?.reason === "OOMKilled")) return "OOMKilled";
  if (dockerExit) return "DockerSidecarFailed";
  if (runnerExit && runnerExit.exitCode !== 0) return "RunnerFailed";
  return "PodFailed";
}

/**
 * Why a failed runner pod failed, most telling first: the pod's own reason (Evicted, …) or
 * disruption (preempted, drained), then a Docker sidecar that died, then the runner container's exit
 * with the end of its log; for an OOM kill, which memory limit to raise. Without the pod, the Job's
 * message, or that the pod was deleted (podGone).
 */
function failureDetail(pod: V1Pod | undefined, jobFailed: V1JobCondition): string {
  if (!pod && jobFailed.reason === "BackoffLimitExceeded") return podGone(jobFailed.message);
  const parts: string[] = [];
  if (pod?.status?.reason) parts.push(withMessage(`pod ${pod.status.reason}`, pod.status.message));
  const disruption = disruptionOf(pod);
  if (disruption) parts.push(withMessage(`pod disrupted (${disruption.reason ?? "DisruptionTarget"})`, disruption.message));
  const { runnerExit, docker, dockerExit, others } = containerEnds(pod);
  if (dockerExit) {
    const restarts = docker?.restartCount ? ` (restarted ${docker.restartCount} times)` : "";
    parts.push(describeExit(`${DOCKER_CONTAINER} sidecar`, DOCKER_CONTAINER, dockerExit, restarts));
  }
  for (const { label, name, exit } of others) parts.push(withMessage(describeExit(label, name, exit), logTail(exit.message)));
  if (runnerExit)
    parts.push(withMessage(describeExit(`${RUNNER_CONTAINER} container`, RUNNER_CONTAINER, runnerExit), logTail(runnerExit.message)));
  return parts.length > 0 ? parts.join("; ") : (jobFailed.message ?? "the Job failed");
}

function disruptionOf(pod: V1Pod | undefined): V1PodCondition | undefined {
  return pod?.status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True");
}

/**
 * The runner container's end, the Docker sidecar's status and its end if it may have caused the
 * runner's (sidecarDeath), and the failed ends of the containers and init containers a template adds.
 */
function containerEnds(pod: V1Pod | undefined) {
  const runnerExit = pod?.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER)?.state?.terminated;
  const docker = pod?.status?.initContainerStatuses?.find((c) => c.name === DOCKER_CONTAINER);
  const failedEnd = (label: string) => (status: V1ContainerStatus) => {
    const exit = status.state?.terminated;
    return exit && (exit.exitCode !== 0 || exit.reason === "OOMKilled")
      ? [{ label: `${label} ${status.name}`, name: status.name, exit }]
      : [];
  };
  const others = [
    ...(pod?.status?.initContainerStatuses ?? []).filter((c) => c.name !== DOCKER_CONTAINER).flatMap(failedEnd("init container")),
    ...(pod?.status?.containerStatuses ?? []).filter((c) => c.name !== RUNNER_CONTAINER).flatMap(failedEnd("container")),
  ];
  return { runnerExit, docker, dockerExit: sidecarDeath(docker, runnerExit), others };
}

/**
 * A pod that failed stays (the Job controller only takes its finalizer off); one that is gone when
 * its Job failed on the backoff limit was deleted, and a deleted pod's exit is not kept.
 */
function podGone(jobMessage: string | undefined): string {
  return withMessage(
    "its pod is gone, deleted before it ended (kubectl delete pod, a drain or an eviction, its node lost), so its exit is not known; the Job says",
    jobMessage,
  );
}

/** "<text>: <message>", or the text alone without a message. */
function withMessage(text: string, message: string | undefined): string {
  return message?.trim() ? `${text}: ${message.trim()}` : text;
}

/** "runner container OOMKilled with exit code 137 (out of memory: raise …)"; `detail` goes before the hint. */
function describeExit(label: string, container: string, exit: V1ContainerStateTerminated, detail = ""): string {
  const oomHint =
    exit.reason === "OOMKilled"
      ? ` (out of memory: raise resources.limits.memory of container ${container} in the RunnerDeployment's spec.runnerTemplate)`
      : "";
  return `${label} ${exit.reason ?? "terminated"} with exit code ${exit.exitCode}${detail}${oomHint}`;
}

/**
 * The sidecar's failed end, if one may have caused the runner's: its current end when OOM-killed or
 * failed no later than the runner ended (the kubelet stops it after the runner, and that exit is no
 * cause), else a crash it restarted from.
 */
function sidecarDeath(
  sidecar: V1ContainerStatus | undefined,
  runnerExit: V1ContainerStateTerminated | undefined,
): V1ContainerStateTerminated | undefined {
  const failed = (exit: V1ContainerStateTerminated | undefined): exit is V1ContainerStateTerminated =>
    exit !== undefined && (exit.reason === "OOMKilled" || exit.exitCode !== 0);
  const runnerEnd = runnerExit?.finishedAt ? new Date(runnerExit.finishedAt).getTime() : Infinity;
  const current = sidecar?.state?.terminated;
  if (failed(current) && (current.reason === "OOMKilled" || new Date(current.finishedAt ?? 0).getTime() <= runnerEnd)) return current;
  const previous = sidecar?.lastState?.terminated;
  return failed(previous) ? previous : undefined;
}

/** The end of a log (or of a termination message, which with FallbackToLogsOnError is the log's end): its last lines, at most LOG_TAIL_MAX_CHARS. */
export function logTail(message: string | undefined): string {
  const lines = (message ?? "")
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== "");
  const tail = lines.slice(-LOG_TAIL_MAX_LINES).join("\n");
  return tail.length > LOG_TAIL_MAX_CHARS ? `…${tail.slice(-(LOG_TAIL_MAX_CHARS - 1))}` : tail;
}

/** Seconds from the runner pod starting to the ActRunner finishing; undefined when it never started (or the times are not in order). */
export function runDurationSeconds(status: { startedAt?: string; completedAt?: string } | undefined): number | undefined {
  if (!status?.startedAt || !status.completedAt) return undefined;
  const seconds = (new Date(status.completedAt).getTime() - new Date(status.startedAt).getTime()) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/**
 * Why a runner whose pod never started is stopped at its pickup timeout: what its pod last waited
 * for, and for a pod no node could take, that a node autoscaler may need longer than the timeout.
 */
export function notStartedMessage(ar: ActRunner, observed: ObservedRunner): string {
  const timeout = pickupTimeout(ar);
  const text = `The runner pod did not start within ${timeout} (spec.pickupTimeout), so it never asked for Forgejo job ${ar.spec.forgejoJobID}: ${observed.message}`;
  if (observed.reason !== "Unschedulable") return text;
  return `${text.replace(/\.$/, "")}. Where a node autoscaler adds nodes for runner pods, make spec.pickupTimeout longer than a new node takes to become ready`;
}

/**
 * How an unfinished ActRunner ends whose Job, named in its status, is gone: `JobDeleted` (deleted
 * from outside; before the runner took its job the listener starts another try), or `PickupTimeout`
 * when its pickup deadline has passed — the controller's own stop, cut off before its status write.
 */
export function jobGoneOutcome(ar: ActRunner, now: number): { reason: "JobDeleted" | "PickupTimeout"; message: string } {
  const job = ar.status?.kubernetesJobName;
  const forgejoJob = `Forgejo job ${ar.spec.forgejoJobID}`;
  if (pickedUp(ar))
    return {
      reason: "JobDeleted",
      message: `Job ${job} was deleted while its runner ran ${forgejoJob}; its pod stops, and its runner reports the job cancelled to Forgejo`,
    };
  const created = findCondition(ar.status?.conditions, "JobCreated");
  const jobCreated = created?.status === "True" ? created.lastTransitionTime : undefined;
  if (jobCreated && now >= new Date(jobCreated).getTime() + pickupTimeoutMs(ar)) {
    const timeout = pickupTimeout(ar);
    return { reason: "PickupTimeout", message: `The runner did not pick up ${forgejoJob} within ${timeout} (spec.pickupTimeout)` };
  }
  return {
    reason: "JobDeleted",
    message: `Job ${job} was deleted before its runner took ${forgejoJob}; while the job waits, the listener starts another runner for it`,
  };
}
