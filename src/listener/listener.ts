// The listener role: turns Forgejo's queue for one RunnerDeployment into ActRunners.
// Each poll makes exactly one Forgejo request and no Kubernetes LIST (informers feed the cache).
import { readFileSync } from "node:fs";
import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { labelNamesQuery } from "../api/labels.ts";
import { API_GROUP, API_GROUP_VERSION, API_VERSION } from "../api/schemas.ts";
import { LABELS } from "../api/well-known.ts";
import { ForgejoClient } from "../forgejo/client.ts";
import { ForgejoError } from "../forgejo/errors.ts";
import type { ActRunner, ForgejoJob, RunnerDeployment } from "../generated/api.ts";
import { apiErrorCode, apiErrorMessage, isRefusal } from "../k8s/client.ts";
import { Informer } from "../k8s/informer.ts";
import type { Logger } from "../observability/log.ts";
import { forgejoCallMetrics } from "../observability/metrics.ts";
import type { ListenerConfig } from "./config.ts";
import { RUNNER_TRIES, newActRunner, planPoll } from "./plan.ts";
import { RecentlyCreated } from "./recently-created.ts";

export interface ListenerDeps {
  kc: KubeConfig;
  logger: Logger;
  registry: Registry;
}

export interface PollError {
  kind: string;
  message: string;
}

/** Forgejo 15 is the first with ephemeral runners, REST registration and job handles. */
export const MINIMUM_FORGEJO_MAJOR = 15;

const RESOURCE = { group: API_GROUP, version: API_VERSION };

export class Listener {
  private readonly config: ListenerConfig;
  private readonly deps: ListenerDeps;
  private forgejo: ForgejoClient;
  /** The CA bundle the current Forgejo client trusts (from --ca-file). */
  private caBundle?: string;
  private readonly onForgejoCall: ReturnType<typeof forgejoCallMetrics>;
  private readonly api: CustomObjectsApi;
  private readonly runnerDeployments: Informer<RunnerDeployment & KubernetesObject>;
  private readonly actRunners: Informer<ActRunner & KubernetesObject>;
  private readonly recentlyCreated = new RecentlyCreated();
  private readonly metrics;
  private stopped = false;
  private wake?: () => void;
  private loop?: Promise<void>;
  private consecutiveFailures = 0;
  /** The wait Forgejo asked for with the last failed poll (Retry-After), if any. */
  private retryAfterMs: number | undefined;
  private lastError?: PollError & { since: string };
  private forgejoVersion?: string;
  /** The lists this process last wrote; undefined until its first poll, which always writes them (an earlier listener's may be stale). */
  private lastVanished?: string[];
  private lastStarted?: string[];
  private lastEnded?: string[];
  /** Timestamps (ms) for health: the last attempt's end, the last success, the next planned attempt. */
  readonly progress = { lastAttemptAt: 0, lastSuccessAt: 0, nextAttemptAt: 0 };

  constructor(config: ListenerConfig, deps: ListenerDeps) {
    this.config = config;
    this.deps = deps;
    this.caBundle = config.caBundle;
    this.onForgejoCall = forgejoCallMetrics(deps.registry);
    this.forgejo = this.forgejoClient();
    this.api = deps.kc.makeApiClient(CustomObjectsApi);
    const { namespace, runnerDeployment } = config;
    this.runnerDeployments = new Informer(deps.kc, {
      name: "runnerdeployment",
      path: `/apis/${API_GROUP_VERSION}/namespaces/${namespace}/runnerdeployments`,
      fieldSelector: `metadata.name=${runnerDeployment}`,
      list: () =>
        this.api.listNamespacedCustomObject({
          ...RESOURCE,
          namespace,
          plural: "runnerdeployments",
          fieldSelector: `metadata.name=${runnerDeployment}`,
        }) as Promise<KubernetesListObject<RunnerDeployment & KubernetesObject>>,
      logger: deps.logger,
    });
    const selector = `${LABELS.runnerDeployment}=${runnerDeployment}`;
    this.actRunners = new Informer(deps.kc, {
      name: "actrunners",
      path: `/apis/${API_GROUP_VERSION}/namespaces/${namespace}/actrunners`,
      labelSelector: selector,
      list: () =>
        this.api.listNamespacedCustomObject({ ...RESOURCE, namespace, plural: "actrunners", labelSelector: selector }) as Promise<
          KubernetesListObject<ActRunner & KubernetesObject>
        >,
      logger: deps.logger,
    });
    this.actRunners.on("add", (runner) => this.recentlyCreated.forget(runner.metadata?.name ?? ""));
    this.metrics = createListenerMetrics(deps.registry);
  }

  private forgejoClient(): ForgejoClient {
    return new ForgejoClient({
      server: this.config.forgejoServer,
      token: this.config.token,
      caBundle: this.caBundle,
      proxy: this.config.proxy,
      onCall: this.onForgejoCall,
    });
  }

  /**
   * A mounted ConfigMap changes in place (the kubelet swaps a symlink): when --ca-file holds another
   * bundle than the client trusts, the client is made anew with it. A file briefly missing or empty
   * during the swap keeps the current one.
   */
  private reloadCaBundle(): void {
    if (!this.config.caFile) return;
    let text: string;
    try {
      text = readFileSync(this.config.caFile, "utf8");
    } catch {
      return;
    }
    if (!text.trim() || text === this.caBundle) return;
    this.caBundle = text;
    this.forgejo.close();
    this.forgejo = this.forgejoClient();
    this.log.info({ caFile: this.config.caFile }, "The CA bundle changed; Forgejo is reached with the new one");
  }

  get log(): Logger {
    return this.deps.logger;
  }

  get synced(): boolean {
    return this.runnerDeployments.synced && this.actRunners.synced;
  }

  async start(): Promise<void> {
    await Promise.all([this.runnerDeployments.start(), this.actRunners.start()]);
    this.log.info(
      { rd: `${this.config.namespace}/${this.config.runnerDeployment}`, pollIntervalMs: this.config.pollIntervalMs },
      "Started listener",
    );
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await Promise.all([this.runnerDeployments.stop(), this.actRunners.stop()]);
    this.forgejo.close();
    this.log.info("Stopped listener");
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const ok = await this.pollOnce();
      const now = Date.now();
      this.progress.lastAttemptAt = now;
      const delay = this.nextDelay(ok);
      this.progress.nextAttemptAt = now + delay;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * After a success the poll interval ±10%, so listeners started together drift apart; after a
   * failure the backoff, or the wait Forgejo asked for when longer (up to the backoff's cap).
   */
  nextDelay(succeeded: boolean): number {
    if (succeeded) return jitter(this.config.pollIntervalMs, 0.1);
    return Math.max(this.backoffDelay(), Math.min(this.retryAfterMs ?? 0, this.config.maxBackoffMs));
  }

  /** The interval doubled per consecutive failure, capped, with jitter. */
  backoffDelay(): number {
    const exponent = Math.min(this.consecutiveFailures, 20);
    return jitter(Math.min(this.config.pollIntervalMs * 2 ** exponent, this.config.maxBackoffMs), 0.2);
  }

  /** One poll; true when it succeeded. Never throws. */
  async pollOnce(): Promise<boolean> {
    const stopTimer = this.metrics.pollDuration.startTimer();
    try {
      const rd = this.runnerDeployments.get(this.config.runnerDeployment, this.config.namespace);
      if (!rd) throw new PollFailure("not_found", `RunnerDeployment ${this.config.namespace}/${this.config.runnerDeployment} not found`);
      this.reloadCaBundle();
      await this.checkVersion();
      const labelNames = this.config.labels.map((l) => l.name);
      const jobs = await this.forgejo.jobs(this.config.scope, labelNames);
      const plan = planPoll({
        runnerDeployment: this.config.runnerDeployment,
        listing: { forgejoServer: this.config.forgejoServer, scope: this.config.scope, labelNames },
        jobs,
        actRunners: this.actRunners.list(),
        recentlyCreated: this.recentlyCreated.names(),
        maxRunners: rd.spec.maxRunners,
        suspended: rd.spec.suspend === true,
      });
      let refused: PollFailure | undefined;
      for (const { job, name, tryNumber } of plan.create) {
        refused = await this.createActRunner(rd, job, name, tryNumber);
        // The next ones would meet the same quota or policy; the poll's other duties go on.
        if (refused) break;
      }
      const waiting = jobs.filter((j) => j.status === "waiting").length;
      this.metrics.waitingJobs.set(waiting);
      this.metrics.overCapacity.set(plan.overCapacity);
      if (this.consecutiveFailures > 0) this.log.info({ failures: this.consecutiveFailures }, "Polled Forgejo successfully again");
      this.consecutiveFailures = 0;
      this.retryAfterMs = undefined;
      const time = new Date().toISOString();
      const refusal = refused ? this.noteFailure(refused, time, "refused").status : undefined;
      if (!refused) this.lastError = undefined;
      await this.patchStatus({
        lastPollTime: time,
        waitingJobs: waiting,
        lastPollError: refusal ?? null,
        ...(this.forgejoVersion ? { forgejoVersion: this.forgejoVersion } : {}),
        ...(sameList(plan.vanished, this.lastVanished) ? {} : { vanishedActRunners: plan.vanished }),
        ...(sameList(plan.started, this.lastStarted) ? {} : { startedActRunners: plan.started }),
        ...(sameList(plan.ended, this.lastEnded) ? {} : { endedActRunners: plan.ended }),
      });
      this.lastVanished = plan.vanished;
      this.lastStarted = plan.started;
      this.lastEnded = plan.ended;
      // Refused ActRunners leave the listener ready and on its interval: it polls and reports vanished,
      // started and ended jobs as before, and creates them once the cause is gone.
      this.progress.lastSuccessAt = Date.now();
      if (!refused) this.metrics.polls.inc({ result: "success" });
      return true;
    } catch (error) {
      this.consecutiveFailures++;
      this.retryAfterMs = error instanceof ForgejoError ? error.retryAfterMs : undefined;
      const time = new Date().toISOString();
      const failure = this.noteFailure(error, time, "failed");
      if (failure.changed) await this.patchStatus({ lastPollError: failure.status }).catch(() => undefined);
      return false;
    } finally {
      stopTimer();
    }
  }

  private async checkVersion(): Promise<void> {
    if (this.forgejoVersion) return;
    const version = await this.forgejo.version();
    const major = Number(/^v?(\d+)/.exec(version)?.[1] ?? NaN);
    if (!(major >= MINIMUM_FORGEJO_MAJOR)) {
      throw new PollFailure(
        "unsupported",
        `Forgejo ${version} at ${this.config.forgejoServer} is too old: forgejo-arc needs Forgejo ${MINIMUM_FORGEJO_MAJOR} or newer (ephemeral runners and job handles)`,
      );
    }
    this.forgejoVersion = version;
  }

  /**
   * A failed poll, or one whose ActRunner the API server refused: counted, logged and kept as the
   * last error (`since` kept while it lasts). Returns it as the status says it, and whether it changed.
   */
  private noteFailure(
    error: unknown,
    time: string,
    outcome: "failed" | "refused",
  ): { status: PollError & { time: string; since: string }; changed: boolean } {
    const failure = describeFailure(error);
    this.metrics.polls.inc({ result: "error" });
    this.metrics.pollErrors.inc({ kind: failure.kind });
    const changed = this.lastError?.kind !== failure.kind || this.lastError.message !== failure.message;
    this.lastError = { ...failure, since: this.lastError?.since ?? time };
    // A failed poll is retried with backoff, each try logged; a refusal is logged when it changes.
    if (outcome === "failed" || changed)
      this.log.warn(
        { kind: failure.kind, failures: this.consecutiveFailures, retryInMs: this.nextDelay(outcome === "refused") },
        `Poll failed: ${failure.message}`,
      );
    return { status: { ...failure, time, since: this.lastError.since }, changed };
  }

  /** Creates the ActRunner; a refusal by the API server (a quota, a policy) is returned, any other failure thrown. */
  private async createActRunner(rd: RunnerDeployment, job: ForgejoJob, name: string, tryNumber: number): Promise<PollFailure | undefined> {
    if (!job.handle) {
      throw new PollFailure(
        "unsupported",
        `job ${job.id} has no handle; Forgejo ${MINIMUM_FORGEJO_MAJOR} or newer is needed to bind a runner to one job`,
      );
    }
    const body = newActRunner(rd, job, name, {
      forgejoServer: this.config.forgejoServer,
      labels: this.config.labels.map((l) => l.raw).join(","),
      namespace: this.config.namespace,
      labelPropagationExclude: this.config.labelPropagationExclude,
    });
    this.recentlyCreated.creating(name);
    try {
      await this.api.createNamespacedCustomObject({ ...RESOURCE, namespace: this.config.namespace, plural: "actrunners", body });
      this.metrics.created.inc();
      this.log.info(
        { ar: `${this.config.namespace}/${name}`, jobId: job.id, attempt: job.attempt, try: tryNumber },
        tryNumber > 1
          ? `Created ActRunner: try ${tryNumber} of ${RUNNER_TRIES}, the last runner failed before it took the job`
          : "Created ActRunner",
      );
    } catch (error) {
      // AlreadyExists: an earlier poll, a restarted listener or a second one made it. Same outcome.
      if (apiErrorCode(error) !== 409) {
        this.recentlyCreated.forget(name);
        const failure = new PollFailure("kubernetes", `creating ActRunner ${this.config.namespace}/${name}: ${apiErrorMessage(error)}`);
        if (isRefusal(error)) return failure;
        throw failure;
      }
      if (this.actRunners.get(name, this.config.namespace)) this.recentlyCreated.forget(name);
    }
    return undefined;
  }

  private async patchStatus(status: Record<string, unknown>): Promise<void> {
    try {
      await this.api.patchNamespacedCustomObjectStatus(
        {
          ...RESOURCE,
          namespace: this.config.namespace,
          plural: "runnerdeployments",
          name: this.config.runnerDeployment,
          body: { status },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    } catch (error) {
      throw new PollFailure(
        "kubernetes",
        `patching RunnerDeployment ${this.config.namespace}/${this.config.runnerDeployment} status: ${apiErrorMessage(error)}`,
      );
    }
  }

  /**
   * Live while the loop makes progress: polls succeed, or fail and are retried on schedule, so a
   * Forgejo outage never gets the listener restarted. Ready only while polls succeed.
   */
  health(now = Date.now()): { live: boolean; ready: boolean; detail: Record<string, unknown> } {
    const { lastAttemptAt, lastSuccessAt, nextAttemptAt } = this.progress;
    const slack = Math.max(this.config.pollIntervalMs * 2, 30_000);
    const live = this.loop === undefined || lastAttemptAt === 0 ? true : now < nextAttemptAt + slack;
    // Ready only while polls succeed: the last success is at most a few intervals old.
    const ready = this.synced && lastSuccessAt > 0 && now - lastSuccessAt < this.config.pollIntervalMs * 3 + 5_000;
    return {
      live,
      ready,
      detail: {
        synced: this.synced,
        consecutiveFailures: this.consecutiveFailures,
        lastError: this.lastError,
        lastSuccessAt: lastSuccessAt ? new Date(lastSuccessAt).toISOString() : null,
        nextAttemptAt: nextAttemptAt ? new Date(nextAttemptAt).toISOString() : null,
        labels: labelNamesQuery(this.config.labels),
      },
    };
  }
}

class PollFailure extends Error {
  readonly kind: string;

  constructor(kind: string, message: string) {
    super(message);
    this.kind = kind;
  }
}

function describeFailure(error: unknown): PollError {
  if (error instanceof ForgejoError || error instanceof PollFailure) return { kind: error.kind, message: error.message };
  return { kind: "internal", message: error instanceof Error ? error.message : String(error) };
}

function jitter(ms: number, fraction: number): number {
  return Math.round(ms * (1 - fraction + Math.random() * 2 * fraction));
}

function sameList(a: string[], b: string[] | undefined): boolean {
  if (!b) return false;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function createListenerMetrics(registry: Registry) {
  return {
    polls: new Counter({
      name: "forgejo_arc_listener_polls_total",
      help: "Polls of Forgejo's job queue by result.",
      labelNames: ["result"],
      registers: [registry],
    }),
    pollErrors: new Counter({
      name: "forgejo_arc_listener_poll_errors_total",
      help: "Failed polls by kind of error.",
      labelNames: ["kind"],
      registers: [registry],
    }),
    pollDuration: new Histogram({
      name: "forgejo_arc_listener_poll_duration_seconds",
      help: "Duration of one poll: the Forgejo request, ActRunner creation and the status patch.",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    waitingJobs: new Gauge({
      name: "forgejo_arc_listener_waiting_jobs",
      help: "Jobs waiting in Forgejo with matching labels at the last poll.",
      registers: [registry],
    }),
    overCapacity: new Gauge({
      name: "forgejo_arc_listener_jobs_over_capacity",
      help: "Waiting jobs without an ActRunner because maxRunners is reached.",
      registers: [registry],
    }),
    created: new Counter({
      name: "forgejo_arc_listener_actrunners_created_total",
      help: "ActRunners created by this listener.",
      registers: [registry],
    }),
  };
}
