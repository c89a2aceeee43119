// What one poll should do, decided from Forgejo's answer and the cached ActRunners: pure, so the
// rules (oldest first, no duplicates, maxRunners, retries, vanished and started jobs) are tested
// without I/O.
import type { ActRunner, ActRunnerSpec, ForgejoJob, RunnerDeployment } from "../generated/api.ts";
import { scopeFieldsOf } from "../api/names.ts";
import { fitName, hashOf } from "../api/naming.ts";
import { actRunnerAttemptKey, jobAttemptKey } from "../api/overlap.ts";
import { propagatedLabels } from "../api/propagated-labels.ts";
import { scopeFromSpec, scopePrefix, type ForgejoScope } from "../forgejo/scope.ts";
import { API_GROUP_VERSION } from "../api/schemas.ts";
import { FINALIZER, LABELS } from "../api/well-known.ts";

/**
 * How many runners a job attempt gets while it waits, one after the other: a runner whose pod failed
 * before it took the job is followed by another after RETRY_DELAY_MS, doubled for each further try.
 */
export const RUNNER_TRIES = 3;
export const RETRY_DELAY_MS = 10_000;
/** Failures after which the job is not tried again at once: it waited its full pickup timeout, another ActRunner serves it, or it left. */
const NOT_RETRIED: ReadonlySet<string> = new Set(["PickupTimeout", "DuplicateJob", "JobVanished"]);

/**
 * "<runnerdeployment>-<job id>-<attempt>", "-try<n>" appended from the second try on; the
 * RunnerDeployment part shortened with a hash to fit 63. With `handle`, a hash of it is appended:
 * the name of a job attempt whose plain name an ActRunner of another job attempt holds (one made
 * for the same job id and attempt by another Forgejo server, or before Forgejo's database was
 * restored or reset).
 */
export function actRunnerName(runnerDeployment: string, jobId: number, attempt: number, tryNumber = 1, handle?: string): string {
  const handlePart = handle === undefined ? "" : `-${hashOf(handle).slice(0, 8)}`;
  return fitName(runnerDeployment, `-${jobId}-${attempt}${tryNumber > 1 ? `-try${tryNumber}` : ""}${handlePart}`);
}

export function isFinished(runner: ActRunner): boolean {
  return runner.status?.phase === "Succeeded" || runner.status?.phase === "Failed";
}

/** The controller saw the runner take its job (condition PickedUp). */
export function pickedUp(runner: ActRunner): boolean {
  return runner.status?.conditions?.some((c) => c.type === "PickedUp" && c.status === "True") ?? false;
}

export interface PollPlan {
  /** Waiting jobs to create ActRunners for, oldest first; tryNumber > 1 after runners that failed before taking the job. */
  create: { job: ForgejoJob; name: string; tryNumber: number }[];
  /** Waiting jobs without an ActRunner left for a later poll because maxRunners is reached. */
  overCapacity: number;
  /**
   * Unfinished ActRunners whose runner has not picked up the job, and whose job attempt Forgejo no
   * longer lists although the listing would show it (see inListing).
   */
  vanished: string[];
  /** Unfinished ActRunners not yet marked PickedUp whose job attempt Forgejo lists as running: some runner took it. */
  started: string[];
  /** Unfinished ActRunners marked PickedUp whose job attempt Forgejo no longer lists although the listing would show it: the job ended. */
  ended: string[];
  active: number;
}

export function planPoll(input: {
  runnerDeployment: string;
  /** Where and with which label names the jobs were listed. */
  listing: JobListing;
  /** Everything Forgejo listed (waiting and running). */
  jobs: ForgejoJob[];
  actRunners: ActRunner[];
  /** Names created by earlier polls that the cache has not shown yet: they exist and are active. */
  recentlyCreated?: string[];
  maxRunners?: number;
  /** spec.suspend: no ActRunner is created; the rest of the poll (vanished and started jobs) goes on. */
  suspended?: boolean;
  now?: number;
}): PollPlan {
  const cachedByName = new Map(input.actRunners.map((r) => [r.metadata?.name, r]));
  const unseen = new Set((input.recentlyCreated ?? []).filter((name) => !cachedByName.has(name)));
  let active = input.actRunners.filter((r) => !isFinished(r)).length + unseen.size;
  const waiting = input.jobs.filter((job) => job.status === "waiting").sort((a, b) => a.id - b.id);
  const create: PollPlan["create"] = [];
  let overCapacity = 0;
  const attemptOfJob = (job: ForgejoJob) => jobAttemptKey(input.listing.forgejoServer, job.handle);
  const triesByAttempt = new Map<string, ActRunner[]>();
  for (const r of input.actRunners) {
    const key = actRunnerAttemptKey(r);
    triesByAttempt.set(key, [...(triesByAttempt.get(key) ?? []), r]);
  }
  for (const job of input.suspended ? [] : waiting) {
    const key = attemptOfJob(job);
    const tryNumber = nextTry(triesByAttempt.get(key) ?? [], input.now ?? Date.now());
    if (tryNumber === undefined) continue;
    const plain = actRunnerName(input.runnerDeployment, job.id, job.attempt ?? 0, tryNumber);
    const ownName = actRunnerName(input.runnerDeployment, job.id, job.attempt ?? 0, tryNumber, job.handle);
    const holder = cachedByName.get(plain);
    const name = holder && actRunnerAttemptKey(holder) !== key ? ownName : plain;
    // A just-created one under either name (the holder of the plain name may have gone since).
    if (cachedByName.has(name) || unseen.has(plain) || unseen.has(ownName)) continue;
    if (input.maxRunners !== undefined && active >= input.maxRunners) {
      overCapacity++;
      continue;
    }
    create.push({ job, name, tryNumber });
    active++;
  }
  const listed = new Set(input.jobs.map(attemptOfJob));
  const running = new Set(input.jobs.filter((job) => job.status === "running").map(attemptOfJob));
  const inListing = listedIn(input.listing);
  // Unfinished ActRunners, not being deleted, whose job this listing would show.
  const live = input.actRunners.filter((r) => !isFinished(r) && !r.metadata?.deletionTimestamp && inListing(r));
  const unpicked = live.filter((r) => !pickedUp(r));
  const namesOf = (runners: ActRunner[]) => runners.map((r) => r.metadata!.name!).sort();
  const vanished = namesOf(unpicked.filter((r) => !listed.has(actRunnerAttemptKey(r))));
  const started = namesOf(unpicked.filter((r) => running.has(actRunnerAttemptKey(r))));
  const ended = namesOf(live.filter((r) => pickedUp(r) && !listed.has(actRunnerAttemptKey(r))));
  return { create, overCapacity, vanished, started, ended, active };
}

/** Where a listener lists jobs: the RunnerDeployment's server and scope, and its label names. */
export interface JobListing {
  forgejoServer: string;
  scope: ForgejoScope;
  labelNames: readonly string[];
}

/**
 * Whether the listing would show an ActRunner's job while it waits or runs: same server and scope,
 * and every label of its runs-on asked for (Forgejo lists a job only then). One made before the
 * RunnerDeployment's server, scope or labels changed may not be, and its absence says nothing: its
 * runner still runs it (one that never starts is stopped at its pickup timeout).
 */
function listedIn(listing: JobListing): (runner: ActRunner) => boolean {
  const labels = new Set(listing.labelNames);
  const prefix = scopePrefix(listing.scope);
  return (runner) =>
    runner.spec.forgejoServer === listing.forgejoServer &&
    scopePrefix(scopeFromSpec(runner.spec)) === prefix &&
    runner.spec.jobData.runs_on.every((label) => labels.has(label));
}

/** The number of the next try for a waiting job attempt whose ActRunners are `tries`; undefined: none now. */
function nextTry(tries: ActRunner[], now: number): number | undefined {
  if (tries.length === 0) return 1;
  if (tries.length >= RUNNER_TRIES) return undefined;
  const failedBeforePickup = (r: ActRunner) => r.status?.phase === "Failed" && !pickedUp(r) && !NOT_RETRIED.has(r.status.reason ?? "");
  if (!tries.every(failedBeforePickup)) return undefined;
  const lastEnd = Math.max(...tries.map((r) => new Date(r.status?.completedAt ?? r.metadata?.creationTimestamp ?? now).getTime() || now));
  return now >= lastEnd + RETRY_DELAY_MS * 2 ** (tries.length - 1) ? tries.length + 1 : undefined;
}

/** The ActRunner's labels: its RunnerDeployment's (those passed on, see propagatedLabels) and the operator's own. */
export function actRunnerLabels(rd: RunnerDeployment, job: ForgejoJob, labelPropagationExclude: readonly string[]): Record<string, string> {
  return {
    ...propagatedLabels(rd.metadata?.labels, labelPropagationExclude),
    [LABELS.runnerDeployment]: rd.metadata!.name!,
    [LABELS.jobId]: String(job.id),
    [LABELS.jobAttempt]: String(job.attempt ?? 0),
    [LABELS.repositoryId]: String(job.repo_id),
    ...(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(job.handle) ? { [LABELS.jobHandle]: job.handle } : {}),
    [LABELS.managedBy]: "forgejo-arc",
  };
}

/** What a listener runs with, which goes into the ActRunners it makes. */
export interface ListenerRunsWith {
  forgejoServer: string;
  /** Runner labels, comma-separated. */
  labels: string;
  namespace: string;
  labelPropagationExclude: readonly string[];
}

/**
 * The ActRunner a listener creates for a waiting job, owned by its RunnerDeployment. The finalizer
 * is set here so that the controller need not add it (one write fewer per job); the controller adds
 * it to ActRunners made otherwise.
 */
export function newActRunner(rd: RunnerDeployment, job: ForgejoJob, name: string, runsWith: ListenerRunsWith): ActRunner {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: "ActRunner",
    metadata: {
      name,
      namespace: runsWith.namespace,
      labels: actRunnerLabels(rd, job, runsWith.labelPropagationExclude),
      finalizers: [FINALIZER],
      ownerReferences: [
        { apiVersion: API_GROUP_VERSION, kind: "RunnerDeployment", name: rd.metadata!.name!, uid: rd.metadata!.uid!, controller: true },
      ],
    },
    spec: actRunnerSpec(rd, job, runsWith),
  };
}

/**
 * The spec of the ActRunner for a waiting job: the job as Forgejo returned it (long lists cut to the
 * schema's bounds) and its RunnerDeployment's runner settings, with the server, labels and namespace
 * the listener runs with.
 */
function actRunnerSpec(rd: RunnerDeployment, job: ForgejoJob, runsWith: ListenerRunsWith): ActRunnerSpec {
  return {
    forgejoJobID: job.id,
    jobHandle: job.handle,
    forgejoServer: runsWith.forgejoServer,
    ...scopeFieldsOf(rd.spec),
    tokenSecretRef: { ...rd.spec.tokenSecretRef, namespace: runsWith.namespace },
    labels: runsWith.labels,
    jobData: {
      ...job,
      name: job.name.slice(0, 1024),
      needs: job.needs ? job.needs.slice(0, 256) : null,
      runs_on: job.runs_on.slice(0, 64),
    },
    ...(rd.spec.runnerTemplate ? { jobTemplate: rd.spec.runnerTemplate } : {}),
    ...(rd.spec.runnerImage ? { runnerImage: rd.spec.runnerImage } : {}),
    ...(rd.spec.caBundleConfigMapRef ? { caBundleConfigMapRef: rd.spec.caBundleConfigMapRef } : {}),
    ...(rd.spec.pickupTimeout ? { pickupTimeout: rd.spec.pickupTimeout } : {}),
    ...(rd.spec.retentionAfterFinish ? { retentionAfterFinish: rd.spec.retentionAfterFinish } : {}),
  };
}
