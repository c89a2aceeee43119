// The controller's metrics. Series by RunnerDeployment go when their RunnerDeployment is deleted: a
// controller that outlives many RunnerDeployments (one per team, per branch, made and removed by
// GitOps) would otherwise export, and keep in memory, every deleted one's series until it restarts.
import { Counter, Gauge, Histogram, type LabelValues, type Registry } from "prom-client";
import { keyOf, ownerRunnerDeploymentName, ownerRunnerDeploymentRef, splitKey, type AR, type ClusterCache, type RD } from "./cache.ts";
import { isFinished } from "../listener/plan.ts";
import { POD_FAILURE_REASONS, runDurationSeconds } from "./job-status.ts";

/** The labels that say which RunnerDeployment an ActRunner's series belongs to. */
const RD_LABELS = ["runner_deployment_namespace", "runner_deployment"] as const;
type RunnerDeploymentLabels = Record<(typeof RD_LABELS)[number], string>;

const PHASES = ["Pending", "Running", "Succeeded", "Failed"] as const;

/**
 * Every way an ActRunner finishes: its Job complete, its runner pod failed (why: podFailureReason),
 * its Job out of time, a runner that never took its job, a job that left the queue, a Job or runner
 * Secret deleted from outside, a runner lost after Forgejo ended its job, a job another ActRunner serves.
 */
const FINISHES = [
  { phase: "Succeeded", reason: "Completed" },
  ...POD_FAILURE_REASONS.map((reason) => ({ phase: "Failed", reason })),
  { phase: "Failed", reason: "DeadlineExceeded" },
  { phase: "Failed", reason: "PickupTimeout" },
  { phase: "Failed", reason: "JobVanished" },
  { phase: "Failed", reason: "JobDeleted" },
  { phase: "Failed", reason: "RunnerSecretDeleted" },
  { phase: "Failed", reason: "RunnerLost" },
  { phase: "Failed", reason: "DuplicateJob" },
];

type PerRunnerDeployment = Counter<string> | Histogram<string>;

export class ControllerMetrics {
  readonly duration: Histogram<"controller" | "result">;
  readonly errors: Counter<"controller">;
  readonly orphansDeleted: Counter;
  readonly orphanSweeps: Counter<"result">;
  private readonly queueToJob: Histogram<string>;
  private readonly queueToRunning: Histogram<string>;
  private readonly finished: Counter<string>;
  private readonly runDuration: Histogram<string>;
  private readonly cleanupsAbandoned: Counter;
  private readonly cache: Pick<ClusterCache, "runnerDeployments">;
  /** RunnerDeployment key → the series written for it (by metric, then labels): what removeRunnerDeployment removes. */
  private readonly written = new Map<string, Map<PerRunnerDeployment, Map<string, LabelValues<string>>>>();

  constructor(registry: Registry, cache: Pick<ClusterCache, "runnerDeployments" | "actRunners">) {
    this.cache = cache;
    new Gauge({
      name: "forgejo_arc_actrunners",
      help: "ActRunners by RunnerDeployment and phase, from the controller's cache.",
      labelNames: [...RD_LABELS, "phase"],
      registers: [registry],
      collect() {
        this.reset();
        for (const rd of cache.runnerDeployments.list())
          for (const phase of PHASES)
            this.set({ runner_deployment_namespace: rd.metadata!.namespace!, runner_deployment: rd.metadata!.name!, phase }, 0);
        for (const ar of cache.actRunners.list()) this.inc({ ...runnerDeploymentLabels(ar), phase: ar.status?.phase ?? "Pending" });
      },
    });
    new Gauge({
      name: "forgejo_arc_actrunners_without_job_oldest_seconds",
      help: "Age of the oldest unfinished ActRunner of a RunnerDeployment that has no Kubernetes Job yet (a registration that fails, a runner Secret or Job the API server refuses), 0 when none: nothing times these out.",
      labelNames: RD_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        const oldest = new Map<string, number>();
        for (const rd of cache.runnerDeployments.list()) oldest.set(keyOf(rd), 0);
        for (const ar of cache.actRunners.list()) {
          if (ar.status?.kubernetesJobName || isFinished(ar) || ar.metadata?.deletionTimestamp) continue;
          const { runner_deployment_namespace: namespace, runner_deployment: name } = runnerDeploymentLabels(ar);
          const key = `${namespace}/${name}`;
          if (oldest.has(key)) oldest.set(key, Math.max(oldest.get(key)!, secondsSinceCreation(ar)));
        }
        for (const [key, age] of oldest) {
          const { namespace, name } = splitKey(key);
          this.set({ runner_deployment_namespace: namespace, runner_deployment: name }, age);
        }
      },
    });
    this.duration = new Histogram({
      name: "forgejo_arc_reconcile_duration_seconds",
      help: "Duration of one reconcile by controller and result.",
      labelNames: ["controller", "result"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.errors = new Counter({
      name: "forgejo_arc_reconcile_errors_total",
      help: "Failed reconciles by controller.",
      labelNames: ["controller"],
      registers: [registry],
    });
    this.queueToJob = new Histogram({
      name: "forgejo_arc_queue_to_job_seconds",
      help: "From ActRunner creation (the listener saw the job waiting) to its Kubernetes Job created, by RunnerDeployment.",
      labelNames: RD_LABELS,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
      registers: [registry],
    });
    this.finished = new Counter({
      name: "forgejo_arc_actrunners_finished_total",
      help: "ActRunners that reached Succeeded or Failed, by RunnerDeployment, phase and reason (e.g. Completed, RunnerFailed, OOMKilled, PickupTimeout, JobVanished, JobDeleted, RunnerSecretDeleted, RunnerLost, DuplicateJob).",
      labelNames: [...RD_LABELS, "phase", "reason"],
      registers: [registry],
    });
    // No RunnerDeployment label: most are given up while their RunnerDeployment is deleted (its
    // series gone), and a series that first appears at 1 shows no increase to an alert; this one is
    // exported at 0 from the start.
    this.cleanupsAbandoned = new Counter({
      name: "forgejo_arc_runner_cleanups_abandoned_total",
      help: "Forgejo runners the finalizer gave up deleting (Forgejo unreachable for --runner-cleanup-timeout, or the token gone with the RunnerDeployment); the RunnerCleanupAbandoned Event names each.",
      registers: [registry],
    });
    this.orphansDeleted = new Counter({
      name: "forgejo_arc_orphan_runners_deleted_total",
      help: "Forgejo runners the orphan sweep deleted: registered by this cluster for ActRunners that no longer exist.",
      registers: [registry],
    });
    this.orphanSweeps = new Counter({
      name: "forgejo_arc_orphan_sweeps_total",
      help: "Orphan sweeps of one Forgejo scope, by result (success or error).",
      labelNames: ["result"],
      registers: [registry],
    });
    this.runDuration = new Histogram({
      name: "forgejo_arc_runner_run_duration_seconds",
      help: "From the runner pod starting to the ActRunner finishing, by RunnerDeployment and final phase (Succeeded or Failed): how long runner pods run.",
      labelNames: [...RD_LABELS, "phase"],
      buckets: [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400],
      registers: [registry],
    });
    this.queueToRunning = new Histogram({
      name: "forgejo_arc_queue_to_running_seconds",
      help: "From ActRunner creation (the listener saw the job waiting) to its runner pod running, by RunnerDeployment.",
      labelNames: RD_LABELS,
      buckets: [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600],
      registers: [registry],
    });
  }

  /**
   * A RunnerDeployment in the cache: its finishes that ForgejoArcRunnersFailing counts are exported
   * at 0 from now on, as Prometheus's increase() sees no increase in a series first seen at 1.
   */
  runnerDeploymentSeen(rd: RD): void {
    const labels = { runner_deployment_namespace: rd.metadata?.namespace ?? "", runner_deployment: rd.metadata?.name ?? "" };
    for (const finish of FINISHES) this.write(labels, this.finished, finish, 0);
  }

  jobCreated(ar: AR): void {
    this.writeFor(ar, this.queueToJob, {}, secondsSinceCreation(ar));
  }

  cleanupAbandoned(): void {
    this.cleanupsAbandoned.inc();
  }

  /** An ActRunner's new phase: queue → running time, and for a finished one its reason and run duration. */
  phaseChanged(ar: AR, phase: string): void {
    if (phase === "Running") this.writeFor(ar, this.queueToRunning, {}, secondsSinceCreation(ar));
    if (phase !== "Succeeded" && phase !== "Failed") return;
    this.writeFor(ar, this.finished, { phase, reason: ar.status?.reason ?? phase }, 1);
    const ran = runDurationSeconds(ar.status);
    if (ran !== undefined) this.writeFor(ar, this.runDuration, { phase }, ran);
  }

  /** Removes every series written for the RunnerDeployment (deleted). */
  removeRunnerDeployment(rd: RD): void {
    for (const [metric, series] of this.written.get(keyOf(rd)) ?? []) for (const labels of series.values()) metric.remove(labels);
    this.written.delete(keyOf(rd));
  }

  /**
   * Writes to the ActRunner's RunnerDeployment's series, unless that RunnerDeployment is no longer in
   * the cache: its series were removed, and one written now would stay. A RunnerDeployment re-created
   * under the same name while the old one's ActRunners finish is another owner (uid): they write none.
   */
  private writeFor(ar: AR, metric: PerRunnerDeployment, extra: LabelValues<string>, value: number): void {
    const labels = runnerDeploymentLabels(ar);
    const owner = this.cache.runnerDeployments.get(labels.runner_deployment, labels.runner_deployment_namespace);
    if (!owner || owner.metadata?.uid !== ownerRunnerDeploymentRef(ar)?.uid) return;
    this.write(labels, metric, extra, value);
  }

  /** Observes `value` (a histogram) or adds it (a counter), and remembers the series for removeRunnerDeployment. */
  private write(rd: RunnerDeploymentLabels, metric: PerRunnerDeployment, extra: LabelValues<string>, value: number): void {
    const labels = { ...rd, ...extra };
    if (metric instanceof Histogram) metric.observe(labels, value);
    else metric.inc(labels, value);
    const key = `${rd.runner_deployment_namespace}/${rd.runner_deployment}`;
    const byMetric = this.written.get(key) ?? new Map<PerRunnerDeployment, Map<string, LabelValues<string>>>();
    this.written.set(key, byMetric);
    const series = byMetric.get(metric) ?? new Map<string, LabelValues<string>>();
    byMetric.set(metric, series);
    series.set(JSON.stringify(labels), labels);
  }
}

function runnerDeploymentLabels(ar: AR): RunnerDeploymentLabels {
  return { runner_deployment_namespace: ar.metadata?.namespace ?? "", runner_deployment: ownerRunnerDeploymentName(ar) ?? "" };
}

function secondsSinceCreation(ar: AR): number {
  return (Date.now() - new Date(ar.metadata?.creationTimestamp ?? Date.now()).getTime()) / 1000;
}
