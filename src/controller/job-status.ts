// What an ActRunner's phase is, read from its batch/v1 Job and the Job's pods. Pure.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { RUNNER_CONTAINER } from "../api/defaults.ts";

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

export function observeJob(job: V1Job, pods: V1Pod[]): ObservedRunner {
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
    const terminated = runner?.state?.terminated;
    const detail = terminated
      ? `runner container ${terminated.reason ?? "terminated"} with exit code ${terminated.exitCode}${terminated.message ? `: ${terminated.message.trim()}` : ""}`
      : (failed.message ?? "the Job failed");
    return {
      phase: "Failed",
      reason: failed.reason ?? "JobFailed",
      message: `The runner pod failed: ${detail}`,
      startedAt,
      completedAt: iso(failed.lastTransitionTime) ?? new Date().toISOString(),
    };
  }
  if (runner?.state?.running || pod?.status?.phase === "Running") {
    return { phase: "Running", reason: "PodRunning", message: `Runner pod ${pod?.metadata?.name} is running`, startedAt };
  }
  const waiting = runner?.state?.waiting ?? pod?.status?.initContainerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
  if (waiting?.reason) {
    return {
      phase: "Pending",
      reason: waiting.reason,
      message: `Runner pod ${pod?.metadata?.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`,
    };
  }
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
    message: pod ? `Runner pod ${pod.metadata?.name} is starting` : "Waiting for the Job to create the runner pod",
  };
}
