import { RETRY_DELAY_MS, RUNNER_TRIES, actRunnerLabels, actRunnerName, planPoll, type JobListing } from "../../../src/listener/plan.ts";
import type { ActRunner, ForgejoJob } from "../../../src/generated/api.ts";
import { ar, rd } from "../../fixtures/resources.ts";

const owner = rd({ metadata: { name: "rd" } });
/** Where the listener lists jobs: the ActRunner fixture's server and organization, the labels of job() and of the fixture's job. */
const LISTING: JobListing = {
  forgejoServer: ar().spec.forgejoServer,
  scope: { kind: "organization", organization: ar().spec.organization! },
  labelNames: ["x", "ubuntu-22.04"],
};

function job(id: number, overrides: Partial<ForgejoJob> = {}): ForgejoJob {
  return {
    id,
    attempt: 1,
    handle: `handle-${id}`,
    repo_id: 7,
    owner_id: 3,
    name: "build",
    needs: null,
    runs_on: ["x"],
    task_id: 0,
    status: "waiting",
    ...overrides,
  };
}

/** The handle of job `id`'s attempt `attempt` (job() gives attempt 1's; a re-run attempt has a new one). */
function handleOf(id: number, attempt = 1): string {
  return attempt === 1 ? `handle-${id}` : `handle-${id}-${attempt}`;
}

function runner(jobId: number, phase?: NonNullable<ActRunner["status"]>["phase"], attempt = 1): ActRunner {
  const handle = handleOf(jobId, attempt);
  const base = ar({
    metadata: { name: actRunnerName("rd", jobId, attempt) },
    spec: { forgejoJobID: jobId, jobHandle: handle, jobData: { id: jobId, attempt, handle } },
  });
  return phase ? { ...base, status: { phase } } : base;
}

describe("ActRunner names", () => {
  it("is <runnerdeployment>-<job id>-<attempt>", () => {
    expect(actRunnerName("builders", 42, 1)).toBe("builders-42-1");
  });

  it("fits a long RunnerDeployment name into 63 characters, keeping it unique with a hash", () => {
    const long = "a".repeat(60);
    const name = actRunnerName(long, 123456789, 12);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^a+-[0-9a-f]{6}-123456789-12$/);
    expect(actRunnerName(`${"a".repeat(59)}b`, 123456789, 12)).not.toBe(name);
  });

  it("appends -try<n> from a job attempt's second runner on", () => {
    expect(actRunnerName("builders", 42, 1, 1)).toBe("builders-42-1");
    expect(actRunnerName("builders", 42, 1, 2)).toBe("builders-42-1-try2");
    expect(actRunnerName("a".repeat(60), 123456789, 12, 3)).toMatch(/^a+-[0-9a-f]{6}-123456789-12-try3$/);
  });

  it("is deterministic, so restarts and racing listeners make the same name", () => {
    expect(actRunnerName("x".repeat(70), 1, 1)).toBe(actRunnerName("x".repeat(70), 1, 1));
  });

  it("labels carry the RunnerDeployment, job id, attempt, handle and repository", () => {
    expect(actRunnerLabels(owner, job(5, { handle: "3f2a1e9c-8d4b-4c3e-9a7f-1b2c3d4e5f60" }), [])).toMatchObject({
      "forgejo.actions.io/runner-deployment": "rd",
      "forgejo.actions.io/job-id": "5",
      "forgejo.actions.io/job-attempt": "1",
      "forgejo.actions.io/job-handle": "3f2a1e9c-8d4b-4c3e-9a7f-1b2c3d4e5f60",
      "forgejo.actions.io/repository-id": "7",
    });
  });

  it("carry the RunnerDeployment's own labels but excluded prefixes and the operator's keys", () => {
    const labelled = rd({
      metadata: {
        name: "rd",
        labels: {
          team: "platform",
          "cost-center": "ci",
          "argocd.argoproj.io/instance": "runners",
          "app.kubernetes.io/managed-by": "Helm",
          "forgejo.actions.io/job-handle": "not-this-job",
        },
      },
    });
    // A handle that is no label value: the RunnerDeployment's job-handle label must not stand in for it.
    const labels = actRunnerLabels(labelled, job(5, { handle: "not a label value" }), ["argocd.argoproj.io/"]);
    expect(labels).toMatchObject({ team: "platform", "cost-center": "ci", "app.kubernetes.io/managed-by": "forgejo-arc" });
    expect(labels).not.toHaveProperty("argocd.argoproj.io/instance");
    expect(labels).not.toHaveProperty("forgejo.actions.io/job-handle");
  });
});

describe("poll plan", () => {
  it("creates one ActRunner per waiting job, oldest first, and none for running jobs", () => {
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [job(9), job(8, { status: "running", task_id: 3 }), job(3)],
      actRunners: [],
    });
    expect(plan.create.map((c) => c.name)).toEqual(["rd-3-1", "rd-9-1"]);
  });

  it("skips jobs that already have an ActRunner, cached or just created", () => {
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [job(1), job(2), job(3)],
      actRunners: [runner(1)],
      recentlyCreated: ["rd-2-1"],
    });
    expect(plan.create.map((c) => c.name)).toEqual(["rd-3-1"]);
  });

  it("never exceeds maxRunners, counting unfinished ActRunners only", () => {
    const runners = [runner(1, "Running"), runner(2, "Succeeded"), runner(3, "Failed")];
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [job(4), job(5), job(6)],
      actRunners: runners,
      maxRunners: 2,
    });
    expect(plan.create.map((c) => c.name)).toEqual(["rd-4-1"]);
    expect(plan.overCapacity).toBe(2);
    expect(plan.active).toBe(2);
  });

  it("creates no ActRunner while suspended, not counting the jobs as over capacity, and still reports vanished and started jobs", () => {
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [job(1, { status: "running", task_id: 11 }), job(3), job(4)],
      actRunners: [runner(1, "Running"), runner(2, "Running")],
      maxRunners: 5,
      suspended: true,
    });
    expect(plan.create).toEqual([]);
    expect(plan.overCapacity).toBe(0);
    expect(plan.active).toBe(2);
    expect(plan.started).toEqual(["rd-1-1"]);
    expect(plan.vanished).toEqual(["rd-2-1"]);
    expect(planPoll({ runnerDeployment: "rd", listing: LISTING, jobs: [job(3)], actRunners: [], suspended: false }).create).toHaveLength(1);
  });

  it("counts just-created ActRunners the cache has not shown yet against maxRunners", () => {
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [job(1), job(2)],
      actRunners: [],
      recentlyCreated: ["rd-1-1"],
      maxRunners: 1,
    });
    expect(plan.create).toEqual([]);
  });

  it("makes a new ActRunner for a re-run attempt", () => {
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [job(1, { attempt: 2, handle: handleOf(1, 2) })],
      actRunners: [runner(1)],
    });
    expect(plan.create.map((c) => c.name)).toEqual(["rd-1-2"]);
  });

  describe("a job attempt whose job id and attempt an ActRunner of another job attempt has (Forgejo restored or reset, or another server)", () => {
    /** An ActRunner for job 5, attempt 1, of an earlier database (another handle) or of another server (same handle). */
    function earlier(phase: NonNullable<ActRunner["status"]>["phase"] | undefined, spec: Partial<ActRunner["spec"]>): ActRunner {
      const made = runner(5, phase);
      made.spec = { ...made.spec, ...spec };
      return made;
    }
    const fromRestoredDatabase = (phase?: NonNullable<ActRunner["status"]>["phase"]) =>
      earlier(phase, { jobHandle: "handle-before-restore" });
    const fromOldServer = earlier("Succeeded", { forgejoServer: "https://old.example.com" });
    const poll = (actRunners: ActRunner[], recentlyCreated: string[] = []) =>
      planPoll({ runnerDeployment: "rd", listing: LISTING, jobs: [job(5)], actRunners, recentlyCreated, maxRunners: 3 });

    it("gets an ActRunner at once, under its name with a hash of its handle appended", () => {
      const own = actRunnerName("rd", 5, 1, 1, handleOf(5));
      expect(own).toMatch(/^rd-5-1-[0-9a-f]{8}$/);
      expect(actRunnerName("rd", 5, 1, 1, "another-handle")).not.toBe(own);
      expect(poll([fromRestoredDatabase("Succeeded")]).create).toEqual([{ job: job(5), name: own, tryNumber: 1 }]);
      expect(poll([fromOldServer]).create).toEqual([{ job: job(5), name: own, tryNumber: 1 }]);
    });

    it("gets no second one: not while that one is cached, nor just created under either name", () => {
      const own = actRunnerName("rd", 5, 1, 1, handleOf(5));
      const made = runner(5, "Pending");
      made.metadata!.name = own;
      expect(poll([fromRestoredDatabase("Succeeded"), made]).create).toEqual([]);
      expect(poll([fromRestoredDatabase("Succeeded")], [own]).create).toEqual([]);
      // The earlier ActRunner deleted (retention) before the cache shows the one just made.
      expect(poll([], [own]).create).toEqual([]);
    });

    it("reports the earlier database's unfinished ActRunner as vanished, as its attempt is not listed", () => {
      const plan = poll([fromRestoredDatabase("Pending")]);
      expect(plan.vanished).toEqual(["rd-5-1"]);
      expect(plan.create.map((c) => c.name)).toEqual([actRunnerName("rd", 5, 1, 1, handleOf(5))]);
    });
  });

  it("reports unfinished ActRunners that have not picked up a job Forgejo no longer lists as vanished", () => {
    const picked = runner(6, "Running");
    picked.status!.conditions = [
      { type: "PickedUp", status: "True", reason: "PickedUp", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" },
    ];
    const runners = [
      runner(1),
      runner(2, "Pending"),
      runner(3, "Running"),
      runner(4),
      runner(5, undefined, 1),
      picked,
      runner(7, "Succeeded"),
    ];
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [job(2, { status: "running", task_id: 9 }), job(4), job(5, { attempt: 2, handle: handleOf(5, 2) })],
      actRunners: runners,
    });
    // 1: cancelled; 3: its pod waits for a job that is gone; 5: re-run (attempt 2). 6 took its job; 7 is done.
    expect(plan.vanished).toEqual(["rd-1-1", "rd-3-1", "rd-5-1"]);
  });

  it("does not report as vanished an ActRunner whose job the listing would not show: made before the labels, scope or server changed", () => {
    const before = (jobId: number, runsOn: string[], spec: Partial<ActRunner["spec"]> = {}) => {
      const made = runner(jobId, "Pending");
      made.spec = { ...made.spec, ...spec, jobData: { ...made.spec.jobData, runs_on: runsOn } };
      return made;
    };
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: { ...LISTING, labelNames: ["new", "docker"] },
      jobs: [job(9, { runs_on: ["new"] })],
      actRunners: [
        before(1, ["old"]),
        // Asked for, and not listed: cancelled.
        before(2, ["new"]),
        before(3, ["new", "old"]),
        before(4, ["new"], { organization: "elsewhere" }),
        before(5, ["new"], { forgejoServer: "https://old.example.com" }),
      ],
    });
    expect(plan.vanished).toEqual(["rd-2-1"]);
    expect(plan.create.map((c) => c.name)).toEqual(["rd-9-1"]);
  });

  it("reports unfinished ActRunners not yet marked PickedUp whose job attempt Forgejo lists as running as started", () => {
    const picked = runner(3, "Running");
    picked.status!.conditions = [
      { type: "PickedUp", status: "True", reason: "PickedUp", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" },
    ];
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [
        job(1, { status: "running", task_id: 11 }),
        job(2),
        job(3, { status: "running", task_id: 13 }),
        job(4, { status: "running", task_id: 14 }),
        job(5, { attempt: 2, handle: handleOf(5, 2), status: "running", task_id: 15 }),
        job(6, { status: "running", task_id: 16 }),
      ],
      actRunners: [runner(6, "Running"), runner(1, "Running"), runner(2), picked, runner(4, "Failed"), runner(5, "Running", 1)],
    });
    // 2 still waits; 3 is marked already; 4 is done; 5's running attempt is another one's.
    expect(plan.started).toEqual(["rd-1-1", "rd-6-1"]);
    expect(plan.vanished).toEqual(["rd-5-1"]);
  });

  it("reports unfinished ActRunners marked PickedUp whose job attempt Forgejo no longer lists as ended", () => {
    const pickedUp = (jobId: number, phase: NonNullable<ActRunner["status"]>["phase"] = "Running", attempt = 1) => {
      const picked = runner(jobId, phase, attempt);
      picked.status!.conditions = [
        { type: "PickedUp", status: "True", reason: "PickedUp", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" },
      ];
      return picked;
    };
    const deleting = pickedUp(4);
    deleting.metadata!.deletionTimestamp = new Date("2026-01-01T00:01:00Z");
    const elsewhere = pickedUp(6);
    elsewhere.spec = { ...elsewhere.spec, forgejoServer: "https://old.example.com" };
    const plan = planPoll({
      runnerDeployment: "rd",
      listing: LISTING,
      jobs: [job(1, { status: "running", task_id: 11 }), job(7, { attempt: 2, handle: handleOf(7, 2) })],
      actRunners: [pickedUp(1), pickedUp(2), runner(3, "Running"), deleting, pickedUp(5, "Succeeded"), elsewhere, pickedUp(7)],
    });
    // 1 still runs; 3 was not picked up (vanished instead); 4 is being deleted; 5 is done; 6's listing is another server's;
    // 7's attempt 1 ended (attempt 2 waits).
    expect(plan.ended).toEqual(["rd-2-1", "rd-7-1"]);
    expect(plan.vanished).toEqual(["rd-3-1"]);
  });

  describe("another runner for a job whose runner failed before taking it", () => {
    const failedAt = Date.parse("2026-11-28T12:00:00Z");
    /** Try `tryNumber` of job 1, finished at `failedAt` with `reason`. */
    function failedTry(tryNumber: number, reason = "RunnerFailed", pickedUp = false): ActRunner {
      const base = runner(1, "Failed");
      base.metadata!.name = actRunnerName("rd", 1, 1, tryNumber);
      base.status = {
        phase: "Failed",
        reason,
        completedAt: new Date(failedAt).toISOString(),
        conditions: pickedUp
          ? [{ type: "PickedUp", status: "True", reason: "PickedUp", message: "", lastTransitionTime: "2026-11-28T11:59:00Z" }]
          : [],
      };
      return base;
    }
    const plan = (actRunners: ActRunner[], afterMs: number, recentlyCreated: string[] = []) =>
      planPoll({ runnerDeployment: "rd", listing: LISTING, jobs: [job(1)], actRunners, recentlyCreated, now: failedAt + afterMs });

    it("makes the next try once the delay passed, doubling it each time, up to RUNNER_TRIES", () => {
      expect(plan([failedTry(1)], RETRY_DELAY_MS - 1).create).toEqual([]);
      expect(plan([failedTry(1)], RETRY_DELAY_MS).create).toEqual([{ job: job(1), name: "rd-1-1-try2", tryNumber: 2 }]);
      expect(plan([failedTry(1), failedTry(2)], RETRY_DELAY_MS).create).toEqual([]);
      expect(plan([failedTry(1), failedTry(2)], 2 * RETRY_DELAY_MS).create.map((c) => c.name)).toEqual(["rd-1-1-try3"]);
      expect(RUNNER_TRIES).toBe(3);
      expect(plan([failedTry(1), failedTry(2), failedTry(3)], 60 * RETRY_DELAY_MS).create).toEqual([]);
    });

    it("makes none while a try is unfinished or was just created", () => {
      const unfinished = runner(1, "Pending");
      unfinished.metadata!.name = "rd-1-1-try2";
      expect(plan([failedTry(1), unfinished], RETRY_DELAY_MS).create).toEqual([]);
      expect(plan([failedTry(1)], RETRY_DELAY_MS, ["rd-1-1-try2"]).create).toEqual([]);
    });

    it.each([
      ["it waited its whole pickup timeout", failedTry(1, "PickupTimeout")],
      ["another RunnerDeployment's ActRunner serves the job", failedTry(1, "DuplicateJob")],
      ["the runner had taken the job", failedTry(1, "OOMKilled", true)],
    ])("makes none when %s (retention paces those)", (_title, previous) => {
      expect(plan([previous], 60 * RETRY_DELAY_MS).create).toEqual([]);
    });
  });
});
