import { isDeepStrictEqual } from "node:util";
import { Registry } from "prom-client";
import type { AR, ClusterCache, RD } from "../../../src/controller/cache.ts";
import { ControllerMetrics } from "../../../src/controller/metrics.ts";
import { ar, rd } from "../../fixtures/resources.ts";

let uids = 0;

/** A RunnerDeployment with a uid of its own, as the API server gives each object. */
function rdNamed(name: string): RD {
  return rd({ metadata: { name, uid: `uid-${++uids}` } }) as RD;
}

function runnerOf(owner: RD, name: string): AR {
  return ar({
    metadata: {
      name,
      creationTimestamp: new Date(Date.now() - 5_000),
      ownerReferences: [
        { apiVersion: "forgejo.actions.io/v1alpha1", kind: "RunnerDeployment", name: owner.metadata!.name!, uid: owner.metadata!.uid! },
      ],
    },
    status: {
      phase: "Succeeded",
      reason: "Completed",
      startedAt: new Date(Date.now() - 4_000).toISOString(),
      completedAt: new Date().toISOString(),
    },
  }) as AR;
}

/** Metrics over a cache holding `present` RunnerDeployments (changed by the test) and `actRunners`. */
function metricsOver(present: Map<string, RD>, actRunners: AR[] = []) {
  const registry = new Registry();
  const cache = {
    runnerDeployments: { get: (name: string) => present.get(name), list: () => [...present.values()] },
    actRunners: { list: () => actRunners },
  } as unknown as Pick<ClusterCache, "runnerDeployments" | "actRunners">;
  return { registry, metrics: new ControllerMetrics(registry, cache) };
}

/** The value of metric `name` (a histogram's `_count` too) at exactly `labels`, or undefined when there is no such series. */
async function valueOf(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const base = name.replace(/_count$/, "");
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === base);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number>; metricName?: string }[];
  return values.find((v) => (v.metricName ?? base) === name && isDeepStrictEqual(v.labels, labels))?.value;
}

/** Every line of the registry's text that carries the RunnerDeployment's label. */
async function seriesOf(registry: Registry, name: string): Promise<string[]> {
  return (await registry.metrics()).split("\n").filter((line) => line.includes(`runner_deployment="${name}"`));
}

function record(metrics: ControllerMetrics, runner: AR): void {
  metrics.jobCreated(runner);
  metrics.phaseChanged(runner, "Running");
  metrics.phaseChanged(runner, "Succeeded");
  metrics.cleanupAbandoned();
}

describe("ControllerMetrics", () => {
  it("exports the abandoned cleanups at 0 before the first, so that an alert on its increase sees the first", async () => {
    const { registry } = metricsOver(new Map());
    expect(await valueOf(registry, "forgejo_arc_runner_cleanups_abandoned_total", {})).toBe(0);
  });

  it("records an ActRunner's queue times, finish and run duration by its RunnerDeployment", async () => {
    const a1 = rdNamed("a");
    const { registry, metrics } = metricsOver(new Map([["a", a1]]));
    record(metrics, runnerOf(a1, "a-1-1"));
    const a = { runner_deployment_namespace: "ci", runner_deployment: "a" };
    expect(await valueOf(registry, "forgejo_arc_queue_to_job_seconds_count", a)).toBe(1);
    expect(await valueOf(registry, "forgejo_arc_queue_to_running_seconds_count", a)).toBe(1);
    expect(await valueOf(registry, "forgejo_arc_actrunners_finished_total", { ...a, phase: "Succeeded", reason: "Completed" })).toBe(1);
    expect(await valueOf(registry, "forgejo_arc_runner_run_duration_seconds_count", { ...a, phase: "Succeeded" })).toBe(1);
    expect(await valueOf(registry, "forgejo_arc_runner_cleanups_abandoned_total", {})).toBe(1);
    // The cache's RunnerDeployments show all four phases, zeros included.
    expect(await valueOf(registry, "forgejo_arc_actrunners", { ...a, phase: "Pending" })).toBe(0);
  });

  it("exports every finish of a RunnerDeployment at 0 once it is seen, so that an alert on their increase sees the first", async () => {
    const seen = rdNamed("a");
    const { registry, metrics } = metricsOver(new Map([["a", seen]]));
    metrics.runnerDeploymentSeen(seen);
    const a = { runner_deployment_namespace: "ci", runner_deployment: "a" };
    for (const [phase, reason] of [
      ["Succeeded", "Completed"],
      ["Failed", "PodDeleted"],
      ["Failed", "Evicted"],
      ["Failed", "PodDisrupted"],
      ["Failed", "OOMKilled"],
      ["Failed", "DockerSidecarFailed"],
      ["Failed", "RunnerFailed"],
      ["Failed", "PodFailed"],
      ["Failed", "DeadlineExceeded"],
      ["Failed", "PickupTimeout"],
      ["Failed", "JobVanished"],
      ["Failed", "JobDeleted"],
      ["Failed", "RunnerSecretDeleted"],
      ["Failed", "DuplicateJob"],
    ])
      expect(await valueOf(registry, "forgejo_arc_actrunners_finished_total", { ...a, phase: phase!, reason: reason! })).toBe(0);
    metrics.phaseChanged(runnerOf(seen, "a-1-1"), "Succeeded");
    expect(await valueOf(registry, "forgejo_arc_actrunners_finished_total", { ...a, phase: "Succeeded", reason: "Completed" })).toBe(1);
  });

  it("removes a deleted RunnerDeployment's series, keeps the others', and writes none for it afterwards", async () => {
    const [a1, b1] = [rdNamed("a"), rdNamed("b")];
    const present = new Map([
      ["a", a1],
      ["b", b1],
    ]);
    const { registry, metrics } = metricsOver(present);
    for (const seen of present.values()) metrics.runnerDeploymentSeen(seen);
    record(metrics, runnerOf(a1, "a-1-1"));
    record(metrics, runnerOf(b1, "b-1-1"));
    expect((await seriesOf(registry, "a")).length).toBeGreaterThan(20);
    const before = await seriesOf(registry, "b");

    present.delete("a");
    metrics.removeRunnerDeployment(a1);
    expect(await seriesOf(registry, "a")).toEqual([]);
    expect(await seriesOf(registry, "b")).toEqual(before);

    // An ActRunner of the deleted RunnerDeployment that finishes while it is deleted writes no series back.
    record(metrics, runnerOf(a1, "a-2-1"));
    expect(await seriesOf(registry, "a")).toEqual([]);
  });

  it("exports the age of each RunnerDeployment's oldest unfinished ActRunner without a Job, 0 when it has none", async () => {
    const a = rdNamed("a");
    const aged = (name: string, secondsAgo: number, status: AR["status"]) => {
      const runner = runnerOf(a, name);
      return { ...runner, metadata: { ...runner.metadata, creationTimestamp: new Date(Date.now() - secondsAgo * 1000) }, status } as AR;
    };
    const { registry } = metricsOver(
      new Map([
        ["a", a],
        ["b", rdNamed("b")],
      ]),
      [
        aged("a-1-1", 1000, { phase: "Pending", kubernetesJobName: "a-1-1" }),
        aged("a-2-1", 700, { phase: "Pending", reason: "FailedCreate" }),
        aged("a-3-1", 100, undefined),
        aged("a-4-1", 5000, { phase: "Failed", reason: "DuplicateJob" }),
      ],
    );
    const oldest = (name: string) =>
      valueOf(registry, "forgejo_arc_actrunners_without_job_oldest_seconds", {
        runner_deployment_namespace: "ci",
        runner_deployment: name,
      });
    expect(await oldest("a")).toBeGreaterThanOrEqual(700);
    expect(await oldest("a")).toBeLessThan(710);
    expect(await oldest("b")).toBe(0);
  });

  it("writes nothing to a RunnerDeployment re-created under the same name for the old one's ActRunners", async () => {
    const [old, recreated] = [rdNamed("a"), rdNamed("a")];
    const { registry, metrics } = metricsOver(new Map([["a", recreated]]));
    metrics.runnerDeploymentSeen(recreated);
    const a = { runner_deployment_namespace: "ci", runner_deployment: "a" };
    metrics.phaseChanged(runnerOf(old, "a-1-1"), "Succeeded");
    expect(await valueOf(registry, "forgejo_arc_actrunners_finished_total", { ...a, phase: "Succeeded", reason: "Completed" })).toBe(0);
    metrics.phaseChanged(runnerOf(recreated, "a-2-1"), "Succeeded");
    expect(await valueOf(registry, "forgejo_arc_actrunners_finished_total", { ...a, phase: "Succeeded", reason: "Completed" })).toBe(1);
  });
});
