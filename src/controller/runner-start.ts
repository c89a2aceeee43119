// Starting an ActRunner's runner: register an ephemeral Forgejo runner (or adopt the one an
// interrupted pass left), store its credentials in the runner Secret, create the Job. The reconciler
// (actrunner.ts) then records the runner in the status; until it does, the credentials are kept in
// memory (registrations.ts), so a retried pass reuses the runner instead of registering another. A
// suspect ActRunner first has its runners looked for in Forgejo: one whose credentials reached the
// Secret is adopted, every other runner of its name is deleted, and a Job made for a runner that was
// lost is deleted before a new one is created. An ActRunner whose job attempt another one serves
// registers nothing (job-attempts.ts).
import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Job, type V1Secret } from "@kubernetes/client-node";
import type { ForgejoClient } from "../forgejo/client.ts";
import type { ForgejoScope } from "../forgejo/scope.ts";
import type { ActRunnerStatus } from "../generated/api.ts";
import { apiErrorCode, apiErrorMessage, ignoreNotFound, isRefusal } from "../k8s/client.ts";
import type { RestClient } from "../k8s/rest.ts";
import type { Logger } from "../observability/log.ts";
import type { AR, ClusterCache } from "./cache.ts";
import type { ConditionInput } from "./conditions.ts";
import type { ForgejoClients } from "./forgejo-clients.ts";
import type { ActRunnerRef, Claim, JobAttempts } from "./job-attempts.ts";
import { observeJob } from "./job-status.ts";
import { listingKey, type Registrations, type RunnerCredentials, type Unrecorded } from "./registrations.ts";
import {
  forgejoRunnerDescription,
  forgejoRunnerName,
  runnerJob,
  runnerSecret,
  runnerSecretName,
  runnerUUIDOf,
  type RunnerJobOptions,
} from "./runner-job.ts";

export interface RunnerStarterDeps {
  kc: KubeConfig;
  rest: RestClient;
  cache: ClusterCache;
  logger: Logger;
  forgejo: ForgejoClients;
  job: RunnerJobOptions;
  clusterId: () => string | undefined;
  registrations: Registrations;
  jobAttempts: JobAttempts;
}

/**
 * `started`: the runner is registered, its Secret written and its Job exists; `wait`: look again in
 * a second (another ActRunner may be registering for the job attempt, or a Job made for a lost runner
 * is being deleted); `served`: another ActRunner serves the job attempt.
 */
export type StartResult =
  { kind: "started"; credentials: RunnerCredentials; job: V1Job } | { kind: "wait" } | { kind: "served"; by: ActRunnerRef };

export class RunnerStarter {
  private readonly deps: RunnerStarterDeps;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;

  constructor(deps: RunnerStarterDeps) {
    this.deps = deps;
    this.batch = deps.kc.makeApiClient(BatchV1Api);
    this.core = deps.kc.makeApiClient(CoreV1Api);
  }

  async start(ar: AR): Promise<StartResult> {
    const { registrations } = this.deps;
    const uid = ar.metadata!.uid!;
    const unrecorded = registrations.unrecordedFor(uid) ?? (await this.adoptOrRegister(ar));
    if ("kind" in unrecorded) return unrecorded.kind === "wait" ? { kind: "wait" } : { kind: "served", by: unrecorded.by };
    const credentials = unrecorded.credentials;
    if (!unrecorded.stored) {
      await this.writeRunnerSecret(ar, credentials);
      registrations.registered(uid, credentials, true);
    }
    const job = await this.ensureJob(ar, credentials.uuid);
    return job ? { kind: "started", credentials, job } : { kind: "wait" };
  }

  /** The runner Job for this uuid: created, or found. A Job made for another runner is deleted and undefined returned (retry once it is gone). */
  async ensureJob(ar: AR, uuid: string): Promise<V1Job | undefined> {
    const namespace = ar.metadata!.namespace!;
    const wanted = runnerJob(ar, uuid, this.deps.job);
    let job = this.deps.cache.jobs.get(wanted.metadata!.name!, namespace);
    if (!job) {
      try {
        job = await this.deps.rest.request<V1Job>("POST", `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`, wanted);
      } catch (error) {
        if (apiErrorCode(error) !== 409) throw creationError(`Job ${namespace}/${wanted.metadata!.name}`, error);
        job = await this.batch.readNamespacedJob({ name: wanted.metadata!.name!, namespace });
      }
    }
    if (runnerUUIDOf(job) === uuid) return job;
    await deleteRunnerJob(this.batch, wanted.metadata!.name!, namespace);
    this.deps.logger.info(
      { ar: `${namespace}/${ar.metadata!.name}`, job: wanted.metadata!.name },
      "Deleted a Job made for a runner an interrupted registration lost",
    );
    return undefined;
  }

  /**
   * A suspect's runner whose credentials reached the Secret, or else a newly registered runner (kept
   * in memory until the status names it), or else — the attempt being another ActRunner's — its claim.
   */
  private async adoptOrRegister(ar: AR): Promise<Unrecorded | Exclude<Claim, { kind: "claimed" }>> {
    const { registrations, jobAttempts } = this.deps;
    const uid = ar.metadata!.uid!;
    const { client, scope } = await this.deps.forgejo.for(ar);
    if (registrations.isSuspect(uid)) {
      const adopted = await this.recoverRunner(ar, client, scope);
      if (adopted) {
        registrations.registered(uid, adopted, true);
        jobAttempts.registered(ar);
        return { credentials: adopted, stored: true };
      }
      jobAttempts.release(uid);
    }
    const claim = jobAttempts.claim(ar);
    if (claim.kind !== "claimed") return claim;
    let registered: RunnerCredentials;
    try {
      registered = await client.registerRunner(scope, {
        name: forgejoRunnerName(ar),
        description: forgejoRunnerDescription(ar, this.deps.clusterId()),
        ephemeral: true,
      });
    } catch (error) {
      registrations.registrationFailed(uid, error);
      // A refusal made no runner and gives the claim up; after an unclear failure (a suspect now) the claim stands.
      if (!registrations.isSuspect(uid)) jobAttempts.release(uid);
      throw error;
    }
    registrations.registered(uid, registered);
    jobAttempts.registered(ar);
    return { credentials: registered, stored: false };
  }

  /** A plain create costs the API server far less than server-side apply; a Secret left by a lost registration is overwritten. */
  private async writeRunnerSecret(ar: AR, credentials: RunnerCredentials): Promise<void> {
    const secret = runnerSecret(ar, credentials, this.deps.job);
    const secrets = `/api/v1/namespaces/${encodeURIComponent(ar.metadata!.namespace!)}/secrets`;
    const refused = (error: unknown) => creationError(`runner Secret ${ar.metadata!.namespace}/${secret.metadata!.name}`, error);
    try {
      await this.deps.rest.request("POST", secrets, secret);
    } catch (error) {
      if (apiErrorCode(error) !== 409) throw refused(error);
      // Already there: written by an interrupted pass (same credentials), or holding a lost
      // runner's. Runner Secrets are immutable, so the latter is replaced.
      const path = `${secrets}/${encodeURIComponent(secret.metadata!.name!)}`;
      const existing = await this.deps.rest.request<V1Secret>("GET", path);
      if (Buffer.from(existing.data?.token ?? "", "base64").toString() === credentials.token) return;
      await ignoreNotFound(this.deps.rest.request("DELETE", path, { preconditions: { uid: existing.metadata!.uid } }));
      await this.deps.rest.request("POST", secrets, secret).catch((again: unknown) => {
        throw refused(again);
      });
    }
  }

  /** For a suspect: the runner whose credentials reached the Secret, if Forgejo has it; every other runner of the name is deleted. */
  private async recoverRunner(ar: AR, client: ForgejoClient, scope: ForgejoScope): Promise<RunnerCredentials | undefined> {
    const uid = ar.metadata!.uid!;
    const runnerName = forgejoRunnerName(ar);
    const listing = listingKey(ar.spec.forgejoServer, scope);
    const named = (await this.deps.registrations.runnersFor(uid, listing, () => client.listRunners(scope))).filter(
      (runner) => runner.name === runnerName,
    );
    let adopted: RunnerCredentials | undefined;
    if (named.length > 0) {
      const secret = await ignoreNotFound(
        this.core.readNamespacedSecret({ name: runnerSecretName(ar), namespace: ar.metadata!.namespace! }),
      );
      const field = (key: string) => (secret?.data?.[key] ? Buffer.from(secret.data[key], "base64").toString("utf8") : undefined);
      const stored = secret ? { id: Number(field("id")), uuid: field("uuid") ?? "", token: field("token") ?? "" } : undefined;
      for (const runner of named) {
        // The uuid too: after Forgejo's database was restored, the id may name another runner of this name.
        if (stored && runner.id === stored.id && runner.uuid === stored.uuid && stored.token) {
          adopted = stored;
          continue;
        }
        await client.deleteRunner(scope, runner.id);
        this.deps.logger.info(
          { ar: `${ar.metadata!.namespace}/${ar.metadata!.name}`, runnerId: runner.id },
          "Deleted a runner left by an interrupted registration",
        );
      }
    }
    this.deps.registrations.cleared(uid);
    return adopted;
  }
}

/**
 * The API server refused to create a runner Secret or Job with a 4xx answer: a used-up ResourceQuota,
 * a policy engine (an admission webhook or policy), a namespace being deleted. Trying again is right
 * (a quota frees up), but the ActRunner says why meanwhile.
 */
export class RunnerObjectRefused extends Error {
  constructor(object: string, apiMessage: string, options?: ErrorOptions) {
    super(`the API server refused to create ${object}: ${apiMessage}`, options);
    this.name = "RunnerObjectRefused";
  }
}

/** A failed create of `object`: RunnerObjectRefused for a refusal, else an error naming the object. */
export function creationError(object: string, error: unknown): Error {
  if (isRefusal(error)) return new RunnerObjectRefused(object, apiErrorMessage(error), { cause: error });
  return new Error(`creating ${object}: ${apiErrorMessage(error)}`, { cause: error });
}

/** The Registered condition of a runner Forgejo registered. */
export function registeredCondition(ar: AR, credentials: RunnerCredentials): ConditionInput {
  return {
    type: "Registered",
    status: "True",
    reason: "Registered",
    message: `Registered ephemeral runner ${forgejoRunnerName(ar)} (id ${credentials.id})`,
  };
}

/** What the status write and the JobCreated Event of a started runner say. */
export function startedRecord(
  ar: AR,
  credentials: RunnerCredentials,
  job: V1Job,
): { fields: Partial<ActRunnerStatus>; conditions: ConditionInput[]; eventMessage: string } {
  const runnerName = forgejoRunnerName(ar);
  const observed = observeJob(job, []);
  const registered = registeredCondition(ar, credentials);
  return {
    fields: {
      phase: observed.phase,
      reason: observed.reason,
      message: observed.message,
      runnerName,
      runnerId: credentials.id,
      runnerUUID: credentials.uuid,
      kubernetesJobName: job.metadata!.name,
    },
    conditions: [registered, jobCreatedCondition(job)],
    eventMessage: `${registered.message} in Forgejo and created Job ${job.metadata!.name} for Forgejo job ${ar.spec.forgejoJobID}`,
  };
}

/** The JobCreated condition, for a runner started here or a Job created for a runner registered before. */
export function jobCreatedCondition(job: V1Job): ConditionInput {
  return { type: "JobCreated", status: "True", reason: "JobCreated", message: `Created Job ${job.metadata!.name}` };
}

/** Deletes a runner Job (its pods in the background); one already gone is fine. */
export async function deleteRunnerJob(batch: BatchV1Api, name: string, namespace: string): Promise<void> {
  await ignoreNotFound(batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background" }));
}
