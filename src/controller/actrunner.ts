// ActRunner reconciler, step by step: finalizer (set by the listener at creation, else one metadata
// write) → start the runner (runner-start.ts: register an ephemeral Forgejo runner, runner Secret,
// batch/v1 Job) → one status write → mirror the Job into phase and conditions → stop a runner whose
// job vanished or was not picked up in time → delete the Forgejo runner when done → delete the
// ActRunner after its retention. A pass interrupted anywhere is finished by the next from what it
// left (see runner-start.ts and registrations.ts). The finalizer stops a runner pod that runs its
// job, then deletes the Forgejo runner, giving up after a bounded time if Forgejo stays unreachable.
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Job, type V1PodSpec } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { DEFAULT_RETENTION_AFTER_FINISH } from "../api/defaults.ts";
import { formatDuration, parseDuration } from "../api/duration.ts";
import { API_GROUP, API_VERSION } from "../api/schemas.ts";
import { FINALIZER } from "../api/well-known.ts";
import type { ActRunnerStatus, Condition } from "../generated/api.ts";
import { apiErrorMessage, ignoreNotFound } from "../k8s/client.ts";
import type { EventRecorder } from "../k8s/events.ts";
import type { RestClient } from "../k8s/rest.ts";
import { pickedUp as markedPickedUp } from "../listener/plan.ts";
import type { Logger } from "../observability/log.ts";
import { keyOf, SupersededVersions, type AR, type ClusterCache } from "./cache.ts";
import { findCondition, setCondition, type ConditionInput } from "./conditions.ts";
import { CredentialsMissing, type ForgejoClients } from "./forgejo-clients.ts";
import type { ForgejoClient } from "../forgejo/client.ts";
import { failureReason, ForgejoError, isForgejoError } from "../forgejo/errors.ts";
import type { ForgejoScope } from "../forgejo/scope.ts";
import type { ForgejoRunner } from "../forgejo/types.ts";
import {
  exitedAwaitingJob,
  jobEnded,
  jobGoneOutcome,
  notStartedMessage,
  observeJob,
  planPodLook,
  sinceLastLook,
  type ObservedRunner,
} from "./job-status.ts";
import { podCreationError, runnerLogTail, runnerPods, unendedRunnerPods } from "./runner-pods.ts";
import { JobAttempts, isUnfinished, type ActRunnerRef } from "./job-attempts.ts";
import { LostRunners } from "./lost-runners.ts";
import { listingKey, Registrations, type RunnerCredentials } from "./registrations.ts";
import {
  forgejoRunnerName,
  pickupTimeout,
  pickupTimeoutMs,
  runnerObjectName,
  runnerSecretName,
  type RunnerJobOptions,
} from "./runner-job.ts";
import {
  deleteRunnerJob,
  jobCreatedCondition,
  registeredCondition,
  RunnerObjectRefused,
  RunnerStarter,
  startedRecord,
} from "./runner-start.ts";

export interface ActRunnerReconcilerDeps {
  kc: KubeConfig;
  /** For the writes every ActRunner makes (Secret, Job, status, metadata): cheaper than client-node's typed calls. */
  rest: RestClient;
  cache: ClusterCache;
  events: EventRecorder;
  logger: Logger;
  forgejo: ForgejoClients;
  job: RunnerJobOptions;
  /** How long the finalizer keeps trying to delete the Forgejo runner before it gives up. */
  cleanupTimeoutMs: number;
  /** How often a started runner is checked for having picked up its job. */
  pickupCheckIntervalMs: number;
  /** How long a runner pod may run on after Forgejo ended its job before it is taken for lost (--lost-runner-grace). */
  lostRunnerGraceMs: number;
  onPhase?: (ar: AR, phase: string, previous: string | undefined) => void;
  onJobCreated?: (ar: AR) => void;
  onRunnerCleanupAbandoned?: (ar: AR) => void;
  /** The cluster's identity for runner descriptions (see forgejoRunnerDescription); undefined when unknown. */
  clusterId: () => string | undefined;
}

/** The delay after which the key should be looked at again, if any. */
export type Requeue = number | undefined;

const RESOURCE = { group: API_GROUP, version: API_VERSION, plural: "actrunners" };

export class ActRunnerReconciler {
  private readonly deps: ActRunnerReconcilerDeps;
  private readonly custom: CustomObjectsApi;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  /** Deciding from a version older than our own last write would repeat steps (e.g. register twice). */
  private readonly superseded = new SupersededVersions();
  private readonly registrations = new Registrations();
  private readonly jobAttempts: JobAttempts;
  private readonly starter: RunnerStarter;
  /** uid → when Forgejo was last asked whether the runner took its job. */
  private readonly lastPickupCheck = new Map<string, number>();
  /** ActRunner uid → when its waiting runner pod was last read (see nextPodLookInMs). */
  private readonly lastPodLook = new Map<string, number>();
  private readonly lostRunners: LostRunners;

  constructor(deps: ActRunnerReconcilerDeps) {
    this.deps = deps;
    this.lostRunners = new LostRunners(deps.lostRunnerGraceMs);
    this.custom = deps.kc.makeApiClient(CustomObjectsApi);
    this.batch = deps.kc.makeApiClient(BatchV1Api);
    this.core = deps.kc.makeApiClient(CoreV1Api);
    this.jobAttempts = new JobAttempts((ref) => {
      const cached = deps.cache.actRunners.get(ref.name, ref.namespace);
      return cached?.metadata?.uid === ref.uid && isUnfinished(cached);
    });
    this.starter = new RunnerStarter({ ...deps, registrations: this.registrations, jobAttempts: this.jobAttempts });
  }

  /**
   * Called when this replica begins to lead, with every ActRunner that exists then (a fresh list, not
   * the cache): those whose status names no runner may have one from an earlier leader or process.
   */
  beginTerm(existing: AR[]): void {
    this.registrations.beginTerm(existing.filter((ar) => ar.status?.runnerId === undefined).map((ar) => ar.metadata!.uid!));
    this.jobAttempts.beginTerm(existing);
  }

  /** The ActRunner left the cache (deleted): what was kept for it goes. */
  forget(ar: AR): void {
    if (!ar.metadata?.uid) return;
    this.registrations.forget(ar.metadata.uid);
    this.jobAttempts.release(ar.metadata.uid);
    this.lastPickupCheck.delete(ar.metadata.uid);
    this.lastPodLook.delete(ar.metadata.uid);
    this.lostRunners.forget(ar.metadata.uid);
    this.superseded.forget(keyOf(ar));
  }

  async reconcile(namespace: string, name: string): Promise<Requeue> {
    const cached = this.deps.cache.actRunners.get(name, namespace);
    if (!cached) return undefined;
    let ar = cached;
    if (this.superseded.stale(ar)) return 100;
    if (ar.metadata?.deletionTimestamp) return this.finalize(ar);
    // Steps that write go on with the object the API server returned (never older than the cache),
    // so a new ActRunner reaches its Job in one pass instead of one informer round trip per step.
    if (!ar.metadata?.finalizers?.includes(FINALIZER))
      ar = await this.patchMetadata(ar, { finalizers: [...(ar.metadata?.finalizers ?? []), FINALIZER] });
    const phase = ar.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") return this.afterFinish(ar);
    if (this.jobVanished(ar)) {
      // The job may have been taken and finished between two checks: ask Forgejo before stopping.
      if (ar.status?.runnerId !== undefined && (await this.pickedUp(ar))) {
        await this.patchStatus(ar, {}, [PICKED_UP]);
        return 0;
      }
      return this.stop(ar, "JobVanished", "The job left Forgejo's queue before a runner took it (cancelled or re-run)");
    }
    if (ar.status?.runnerId === undefined) return this.startRunner(ar);
    const job = this.deps.cache.jobs.get(runnerObjectName(ar), namespace);
    if (!job) return ar.status?.kubernetesJobName ? this.jobGone(ar) : this.createJob(ar);
    return this.mirror(ar);
  }

  private jobVanished(ar: AR): boolean {
    return this.listedByListener(ar, "vanishedActRunners") && !markedPickedUp(ar);
  }

  /** The listener saw the ActRunner's job running in Forgejo at its last poll: some runner took it. */
  private jobStarted(ar: AR): boolean {
    return this.listedByListener(ar, "startedActRunners");
  }

  /** The listener's last poll named this ActRunner in one of its RunnerDeployment's status lists. */
  private listedByListener(ar: AR, list: "vanishedActRunners" | "startedActRunners" | "endedActRunners"): boolean {
    return (this.deps.cache.runnerDeploymentOf(ar)?.status?.[list] ?? []).includes(ar.metadata!.name!);
  }

  /**
   * Starts the runner (runner-start.ts: register, Secret, Job) and records all of it in one status
   * write; until that write, the credentials are kept in memory. An ActRunner whose job attempt
   * another one serves yields.
   */
  private async startRunner(ar: AR): Promise<Requeue> {
    let started: Awaited<ReturnType<RunnerStarter["start"]>>;
    try {
      started = await this.starter.start(ar);
    } catch (error) {
      await this.reportStartFailure(ar, startFailure(ar, error, this.registrations.unrecordedFor(ar.metadata!.uid!)?.credentials));
      throw error;
    }
    if (started.kind === "wait") return 1_000;
    if (started.kind === "served") return this.yieldTo(ar, started.by);
    const record = startedRecord(ar, started.credentials, started.job);
    await this.patchStatus(ar, record.fields, record.conditions);
    this.registrations.forget(ar.metadata!.uid!);
    this.deps.events.event(ar, "Normal", "JobCreated", record.eventMessage);
    this.deps.onJobCreated?.(ar);
    return undefined;
  }

  /**
   * Why a runner could not be started (startFailure), on the ActRunner: phase Pending with the
   * reason, the failed step's condition False and a Warning Event when that changes. The reconcile
   * is retried with backoff; a refused token is read from its Secret again then, as it may have
   * been replaced.
   */
  private async reportStartFailure(ar: AR, failure: StartFailure | undefined): Promise<void> {
    if (!failure) return;
    if (failure.tokenRefused) this.deps.forgejo.expire(ar);
    const { reason, message } = failure.failed;
    const current = findCondition(ar.status?.conditions, failure.failed.type);
    if (current?.status === "False" && current.reason === reason && current.message === message) return;
    try {
      await this.patchStatus(ar, { phase: "Pending", reason, message }, failure.conditions);
      this.deps.events.event(ar, "Warning", failure.eventReason, message);
    } catch (writeError) {
      this.deps.logger.warn(
        { ar: `${ar.metadata!.namespace}/${ar.metadata!.name}`, err: writeError },
        "Failed to report why the runner could not start",
      );
    }
  }

  /**
   * Another ActRunner serves this one's job attempt: this one ends without a runner. A suspect's Job
   * (made by an interrupted pass for a runner that is gone) goes too.
   */
  private async yieldTo(ar: AR, servedBy: ActRunnerRef): Promise<Requeue> {
    if (this.deps.cache.jobs.get(runnerObjectName(ar), ar.metadata!.namespace))
      await deleteRunnerJob(this.batch, runnerObjectName(ar), ar.metadata!.namespace!);
    const message =
      `Forgejo job ${ar.spec.forgejoJobID} (attempt ${ar.spec.jobData.attempt ?? 0}) is served by ActRunner ` +
      `${servedBy.namespace}/${servedBy.name}; no runner was started for this one. Another RunnerDeployment on the same ` +
      `Forgejo server lists the same jobs: give each RunnerDeployment label names of its own, so that each job goes to one of them`;
    return this.fail(ar, "DuplicateJob", message);
  }

  /**
   * The Job the status names is not in the cache: the cache lags, or the Job was deleted from
   * outside (kubectl, a cleanup policy) — it is never made again, as its runner may have taken and
   * lost its job with it (jobGoneOutcome says how the ActRunner ends).
   */
  private async jobGone(ar: AR): Promise<Requeue> {
    const name = ar.status!.kubernetesJobName!;
    const namespace = ar.metadata!.namespace!;
    // Still there: the cache shows it soon, and its event brings the ActRunner back.
    if (await ignoreNotFound(this.batch.readNamespacedJob({ name, namespace }))) return undefined;
    const { reason, message } = jobGoneOutcome(ar, Date.now());
    return reason === "PickupTimeout" ? this.stop(ar, reason, message) : this.fail(ar, reason, message);
  }

  /**
   * The status names a runner but no Job (startRunner records both at once; a status written by hand,
   * as the resilience tests do, may not): the Job is created, or found when the cache lags.
   */
  private async createJob(ar: AR): Promise<Requeue> {
    let job: V1Job | undefined;
    try {
      job = await this.starter.ensureJob(ar, ar.status!.runnerUUID!);
    } catch (error) {
      await this.reportStartFailure(ar, startFailure(ar, error, undefined));
      throw error;
    }
    if (!job) return 1_000;
    await this.patchStatus(ar, { kubernetesJobName: job.metadata!.name }, [jobCreatedCondition(job)]);
    this.deps.events.event(ar, "Normal", "JobCreated", `Created Job ${job.metadata!.name} for Forgejo job ${ar.spec.forgejoJobID}`);
    this.deps.onJobCreated?.(ar);
    return undefined;
  }

  /** Mirrors the Job into the status, and enforces the pickup timeout while the job waits. */
  private async mirror(ar: AR): Promise<Requeue> {
    const job = this.deps.cache.jobs.get(runnerObjectName(ar), ar.metadata!.namespace)!;
    const { observed, nextLookInMs, secretGone } = await this.observe(ar, job);
    const pickedUp = markedPickedUp(ar);
    const now = Date.now();
    if (observed.phase === "Pending" || observed.phase === "Running") {
      const jobCreated = new Date(job.metadata?.creationTimestamp ?? now).getTime();
      const deadline = jobCreated + pickupTimeoutMs(ar);
      if (!pickedUp) {
        if (secretGone) {
          const message =
            `Runner Secret ${runnerSecretName(ar)} was deleted before the runner pod started, so the runner could never read its ` +
            `token; its Job was deleted and, while Forgejo job ${ar.spec.forgejoJobID} waits, the listener starts another runner for it`;
          return this.stop(ar, "RunnerSecretDeleted", message);
        }
        const started = this.jobStarted(ar);
        const picked = observed.phase === "Running" && this.pickupCheckDue(ar, started, now >= deadline) && (await this.pickedUp(ar));
        if (picked) {
          await this.updateFromObserved(ar, observed, [PICKED_UP]);
          return undefined;
        }
        if (now >= deadline) return this.stop(ar, "PickupTimeout", await this.pickupTimeoutMessage(ar, job, observed));
        await this.updateFromObserved(ar, observed, []);
        const untilDeadline = Math.max(deadline - now, 0) + 100;
        return Math.min(untilDeadline, started ? this.deps.pickupCheckIntervalMs : Infinity, nextLookInMs ?? Infinity);
      }
      const lost = await this.runnerLost(ar, now);
      if (lost.message) return this.stop(ar, "RunnerLost", lost.message);
      await this.updateFromObserved(ar, observed, []);
      const lookAgainInMs = Math.min(lost.lookAgainInMs ?? Infinity, nextLookInMs ?? Infinity);
      return Number.isFinite(lookAgainInMs) ? lookAgainInMs : undefined;
    }
    await this.updateFromObserved(ar, observed, []);
    return observed.phase === "Succeeded" || observed.phase === "Failed" ? 0 : nextLookInMs;
  }

  /** A picked-up runner that Forgejo is done with but whose pod runs on (lost-runners.ts): `message` says why it is stopped; else when to look again. */
  private async runnerLost(ar: AR, now: number): Promise<{ lookAgainInMs?: number; message?: string }> {
    const verdict = await this.lostRunners.check(ar.metadata!.uid!, this.listedByListener(ar, "endedActRunners"), now, async () => {
      const { client, scope } = await this.deps.forgejo.for(ar);
      return (await client.getRegisteredRunner(scope, registeredRunner(ar))) !== undefined;
    });
    if (!verdict.lost) return { lookAgainInMs: verdict.lookAgainInMs };
    return {
      message:
        `Forgejo ended job ${ar.spec.forgejoJobID} and removed its runner, but the runner pod still ran ${formatDuration(this.deps.lostRunnerGraceMs)} later ` +
        `(a node that is gone, or a hung runner; --lost-runner-grace): its Job was deleted, so that it holds no place of spec.maxRunners`,
    };
  }

  /** Why a runner is stopped at its pickup timeout: the last reason its pod waited for, or the end of the log of a runner that ran. */
  private async pickupTimeoutMessage(ar: AR, job: V1Job, observed: ObservedRunner): Promise<string> {
    if (observed.phase === "Pending") return notStartedMessage(ar, observed);
    const timeout = pickupTimeout(ar);
    const text = `The runner did not pick up Forgejo job ${ar.spec.forgejoJobID} within ${timeout} (spec.pickupTimeout); the job may wait behind a concurrency group or have been cancelled`;
    const log = await this.runnerLogTail(ar, job);
    return log ? `${text}. The runner's last log lines: ${log}` : text;
  }

  /**
   * The Job's view, made precise from its pods when planPodLook says; nextLookInMs: when to read them
   * again; secretGone: a look found the pod not started and the runner Secret it mounts deleted, so
   * it can never start (the kubelet waits for the Secret).
   */
  private async observe(ar: AR, job: V1Job): Promise<{ observed: ObservedRunner; nextLookInMs?: number; secretGone?: boolean }> {
    const exited = exitedAwaitingJob(job, ar.status);
    if (exited) return { observed: exited };
    const uid = ar.metadata!.uid!;
    const fromJob = observeJob(job, []);
    const now = Date.now();
    if (fromJob.phase !== "Pending") this.lastPodLook.delete(uid);
    const look = planPodLook(job, fromJob, ar.status?.phase, this.lastPodLook.get(uid), now);
    if (!look.now) return { observed: sinceLastLook(fromJob, ar.status), nextLookInMs: look.nextInMs };
    if (fromJob.phase === "Pending") this.lastPodLook.set(uid, now);
    const pods = await runnerPods(this.deps.rest, job);
    const observed = observeJob(job, pods, pods.length === 0 ? await podCreationError(this.deps.rest, job) : undefined);
    // Only a runner that has not taken its job is stopped for a deleted Secret (mirror), so only then is it read.
    const secretGone = observed.phase === "Pending" && !markedPickedUp(ar) && !(await this.runnerSecretExists(ar));
    return { observed, nextLookInMs: look.nextInMs === undefined ? undefined : look.nextInMs + 100, secretGone };
  }

  private async runnerSecretExists(ar: AR): Promise<boolean> {
    const read = this.core.readNamespacedSecret({ name: runnerSecretName(ar), namespace: ar.metadata!.namespace! });
    return (await ignoreNotFound(read)) !== undefined;
  }

  /**
   * The runner's last log lines — why a runner stopped for not taking its job never took it
   * (Forgejo unreachable, a certificate refused) — read before its pod goes with the Job; undefined
   * when there are none or they cannot be read (the reason is logged).
   */
  private async runnerLogTail(ar: AR, job: V1Job): Promise<string | undefined> {
    try {
      return await runnerLogTail(this.deps.rest, this.core, job);
    } catch (error) {
      this.deps.logger.info(
        { ar: `${ar.metadata!.namespace}/${ar.metadata!.name}`, err: apiErrorMessage(error) },
        "Could not read the runner's log to quote it in the PickupTimeout message",
      );
      return undefined;
    }
  }

  /**
   * Forgejo is asked whether the runner took its job only when the listener saw the job running
   * (at most once per --pickup-check-interval while it keeps seeing it so), and always before the
   * pickup timeout stops the runner: a runner waiting behind a concurrency group costs no calls.
   */
  private pickupCheckDue(ar: AR, jobStarted: boolean, deadlinePassed: boolean): boolean {
    if (!jobStarted && !deadlinePassed) return false;
    const uid = ar.metadata!.uid!;
    const now = Date.now();
    const last = this.lastPickupCheck.get(uid);
    if (!deadlinePassed && last !== undefined && now - last < this.deps.pickupCheckIntervalMs) return false;
    this.lastPickupCheck.set(uid, now);
    return true;
  }

  /** True when Forgejo shows the runner busy (or already gone: an ephemeral runner is deleted when its job ends). */
  private async pickedUp(ar: AR): Promise<boolean> {
    const { client, scope } = await this.deps.forgejo.for(ar);
    const runner = await client.getRegisteredRunner(scope, registeredRunner(ar));
    return runner === undefined || runner.status === "active";
  }

  private async updateFromObserved(ar: AR, observed: ReturnType<typeof observeJob>, extra: ConditionInput[]): Promise<void> {
    const status: Partial<ActRunnerStatus> = {
      phase: observed.phase,
      reason: observed.reason,
      message: observed.message,
      ...(observed.startedAt && !ar.status?.startedAt ? { startedAt: observed.startedAt } : {}),
      ...(observed.completedAt ? { completedAt: observed.completedAt } : {}),
    };
    await this.patchStatus(ar, status, extra);
  }

  /** Stops a runner that must not run: deletes its Job; the Forgejo runner goes in afterFinish. */
  private async stop(ar: AR, reason: string, message: string): Promise<Requeue> {
    const jobName = runnerObjectName(ar);
    await deleteRunnerJob(this.batch, jobName, ar.metadata!.namespace!);
    await this.fail(ar, reason, message);
    this.deps.events.event(ar, "Warning", reason, message);
    return 0;
  }

  /** Ends the ActRunner as Failed (the Forgejo runner goes in afterFinish, which the returned 0 brings on). */
  private async fail(ar: AR, reason: string, message: string): Promise<Requeue> {
    await this.patchStatus(ar, { phase: "Failed", reason, message, completedAt: new Date().toISOString() }, []);
    return 0;
  }

  private async afterFinish(ar: AR): Promise<Requeue> {
    let requeue: Requeue;
    if (ar.status?.runnerId !== undefined && findCondition(ar.status.conditions, "RunnerDeleted")?.status !== "True") {
      const waitMs = await this.podsOfDeletedJobEnding(ar);
      if (waitMs !== undefined) return waitMs;
      try {
        const { client, scope } = await this.cleanupClient(ar);
        const result = await client.deleteRegisteredRunner(scope, registeredRunner(ar));
        await this.patchStatus(ar, {}, [
          {
            type: "RunnerDeleted",
            status: "True",
            reason: result === "deleted" ? "Deleted" : "AlreadyGone",
            message:
              result === "deleted" ? "Deleted the ephemeral runner from Forgejo" : "Forgejo had already removed the ephemeral runner",
          },
        ]);
      } catch (error) {
        this.deps.logger.warn(
          { ar: `${ar.metadata!.namespace}/${ar.metadata!.name}`, err: error },
          "Failed to delete the Forgejo runner; will retry",
        );
        requeue = 30_000;
      }
    }
    const completed = new Date(ar.status?.completedAt ?? ar.metadata?.creationTimestamp ?? Date.now()).getTime();
    const retention = parseDuration(ar.spec.retentionAfterFinish ?? DEFAULT_RETENTION_AFTER_FINISH) ?? 600_000;
    const left = completed + retention - Date.now();
    if (left > 0) return Math.min(left, requeue ?? left);
    await ignoreNotFound(
      this.custom.deleteNamespacedCustomObject({ ...RESOURCE, namespace: ar.metadata!.namespace!, name: ar.metadata!.name! }),
    );
    this.deps.logger.info(
      { ar: `${ar.metadata!.namespace}/${ar.metadata!.name}`, phase: ar.status?.phase },
      "Deleted finished ActRunner after its retention",
    );
    return undefined;
  }

  /**
   * A runner Job deleted from outside while its runner ran its job: its pods are being stopped
   * (the garbage collector deletes them; on SIGTERM the runner cancels the job and reports it), and
   * the runner is deleted from Forgejo only once they ended — else the report is lost and Forgejo
   * shows the job running until it reaps it as a zombie. Waits up to the pods' grace period and a
   * margin after the ActRunner ended (a pod on a lost node never ends; one orphaned by
   * `--cascade=orphan` is not stopped). The controller watches no runner pods, so it looks again
   * every POD_END_POLL_MS. Returns the delay to look again, or undefined to go on.
   */
  private async podsOfDeletedJobEnding(ar: AR): Promise<Requeue> {
    if (ar.status?.reason !== "JobDeleted" || !markedPickedUp(ar)) return undefined;
    const pods = await unendedRunnerPods(this.deps.rest, ar.metadata!.namespace!, runnerObjectName(ar));
    if (pods.length === 0) return undefined;
    const waitMs = Math.max(...pods.map((pod) => stoppingPodWaitMs(pod.spec)));
    const left = new Date(ar.status.completedAt ?? 0).getTime() + waitMs - Date.now();
    if (left <= 0) return undefined;
    this.deps.logger.debug(
      { ar: `${ar.metadata!.namespace}/${ar.metadata!.name}`, pods: pods.map((pod) => pod.metadata?.name) },
      "Waiting for the pods of the deleted runner Job to end before deleting the Forgejo runner",
    );
    return Math.min(left, POD_END_POLL_MS);
  }

  private async finalize(ar: AR): Promise<Requeue> {
    if (!ar.metadata?.finalizers?.includes(FINALIZER)) return undefined;
    const runnerGone = findCondition(ar.status?.conditions, "RunnerDeleted")?.status === "True";
    const uid = ar.metadata.uid!;
    try {
      const unrecorded = this.registrations.unrecordedFor(uid);
      const suspect = this.registrations.isSuspect(uid);
      let readFirst: { runner: ForgejoRunner | undefined } | undefined;
      if (!runnerGone && ar.status?.runnerId !== undefined) {
        const stopping = await this.stopRunningJobFirst(ar);
        if (stopping.waitMs !== undefined) return stopping.waitMs;
        readFirst = stopping.read;
      }
      // An ActRunner that never had a runner needs no Forgejo call (nor its token Secret, maybe gone with the namespace).
      if (!runnerGone && (ar.status?.runnerId !== undefined || unrecorded || suspect)) {
        const { client, scope } = await this.cleanupClient(ar);
        if (ar.status?.runnerId !== undefined) {
          // The runner stopRunningJobFirst read (its id's runner if the uuid was the recorded one), else read now.
          if (!readFirst) await client.deleteRegisteredRunner(scope, registeredRunner(ar));
          else if (readFirst.runner) await client.deleteRunner(scope, readFirst.runner.id);
        }
        if (unrecorded) await client.deleteRegisteredRunner(scope, unrecorded.credentials);
        // An earlier leader or process may have registered a runner it did not live to record.
        if (suspect) {
          const runnerName = forgejoRunnerName(ar);
          for (const runner of await this.registrations.runnersFor(uid, listingKey(ar.spec.forgejoServer, scope), () =>
            client.listRunners(scope),
          ))
            if (runner.name === runnerName) await client.deleteRunner(scope, runner.id);
        }
      }
    } catch (error) {
      const message = this.givingUpCleanup(ar, error);
      if (message === undefined) throw error;
      this.deps.events.event(ar, "Warning", "RunnerCleanupAbandoned", message);
      this.deps.onRunnerCleanupAbandoned?.(ar);
      this.deps.logger.warn({ ar: `${ar.metadata.namespace}/${ar.metadata.name}` }, message);
    }
    await this.patchMetadata(ar, { finalizers: ar.metadata.finalizers.filter((f) => f !== FINALIZER) });
    this.registrations.forget(uid);
    return undefined;
  }

  /**
   * Before its Forgejo runner is deleted, a runner pod that runs its job is stopped: on SIGTERM the
   * runner cancels the job and reports it, which it cannot once its runner is deleted — Forgejo would
   * show the job running until it reaps it as a zombie, 10 minutes later. The Job is deleted in the
   * foreground, so it stays until its pods are gone; the finalizer waits for that up to the pods'
   * grace period and a margin (a pod on a lost node never ends); so it does for the pods of a Job
   * deleted from outside (podsOfDeletedJobEnding). A runner that has not taken its job
   * is deleted first instead, so that it takes none. `waitMs`: the delay to look again; else go on,
   * with the runner as Forgejo answered when it was read here (`read`).
   */
  private async stopRunningJobFirst(ar: AR): Promise<{ waitMs?: number; read?: { runner: ForgejoRunner | undefined } }> {
    const name = runnerObjectName(ar);
    const namespace = ar.metadata!.namespace!;
    const job = this.deps.cache.jobs.get(name, namespace);
    if (!job) {
      const waitMs = await this.podsOfDeletedJobEnding(ar);
      return waitMs === undefined ? {} : { waitMs };
    }
    if (jobEnded(job)) return {};
    const waitMs = stoppingPodWaitMs(job.spec?.template.spec);
    if (job.metadata?.deletionTimestamp) {
      const left = new Date(job.metadata.deletionTimestamp).getTime() + waitMs - Date.now();
      return left > 0 ? { waitMs: left } : {};
    }
    if (!markedPickedUp(ar)) {
      // Asked with the token last read, like the deletion: the token Secret may have gone with the RunnerDeployment.
      const { client, scope } = await this.cleanupClient(ar);
      const runner = await client.getRegisteredRunner(scope, registeredRunner(ar));
      if (runner?.status !== "active") return { read: { runner } };
    }
    await ignoreNotFound(this.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Foreground" }));
    this.deps.logger.info(
      { ar: `${namespace}/${ar.metadata!.name}`, job: name },
      "Stopping the runner pod before deleting its Forgejo runner, so that the runner reports its job cancelled",
    );
    return { waitMs };
  }

  /**
   * Why the finalizer lets go of a Forgejo runner it failed to delete, or undefined to try again:
   * after --runner-cleanup-timeout, or at once when the token Secret went with the RunnerDeployment
   * (and this process read no token before), as nothing can bring that token back.
   */
  private givingUpCleanup(ar: AR, error: unknown): string | undefined {
    const runner = ar.status?.runnerName ?? forgejoRunnerName(ar);
    const owner = this.deps.cache.runnerDeploymentOf(ar);
    if (error instanceof CredentialsMissing && (!owner || owner.metadata?.deletionTimestamp !== undefined))
      return `Gave up deleting Forgejo runner ${runner}: ${error.message}, and its RunnerDeployment is gone, so no token can come back; the orphan sweep deletes the runner if a RunnerDeployment of the same Forgejo scope remains (--orphan-sweep-interval), else delete it in Forgejo`;
    const deletingForMs = Date.now() - new Date(ar.metadata!.deletionTimestamp!).getTime();
    if (deletingForMs < this.deps.cleanupTimeoutMs) return undefined;
    return `Gave up deleting Forgejo runner ${runner} after ${Math.round(deletingForMs / 1000)}s: ${error instanceof Error ? error.message : String(error)}; the orphan sweep deletes it once Forgejo answers (--orphan-sweep-interval); if it stays listed, delete it in Forgejo`;
  }

  /** The Forgejo client that deletes the ActRunner's runner, with the token last read when its Secret is gone (forCleanup). */
  private async cleanupClient(ar: AR): Promise<{ client: ForgejoClient; scope: ForgejoScope }> {
    const { client, scope, lastKnownBecause } = await this.deps.forgejo.forCleanup(ar);
    if (lastKnownBecause)
      this.deps.logger.info(
        { ar: `${ar.metadata!.namespace}/${ar.metadata!.name}`, gone: lastKnownBecause },
        "Deleting the Forgejo runner with the token and CA bundle last read: their Secret or ConfigMap is gone",
      );
    return { client, scope };
  }

  private async patchMetadata(ar: AR, metadata: Record<string, unknown>): Promise<AR> {
    const updated = await this.deps.rest.request<AR>(
      "PATCH",
      actRunnerPath(ar),
      { metadata: { ...metadata, resourceVersion: ar.metadata!.resourceVersion } },
      MERGE_PATCH,
    );
    this.superseded.replaced(ar);
    return updated;
  }

  /** Writes status fields and conditions when they changed; an Event and a callback per phase change. */
  private async patchStatus(ar: AR, fields: Partial<ActRunnerStatus>, conditions: ConditionInput[]): Promise<AR> {
    const status = nextStatus(ar, fields, conditions, new Date());
    if (!status) return ar;
    const current = (ar.status ?? {}) as Partial<ActRunnerStatus>;
    // The resourceVersion makes the write conditional: a decision made on stale data fails with 409.
    const updated = await this.deps.rest.request<AR>(
      "PATCH",
      `${actRunnerPath(ar)}/status`,
      { metadata: { resourceVersion: ar.metadata!.resourceVersion }, status },
      MERGE_PATCH,
    );
    this.superseded.replaced(ar);
    if (fields.phase && fields.phase !== current.phase) {
      this.deps.onPhase?.(updated, fields.phase, current.phase);
      // Events expire (an hour by default); the log keeps every runner's course for later searches.
      const failure = fields.phase === "Failed" && fields.reason !== "JobVanished";
      this.deps.logger[failure ? "warn" : "info"](
        {
          ar: `${ar.metadata!.namespace}/${ar.metadata!.name}`,
          jobId: ar.spec.forgejoJobID,
          phase: fields.phase,
          previousPhase: current.phase,
          reason: fields.reason,
          message: fields.message,
          job: updated.status?.kubernetesJobName,
          runner: updated.status?.runnerName,
        },
        `ActRunner ${fields.phase}`,
      );
      if (fields.phase === "Running" || fields.phase === "Succeeded") {
        this.deps.events.event(ar, "Normal", fields.phase, fields.message ?? `ActRunner is ${fields.phase}`);
      } else if (fields.phase === "Failed" && fields.reason !== "PickupTimeout" && fields.reason !== "JobVanished") {
        this.deps.events.event(ar, "Warning", fields.reason ?? "Failed", fields.message ?? "The runner failed");
      }
    }
    return updated;
  }
}

/**
 * The status patch that writes `fields` and sets `conditions` (observedGeneration with them), or
 * undefined when the ActRunner's status already says all of it.
 */
export function nextStatus(
  ar: AR,
  fields: Partial<ActRunnerStatus>,
  conditions: ConditionInput[],
  now: Date,
): Partial<ActRunnerStatus> | undefined {
  let nextConditions: Condition[] = ar.status?.conditions ?? [];
  for (const input of conditions) nextConditions = setCondition(nextConditions, input, ar.metadata?.generation, now);
  const status: Partial<ActRunnerStatus> = { ...fields, observedGeneration: ar.metadata?.generation, conditions: nextConditions };
  const current = (ar.status ?? {}) as Partial<ActRunnerStatus>;
  return (Object.keys(status) as (keyof ActRunnerStatus)[]).every((key) => isDeepStrictEqual(current[key], status[key]))
    ? undefined
    : status;
}

type FailedCondition = ConditionInput & { status: "False"; reason: string; message: string };

/** How a failed start shows on the ActRunner (reportStartFailure). */
export interface StartFailure {
  /** The condition of the step that failed, False with the reason and message. */
  failed: FailedCondition;
  conditions: ConditionInput[];
  eventReason: "RegistrationFailed" | "FailedCreate";
  /** Forgejo refused the token: the ActRunner's Forgejo client reads its Secret again at the next try. */
  tokenRefused: boolean;
}

/**
 * What a failed start says, or undefined for a failure the ActRunner does not show (a conflict, an
 * API server that did not answer: retried with backoff and logged). Shown: a registration
 * Forgejo refused or did not answer, a token Secret or CA bundle that is missing (Registered=False,
 * Event RegistrationFailed; the RunnerDeployment's TokenValid shows a refused token), and a runner
 * Secret or Job the API server refused to create (JobCreated=False, reason and Event FailedCreate;
 * `registered`, the runner this pass registered, makes Registered True, as the start got past it).
 */
export function startFailure(ar: AR, error: unknown, registered: RunnerCredentials | undefined): StartFailure | undefined {
  if (error instanceof RunnerObjectRefused) {
    const failed: FailedCondition = {
      type: "JobCreated",
      status: "False",
      reason: "FailedCreate",
      message: `Could not start the runner: ${error.message}`,
    };
    return {
      failed,
      conditions: registered ? [registeredCondition(ar, registered), failed] : [failed],
      eventReason: "FailedCreate",
      tokenRefused: false,
    };
  }
  const reason = error instanceof ForgejoError ? failureReason(error.kind) : error instanceof CredentialsMissing ? error.reason : undefined;
  if (!reason) return undefined;
  const failed: FailedCondition = {
    type: "Registered",
    status: "False",
    reason,
    message: `Could not register a Forgejo runner: ${(error as Error).message}`,
  };
  return {
    failed,
    conditions: [failed],
    eventReason: "RegistrationFailed",
    tokenRefused: isForgejoError(error, "unauthorized") || isForgejoError(error, "forbidden"),
  };
}

const MERGE_PATCH = "application/merge-patch+json";

/** How long past its pods' grace period the finalizer waits for a stopped runner Job to be gone. */
const STOPPED_POD_MARGIN_MS = 15_000;

/** The longest wait for a runner pod being stopped: its grace period and a margin (a pod on a lost node never ends). */
function stoppingPodWaitMs(spec: V1PodSpec | undefined): number {
  return (spec?.terminationGracePeriodSeconds ?? 30) * 1000 + STOPPED_POD_MARGIN_MS;
}

/** How often the pods of a runner Job deleted from outside are looked at until they ended. */
const POD_END_POLL_MS = 2_000;

const PICKED_UP: ConditionInput = { type: "PickedUp", status: "True", reason: "PickedUp", message: "The runner took its job from Forgejo" };

function actRunnerPath(ar: AR): string {
  return `/apis/${API_GROUP}/${API_VERSION}/namespaces/${encodeURIComponent(ar.metadata!.namespace!)}/actrunners/${encodeURIComponent(ar.metadata!.name!)}`;
}

/** The Forgejo runner the status records: its id, and its uuid to tell it from another runner given that id later. */
function registeredRunner(ar: AR): { id: number; uuid?: string } {
  return { id: ar.status!.runnerId!, uuid: ar.status!.runnerUUID };
}
