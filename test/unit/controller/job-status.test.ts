import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { ar } from "../../fixtures/resources.ts";
import {
  exitedAwaitingJob,
  jobGoneOutcome,
  LOG_TAIL_MAX_CHARS,
  nextPodLookInMs,
  notStartedMessage,
  observeJob,
  planPodLook,
  POD_LOOK_AFTER_MS,
  runDurationSeconds,
  sinceLastLook,
} from "../../../src/controller/job-status.ts";

const job = (conditions: object[] = [], extra: object = {}): V1Job =>
  ({ metadata: { uid: "j" }, status: { conditions, ...extra } }) as V1Job;
const pod = (phase: string, runner: object): V1Pod =>
  ({
    metadata: { name: "p", creationTimestamp: new Date() },
    status: { phase, containerStatuses: [{ name: "runner", ...runner }] },
  }) as V1Pod;

describe("observing a runner Job", () => {
  it("is Succeeded when the Job completed", () => {
    const observed = observeJob(
      job([{ type: "Complete", status: "True", lastTransitionTime: new Date("2026-01-01T00:00:10Z") }], {
        completionTime: new Date("2026-01-01T00:00:10Z"),
      }),
      [],
    );
    expect(observed).toMatchObject({ phase: "Succeeded", reason: "Completed", completedAt: "2026-01-01T00:00:10.000Z" });
  });

  it("is Failed with RunnerFailed and the runner container's exit when the runner exited with an error", () => {
    const observed = observeJob(job([{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }]), [
      pod("Failed", { state: { terminated: { exitCode: 2, reason: "Error", message: "cannot reach forgejo\n" } } }),
    ]);
    expect(observed).toMatchObject({
      phase: "Failed",
      reason: "RunnerFailed",
      message: "The runner pod failed: runner container Error with exit code 2: cannot reach forgejo",
    });
  });

  describe("says why the runner pod failed", () => {
    const failedJob = job([
      { type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" },
    ]);
    const failedPod = (status: object): V1Pod => ({ metadata: { name: "p" }, status: { phase: "Failed", ...status } }) as V1Pod;
    const message = (status: object) => observeJob(failedJob, [failedPod(status)]).message;
    const reason = (status: object) => observeJob(failedJob, [failedPod(status)]).reason;

    it("names the memory limit to raise when the runner was OOM-killed", () => {
      const oomKilled = { containerStatuses: [{ name: "runner", state: { terminated: { exitCode: 137, reason: "OOMKilled" } } }] };
      expect(message(oomKilled)).toBe(
        "The runner pod failed: runner container OOMKilled with exit code 137 (out of memory: raise resources.limits.memory of container runner in the RunnerDeployment's spec.runnerTemplate)",
      );
      expect(reason(oomKilled)).toBe("OOMKilled");
    });

    it("puts an eviction or a disruption before the runner's exit", () => {
      expect(
        message({
          reason: "Evicted",
          message: "The node was low on resource: ephemeral-storage. ",
          containerStatuses: [{ name: "runner", state: { terminated: { exitCode: 137, reason: "Error" } } }],
        }),
      ).toBe(
        "The runner pod failed: pod Evicted: The node was low on resource: ephemeral-storage.; runner container Error with exit code 137",
      );
      expect(
        message({
          conditions: [
            {
              type: "DisruptionTarget",
              status: "True",
              reason: "PreemptionByScheduler",
              message: "default-scheduler: preempting to accommodate a higher priority pod",
            },
          ],
        }),
      ).toBe(
        "The runner pod failed: pod disrupted (PreemptionByScheduler): default-scheduler: preempting to accommodate a higher priority pod",
      );
    });

    it("names a Docker sidecar that died, even after a restart", () => {
      expect(
        message({
          initContainerStatuses: [
            { name: "docker", restartCount: 2, state: { running: {} }, lastState: { terminated: { exitCode: 137, reason: "OOMKilled" } } },
          ],
          containerStatuses: [
            { name: "runner", state: { terminated: { exitCode: 1, reason: "Error", message: "Cannot connect to the Docker daemon" } } },
          ],
        }),
      ).toBe(
        "The runner pod failed: docker sidecar OOMKilled with exit code 137 (restarted 2 times) (out of memory: raise resources.limits.memory of container docker in the RunnerDeployment's spec.runnerTemplate); runner container Error with exit code 1: Cannot connect to the Docker daemon",
      );
      // A sidecar that died before the runner ended is named; one the kubelet stopped after it is not, whatever its exit.
      const ended = (docker: number, runner: number) => ({
        initContainerStatuses: [
          { name: "docker", state: { terminated: { exitCode: 143, reason: "Error", finishedAt: new Date(docker * 1000) } } },
        ],
        containerStatuses: [
          { name: "runner", state: { terminated: { exitCode: 1, reason: "Error", finishedAt: new Date(runner * 1000) } } },
        ],
      });
      expect(message(ended(10, 11))).toBe(
        "The runner pod failed: docker sidecar Error with exit code 143; runner container Error with exit code 1",
      );
      expect(message(ended(12, 11))).toBe("The runner pod failed: runner container Error with exit code 1");
    });

    it("names a container or init container of the template that failed, with the end of its log", () => {
      expect(
        message({
          initContainerStatuses: [
            { name: "setup", state: { terminated: { exitCode: 2, reason: "Error", message: "cannot clone the cache\n" } } },
          ],
        }),
      ).toBe("The runner pod failed: init container setup Error with exit code 2: cannot clone the cache");
      expect(
        message({
          containerStatuses: [
            { name: "runner", state: { terminated: { exitCode: 0, reason: "Completed" } } },
            { name: "metrics", state: { terminated: { exitCode: 137, reason: "OOMKilled" } } },
          ],
        }),
      ).toBe(
        "The runner pod failed: container metrics OOMKilled with exit code 137 (out of memory: raise resources.limits.memory of container metrics in the RunnerDeployment's spec.runnerTemplate); runner container Completed with exit code 0",
      );
    });

    it("quotes the last lines of the runner's log, at most LOG_TAIL_MAX_CHARS", () => {
      const log = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n\n";
      expect(
        message({ containerStatuses: [{ name: "runner", state: { terminated: { exitCode: 1, reason: "Error", message: log } } }] }),
      ).toBe(
        `The runner pod failed: runner container Error with exit code 1: ${Array.from({ length: 8 }, (_, i) => `line ${i + 13}`).join("\n")}`,
      );
      const long = `${"x".repeat(2000)}\nlevel=error msg="cannot fetch task: unauthenticated"`;
      const quoted = message({
        containerStatuses: [{ name: "runner", state: { terminated: { exitCode: 1, reason: "Error", message: long } } }],
      });
      expect(quoted.endsWith('level=error msg="cannot fetch task: unauthenticated"')).toBe(true);
      expect(quoted.slice(quoted.indexOf("…"))).toHaveLength(LOG_TAIL_MAX_CHARS);
    });

    it("names the cause in the reason, the most telling first (the Job's own reason says only that the pod failed)", () => {
      const exited = (name: string, exitCode: number, why: string, at = 0) => ({
        name,
        state: { terminated: { exitCode, reason: why, finishedAt: new Date(at * 1000) } },
      });
      const runnerError = exited("runner", 1, "Error", 11);
      const cases: [string, object, string][] = [
        ["evicted", { reason: "Evicted", containerStatuses: [exited("runner", 137, "OOMKilled")] }, "Evicted"],
        ["disrupted", { conditions: [{ type: "DisruptionTarget", status: "True", reason: "DeletionByPodGC" }] }, "PodDisrupted"],
        [
          "disruption withdrawn",
          { conditions: [{ type: "DisruptionTarget", status: "False" }], containerStatuses: [runnerError] },
          "RunnerFailed",
        ],
        ["runner OOM-killed", { containerStatuses: [exited("runner", 137, "OOMKilled")] }, "OOMKilled"],
        [
          "sidecar OOM-killed, restarted",
          {
            initContainerStatuses: [{ name: "docker", state: { running: {} }, lastState: exited("docker", 137, "OOMKilled").state }],
            containerStatuses: [runnerError],
          },
          "OOMKilled",
        ],
        [
          "sidecar died first",
          { initContainerStatuses: [exited("docker", 1, "Error", 10)], containerStatuses: [runnerError] },
          "DockerSidecarFailed",
        ],
        [
          "sidecar stopped after the runner",
          { initContainerStatuses: [exited("docker", 143, "Error", 12)], containerStatuses: [runnerError] },
          "RunnerFailed",
        ],
        [
          "runner ended well, another container failed",
          { containerStatuses: [exited("runner", 0, "Completed"), exited("extra", 1, "Error")] },
          "PodFailed",
        ],
        [
          "another container OOM-killed",
          { containerStatuses: [exited("runner", 0, "Completed"), exited("extra", 137, "OOMKilled")] },
          "OOMKilled",
        ],
        ["a template's init container failed", { initContainerStatuses: [exited("setup", 1, "Error")] }, "PodFailed"],
        ["no container status", {}, "PodFailed"],
      ];
      for (const [what, status, expected] of cases) expect([what, reason(status)]).toEqual([what, expected]);
      expect(observeJob(failedJob, []).reason).toBe("PodDeleted");
    });

    it("says the pod was deleted when none is left of a Job failed on the backoff limit (a failed pod stays)", () => {
      expect(observeJob(failedJob, []).message).toBe(
        "The runner pod failed: its pod is gone, deleted before it ended (kubectl delete pod, a drain or an eviction, its node lost), so its exit is not known; the Job says: Job has reached the specified backoff limit",
      );
    });
  });

  it("is Failed with DeadlineExceeded when the Job ran out of time, in the Job's words (its pods were deleted by the Job controller)", () => {
    expect(
      observeJob(
        job([{ type: "Failed", status: "True", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline" }]),
        [],
      ),
    ).toMatchObject({ reason: "DeadlineExceeded", message: "The runner pod failed: Job was active longer than specified deadline" });
  });

  it("is Running while the runner container runs", () => {
    expect(observeJob(job(), [pod("Running", { state: { running: { startedAt: new Date("2026-01-01T00:00:01Z") } } })])).toMatchObject({
      phase: "Running",
      startedAt: "2026-01-01T00:00:01.000Z",
    });
  });

  it("stays Running once its runner exited, until the Job records the end (never back to Pending)", () => {
    const exited = { state: { terminated: { exitCode: 0, startedAt: new Date("2026-01-01T00:00:01Z"), finishedAt: new Date() } } };
    for (const phase of ["Succeeded", "Running"])
      expect(observeJob(job([], { active: 1, ready: 0 }), [pod(phase, exited)])).toEqual({
        phase: "Running",
        reason: "RunnerExited",
        message: "The runner in pod p exited with code 0; its Job records the end",
        startedAt: "2026-01-01T00:00:01.000Z",
      });
    const evicted = {
      metadata: { name: "p" },
      status: { phase: "Failed", reason: "Evicted", message: "The node was low on resource: memory." },
    } as V1Pod;
    expect(observeJob(job([], { active: 1, ready: 0 }), [evicted])).toEqual({
      phase: "Pending",
      reason: "PodEnded",
      message: "Runner pod p ended (Evicted: The node was low on resource: memory.) before its runner started; its Job records the end",
    });
  });

  it("is Pending with the waiting reason, e.g. an image that cannot be pulled", () => {
    expect(
      observeJob(job(), [pod("Pending", { state: { waiting: { reason: "ImagePullBackOff", message: "back-off pulling image" } } })]),
    ).toMatchObject({
      phase: "Pending",
      reason: "ImagePullBackOff",
      message: "Runner pod p: ImagePullBackOff: back-off pulling image",
    });
  });

  it("is Running from the Job alone when it counts a ready pod, and Pending while its pod is not ready", () => {
    expect(observeJob(job([], { active: 1, ready: 1 }), [])).toMatchObject({ phase: "Running", message: "The runner pod is running" });
    expect(observeJob(job([], { active: 1, ready: 0 }), [])).toMatchObject({ phase: "Pending", message: "The runner pod is starting" });
    expect(observeJob(job([], {}), [])).toMatchObject({ phase: "Pending", message: "Waiting for the Job to create the runner pod" });
    const refused = 'Error creating: pods "r-1-1-x" is forbidden: violates PodSecurity "restricted:latest": privileged';
    expect(observeJob(job([], {}), [], refused)).toEqual({
      phase: "Pending",
      reason: "FailedCreate",
      message: `The Job cannot create the runner pod: ${refused}`,
    });
    // A pod that exists now says more than an older refusal.
    expect(observeJob(job([], { active: 1, ready: 1 }), [], refused)).toMatchObject({ phase: "Running" });
  });

  it("is Pending with the scheduler's reason when the pod cannot be scheduled", () => {
    const unschedulable = {
      metadata: { name: "p" },
      status: {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available" }],
      },
    } as V1Pod;
    expect(observeJob(job([], { active: 1, ready: 0 }), [unschedulable])).toMatchObject({
      phase: "Pending",
      reason: "Unschedulable",
      message: "0/3 nodes are available",
    });
  });
});

describe("a runner that exited before its Job recorded the end", () => {
  const recorded = {
    phase: "Running" as const,
    reason: "RunnerExited",
    message: "The runner in pod p exited with code 0; its Job records the end",
    startedAt: "2026-01-01T00:00:01.000Z",
  };

  it("stands as recorded, so its pods are not read again", () => {
    expect(exitedAwaitingJob(job([], { active: 1, ready: 0 }), recorded)).toEqual(recorded);
  });

  it("gives way once the Job records the end, or for any other recorded state", () => {
    expect(exitedAwaitingJob(job([{ type: "Complete", status: "True" }]), recorded)).toBeUndefined();
    expect(exitedAwaitingJob(job([{ type: "Failed", status: "True" }]), recorded)).toBeUndefined();
    expect(exitedAwaitingJob(job([], { active: 1, ready: 1 }), { ...recorded, reason: "PodRunning" })).toBeUndefined();
    expect(exitedAwaitingJob(job(), undefined)).toBeUndefined();
  });
});

describe("when to read a waiting runner pod", () => {
  const created = Date.parse("2026-01-01T00:00:00Z");
  const waiting = job([], { active: 1, ready: 0 });
  waiting.metadata!.creationTimestamp = new Date(created);

  it("not while its pod is ready or the Job finished", () => {
    const ready = { ...waiting, status: { active: 1, ready: 1 } };
    const failed = { ...waiting, status: { active: 0, conditions: [{ type: "Failed", status: "True" }] } } as V1Job;
    expect(nextPodLookInMs(ready, undefined, created + 60_000)).toBeUndefined();
    expect(nextPodLookInMs(failed, undefined, created + 60_000)).toBeUndefined();
  });

  it("also while the Job has no pod yet (it may be refused one)", () => {
    const noPod = { ...waiting, status: { active: 0 } };
    expect(nextPodLookInMs(noPod, undefined, created + 1_000)).toBe(POD_LOOK_AFTER_MS - 1_000);
  });

  it("first POD_LOOK_AFTER_MS after the Job was made", () => {
    expect(nextPodLookInMs(waiting, undefined, created + 1_000)).toBe(POD_LOOK_AFTER_MS - 1_000);
    expect(nextPodLookInMs(waiting, undefined, created + 60_000)).toBeLessThanOrEqual(0);
  });

  it("then at intervals of half the Job's age at the last look, between POD_LOOK_AFTER_MS and 2 min", () => {
    const after = (lastLookAge: number) => nextPodLookInMs(waiting, created + lastLookAge, created + lastLookAge)!;
    expect(after(10_000)).toBe(POD_LOOK_AFTER_MS);
    expect(after(60_000)).toBe(30_000);
    expect(after(3_600_000)).toBe(120_000);
  });
});

describe("reading the runner pods while mirroring", () => {
  const created = Date.parse("2026-01-01T00:00:00Z");
  const at = (status: object) => ({ ...job([], status), metadata: { uid: "j", creationTimestamp: new Date(created) } }) as V1Job;
  const plan = (status: object, recordedPhase: string | undefined, lastLook: number | undefined, now: number) => {
    const j = at(status);
    return planPodLook(j, observeJob(j, []), recordedPhase, lastLook, now);
  };

  it("reads them when the Job's view changes the recorded phase", () => {
    expect(plan({ active: 1, ready: 1 }, "Pending", undefined, created + 2_000)).toEqual({ now: true, nextInMs: undefined });
    expect(plan({ conditions: [{ type: "Failed", status: "True" }] }, "Running", undefined, created + 2_000).now).toBe(true);
    expect(plan({ conditions: [{ type: "Complete", status: "True" }] }, "Running", undefined, created + 2_000).now).toBe(true);
  });

  it("not while the phase stands and no read is due, and says when the next one is", () => {
    expect(plan({ active: 1, ready: 1 }, "Running", undefined, created + 2_000)).toEqual({ now: false, nextInMs: undefined });
    expect(plan({ active: 1, ready: 0 }, "Pending", undefined, created + 2_000)).toEqual({
      now: false,
      nextInMs: POD_LOOK_AFTER_MS - 2_000,
    });
  });

  it("while the pod waits, when a read is due, with the one after it", () => {
    expect(plan({ active: 1, ready: 0 }, "Pending", undefined, created + POD_LOOK_AFTER_MS)).toEqual({
      now: true,
      nextInMs: POD_LOOK_AFTER_MS,
    });
    expect(plan({ active: 1, ready: 0 }, "Pending", created + POD_LOOK_AFTER_MS, created + 15_000).now).toBe(false);
  });

  it("keeps what the last read found between reads (no flapping back to the Job's coarser reason)", () => {
    const fromJob = observeJob(at({ active: 1, ready: 0 }), []);
    expect(sinceLastLook(fromJob, { reason: "Unschedulable", message: "0/3 nodes are available" })).toEqual({
      phase: "Pending",
      reason: "Unschedulable",
      message: "0/3 nodes are available",
    });
    expect(sinceLastLook(fromJob, undefined)).toEqual({ phase: "Pending", reason: "PodPending", message: "The runner pod is starting" });
  });
});

describe("how long a runner ran", () => {
  it("is the time from startedAt to completedAt", () => {
    expect(runDurationSeconds({ startedAt: "2026-11-28T10:00:00Z", completedAt: "2026-11-28T10:03:30Z" })).toBe(210);
    expect(runDurationSeconds({ startedAt: "2026-11-28T10:00:00Z", completedAt: "2026-11-28T10:00:00Z" })).toBe(0);
  });

  it("is unknown for a runner that never started, an unfinished one, or times out of order", () => {
    expect(runDurationSeconds(undefined)).toBeUndefined();
    expect(runDurationSeconds({ completedAt: "2026-11-28T10:03:30Z" })).toBeUndefined();
    expect(runDurationSeconds({ startedAt: "2026-11-28T10:00:00Z" })).toBeUndefined();
    expect(runDurationSeconds({ startedAt: "2026-11-28T10:05:00Z", completedAt: "2026-11-28T10:03:30Z" })).toBeUndefined();
    expect(runDurationSeconds({ startedAt: "not a time", completedAt: "2026-11-28T10:03:30Z" })).toBeUndefined();
  });
});

describe("an ActRunner whose Job is gone", () => {
  const created = new Date("2026-01-01T00:00:00Z");
  const condition = (type: string) => ({
    type,
    status: "True" as const,
    reason: type,
    message: "",
    lastTransitionTime: created.toISOString(),
  });
  const gone = (conditions: ReturnType<typeof condition>[], pickupTimeout?: string) =>
    ar({ spec: { pickupTimeout }, status: { phase: "Running", kubernetesJobName: "builders-42-1", conditions } });

  it("fails JobDeleted after its runner took the job, whenever that was", () => {
    expect(jobGoneOutcome(gone([condition("JobCreated"), condition("PickedUp")], "1m"), created.getTime() + 3_600_000)).toEqual({
      reason: "JobDeleted",
      message:
        "Job builders-42-1 was deleted while its runner ran Forgejo job 42; its pod stops, and its runner reports the job cancelled to Forgejo",
    });
  });

  it("fails JobDeleted before the pickup deadline, saying the listener tries again", () => {
    expect(jobGoneOutcome(gone([condition("JobCreated")]), created.getTime() + 599_000)).toEqual({
      reason: "JobDeleted",
      message:
        "Job builders-42-1 was deleted before its runner took Forgejo job 42; while the job waits, the listener starts another runner for it",
    });
  });

  it("ends PickupTimeout once the pickup deadline passed: the controller's own stop, cut off before its status write", () => {
    expect(jobGoneOutcome(gone([condition("JobCreated")], "2m"), created.getTime() + 120_000)).toEqual({
      reason: "PickupTimeout",
      message: "The runner did not pick up Forgejo job 42 within 2m (spec.pickupTimeout)",
    });
    expect(jobGoneOutcome(gone([condition("JobCreated")], "2m"), created.getTime() + 119_000).reason).toBe("JobDeleted");
  });
});

describe("notStartedMessage", () => {
  const waiting = ar({ spec: { pickupTimeout: "15m" } });

  it("says what the pod last waited for, and for an unschedulable pod that a node autoscaler may need more time", () => {
    const unschedulable = {
      phase: "Pending" as const,
      reason: "Unschedulable",
      message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
    };
    expect(notStartedMessage(waiting, unschedulable)).toBe(
      "The runner pod did not start within 15m (spec.pickupTimeout), so it never asked for Forgejo job 42: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu. " +
        "Where a node autoscaler adds nodes for runner pods, make spec.pickupTimeout longer than a new node takes to become ready",
    );
    const pulling = { phase: "Pending" as const, reason: "ImagePullBackOff", message: "Runner pod p: ImagePullBackOff" };
    expect(notStartedMessage(waiting, pulling)).toBe(
      "The runner pod did not start within 15m (spec.pickupTimeout), so it never asked for Forgejo job 42: Runner pod p: ImagePullBackOff",
    );
  });
});
