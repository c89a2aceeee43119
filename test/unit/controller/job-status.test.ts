import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { observeJob } from "../../../src/controller/job-status.ts";

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

  it("is Failed with the Job's reason and the runner container's exit", () => {
    const observed = observeJob(job([{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }]), [
      pod("Failed", { state: { terminated: { exitCode: 2, reason: "Error", message: "cannot reach forgejo\n" } } }),
    ]);
    expect(observed).toMatchObject({
      phase: "Failed",
      reason: "BackoffLimitExceeded",
      message: "The runner pod failed: runner container Error with exit code 2: cannot reach forgejo",
    });
  });

  it("is Failed with DeadlineExceeded when the Job ran out of time", () => {
    expect(
      observeJob(
        job([{ type: "Failed", status: "True", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline" }]),
        [],
      ).reason,
    ).toBe("DeadlineExceeded");
  });

  it("is Running while the runner container runs", () => {
    expect(observeJob(job(), [pod("Running", { state: { running: { startedAt: new Date("2026-01-01T00:00:01Z") } } })])).toMatchObject({
      phase: "Running",
      startedAt: "2026-01-01T00:00:01.000Z",
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
});
