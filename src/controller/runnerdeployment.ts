// RunnerDeployment reconciler: checks the token Secret and the CA bundle ConfigMap, applies the
// listener's ServiceAccount, Role, RoleBinding and Deployment (owned by the RunnerDeployment, so
// deletion cascades; applied again periodically, so changes from outside are undone), and writes
// status and conditions when they changed, with an Event per condition transition.
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type V1ContainerStatus,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { X509Certificate } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { DEFAULT_CA_BUNDLE_KEY, DEFAULT_TOKEN_KEY, LISTENER_CONTAINER } from "../api/defaults.ts";
import { API_GROUP, API_VERSION } from "../api/schemas.ts";
import { hashOf } from "../api/naming.ts";
import type { Condition, RunnerDeploymentStatus } from "../generated/api.ts";
import { apiErrorCode, apiErrorMessage, isRefusal } from "../k8s/client.ts";
import type { EventRecorder } from "../k8s/events.ts";
import type { Logger } from "../observability/log.ts";
import { failureReason } from "../forgejo/errors.ts";
import { matchesLabels, SupersededVersions, type AR, type ClusterCache, type RD } from "./cache.ts";
import { findCondition, setCondition, transitions, type ConditionInput } from "./conditions.ts";
import { runnersHealthy } from "./runner-health.ts";
import {
  CONFIG_HASH_ANNOTATION,
  SPEC_GENERATION_ANNOTATION,
  listenerName,
  listenerResources,
  type ListenerOptions,
  type ListenerResources,
} from "./listener-resources.ts";
import { isFinished } from "../listener/plan.ts";
import { logTail } from "./job-status.ts";

const REFERENCE_CHECK_TTL_MS = 30_000;

/** The token Secret's check; `digest` (a hash of the token, never the token) goes into the listener's config hash. */
export type TokenCheck = { ok: true; digest?: string } | { ok: false; reason: "SecretNotFound" | "KeyNotFound"; message: string };
/** spec.caBundleConfigMapRef's ConfigMap, read by the controller, mounted by listener and runner pods. */
export type CaBundleCheck =
  { ok: true; message: string } | { ok: false; reason: "CABundleNotFound" | "CABundleKeyNotFound" | "CABundleInvalid"; message: string };

/** TokenValid: the Secret's check first, then Forgejo's answer to the listener's last poll, then to the controller's registrations. */
function tokenCondition(rd: RD, token: TokenCheck, refusal: RegistrationRefusal | undefined): ConditionInput {
  const error = rd.status?.lastPollError;
  const invalid = (reason: string, message: string): ConditionInput => ({ type: "TokenValid", status: "False", reason, message });
  if (!token.ok) return invalid(token.reason, token.message);
  if (error?.kind === "unauthorized") return invalid("Unauthorized", error.message);
  if (error?.kind === "forbidden") return invalid("Forbidden", error.message);
  if (refusal) return invalid(refusal.reason, `ActRunner ${refusal.actRunner}: ${refusal.message}`);
  return rd.status?.lastPollTime
    ? { type: "TokenValid", status: "True", reason: "Accepted", message: "Forgejo accepted the token at the last poll" }
    : {
        type: "TokenValid",
        status: "True",
        reason: "SecretFound",
        message: "The token Secret and key exist; Forgejo has not been asked yet",
      };
}

/** What the RunnerDeployment's conditions are made from, besides its status (the listener's last poll). */
export interface ListenerState {
  token: TokenCheck;
  deployment?: V1Deployment;
  listenerPod?: V1Pod;
  /** With spec.caBundleConfigMapRef: the ConfigMap's check. */
  caBundle?: CaBundleCheck;
  refusal?: RegistrationRefusal;
  /** The API server refused to apply one of the listener's objects: what it said. */
  applyRefused?: string;
}

/**
 * The conditions from what is known: the Secret, the listener's last poll, the listener's objects
 * (applied or refused), and with spec.caBundleConfigMapRef the ConfigMap.
 */
export function runnerDeploymentConditions(rd: RD, state: ListenerState): ConditionInput[] {
  const { token, deployment, listenerPod, caBundle, refusal, applyRefused } = state;
  const error = rd.status?.lastPollError;
  const tokenValid = tokenCondition(rd, token, refusal);
  // The listener's poll failed after Forgejo answered it: creating an ActRunner or writing the status.
  const clusterFailure = error?.kind === "kubernetes" ? error : undefined;
  const reachable: ConditionInput =
    error && error.kind !== "unauthorized" && error.kind !== "forbidden" && !clusterFailure
      ? { type: "ForgejoReachable", status: "False", reason: failureReason(error.kind), message: error.message }
      : rd.status?.lastPollTime || clusterFailure
        ? {
            type: "ForgejoReachable",
            status: "True",
            reason: "Polled",
            message: rd.status?.forgejoVersion
              ? `Forgejo ${rd.status.forgejoVersion} answered the last poll`
              : "Forgejo answered the last poll",
          }
        : { type: "ForgejoReachable", status: "Unknown", reason: "NotPolledYet", message: "The listener has not polled Forgejo yet" };
  const available = listenerAvailable(deployment, listenerPod, applyRefused, error);
  const caBundleValid: ConditionInput[] = caBundle
    ? [
        caBundle.ok
          ? { type: "CABundleValid", status: "True", reason: "Found", message: caBundle.message }
          : { type: "CABundleValid", status: "False", reason: caBundle.reason, message: caBundle.message },
      ]
    : [];
  const ready = readyCondition(state, clusterFailure, [tokenValid, ...caBundleValid, reachable, available], rd.spec.suspend === true);
  return [ready, tokenValid, ...caBundleValid, reachable, available];
}

/**
 * Ready: a refusal of the listener's objects first (the listener cannot start or change until its
 * cause is removed), then a poll that failed in the cluster (the listener's pod is unready for it),
 * then the first of the other conditions that is False — a cause, such as a listener that crashes,
 * rather than its consequence, a Forgejo not polled yet (Unknown) — else the first that is not True,
 * else spec.suspend.
 */
function readyCondition(
  { applyRefused, deployment }: ListenerState,
  clusterFailure: { message: string } | undefined,
  others: ConditionInput[],
  suspended: boolean,
): ConditionInput {
  const notReady = (reason: string, message: string): ConditionInput => ({ type: "Ready", status: "False", reason, message });
  if (applyRefused) return notReady("ApplyRefused", deployment ? `${applyRefused}; the listener runs as last applied` : applyRefused);
  if (clusterFailure) return notReady("KubernetesError", `The listener's last poll failed: ${clusterFailure.message}`);
  const failing = others.find((c) => c.status === "False") ?? others.find((c) => c.status !== "True");
  if (failing) return notReady(failing.reason, `${failing.type}: ${failing.message}`);
  if (suspended)
    return notReady(
      "Suspended",
      "spec.suspend is true: the listener creates no ActRunners, so jobs wait in Forgejo; those made before run their jobs to the end",
    );
  return { type: "Ready", status: "True", reason: "Ready", message: "The listener runs and Forgejo answers its polls" };
}

const IMAGE_PULL_FAILURES = new Set(["ErrImagePull", "ImagePullBackOff"]);
const LISTENER_PULL_HINT =
  " (listener pods run the operator's image: where its registry needs credentials, create an image pull Secret in this namespace " +
  "and name it in the chart's listener.imagePullSecrets, for every RunnerDeployment, or in spec.listenerTemplate.spec.imagePullSecrets)";

/**
 * How a crash-looping listener's last run ended, with the last line it wrote (its termination
 * message: the listener container keeps the end of its log there, FallbackToLogsOnError), so that
 * the condition says why without `kubectl logs --previous`.
 */
function lastRunOf(container: V1ContainerStatus | undefined): string {
  const ended = container?.lastState?.terminated;
  if (!ended) return "";
  const oom =
    ended.reason === "OOMKilled"
      ? " (out of memory: raise resources.limits.memory of the listener container in spec.listenerTemplate, or for every listener in the chart's listener.podTemplate)"
      : "";
  const lastLine = logTail(ended.message).split("\n").at(-1);
  return `; its last run ended ${ended.reason ?? "terminated"} with exit code ${ended.exitCode}${oom}${lastLine ? `: ${lastLine}` : ""}`;
}

/**
 * ListenerAvailable: the Deployment's available replica, else why not — its objects refused by the
 * API server (none created), the listener pod's waiting container or the scheduler's reason, the
 * Deployment unable to create the pod (a used-up ResourceQuota, a LimitRange, Pod Security
 * admission: its ReplicaFailure), or a listener that runs but is unready because its polls fail
 * (its readiness is that of its polls, so a Forgejo outage makes it unready, never restarted).
 */
function listenerAvailable(
  deployment: V1Deployment | undefined,
  listenerPod: V1Pod | undefined,
  applyRefused: string | undefined,
  pollError: { kind: string } | undefined,
): ConditionInput {
  const unavailable = (reason: string, message: string): ConditionInput => ({
    type: "ListenerAvailable",
    status: "False",
    reason,
    message,
  });
  if ((deployment?.status?.availableReplicas ?? 0) >= 1) {
    const message = listenerPod?.metadata?.name ? `Listener pod ${listenerPod.metadata.name} is ready` : "The listener is ready";
    return { type: "ListenerAvailable", status: "True", reason: "Available", message };
  }
  if (!deployment)
    return applyRefused
      ? unavailable("ApplyRefused", applyRefused)
      : unavailable("NotCreated", "The listener Deployment does not exist yet");
  const waitingContainer = listenerPod?.status?.containerStatuses?.find((c) => c.state?.waiting);
  const waiting = waitingContainer?.state?.waiting;
  if (waiting?.reason)
    return unavailable(
      waiting.reason,
      `Listener pod ${listenerPod?.metadata?.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}` +
        (IMAGE_PULL_FAILURES.has(waiting.reason) ? LISTENER_PULL_HINT : "") +
        (waiting.reason === "CrashLoopBackOff" ? lastRunOf(waitingContainer) : ""),
    );
  const unscheduled = listenerPod?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unscheduled)
    return unavailable(
      unscheduled.reason ?? "Unschedulable",
      `Listener pod ${listenerPod?.metadata?.name}: ${unscheduled.message ?? "cannot be scheduled"}`,
    );
  const replicaFailure = deployment.status?.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  if (replicaFailure)
    return unavailable(
      replicaFailure.reason ?? "FailedCreate",
      `Listener Deployment ${deployment.metadata?.name} cannot create its pod: ${replicaFailure.message ?? replicaFailure.reason}`,
    );
  const listening = listenerPod?.status?.containerStatuses?.find((c) => c.name === LISTENER_CONTAINER)?.state?.running;
  if (listening && pollError)
    return unavailable(
      "PollFailing",
      `Listener pod ${listenerPod?.metadata?.name} runs but is not ready: its last poll failed (see ${POLL_ERROR_CONDITION[pollError.kind] ?? "ForgejoReachable"}); it is ready again after a poll succeeds`,
    );
  if (listening)
    return unavailable(
      "NotReady",
      `Listener pod ${listenerPod?.metadata?.name} runs and is not ready yet: it is ready after its first poll of Forgejo`,
    );
  return unavailable("NotReady", "The listener pod is not ready yet");
}

/** The condition that tells what a failed poll met, by the kind the listener reports. */
const POLL_ERROR_CONDITION: Record<string, string> = { unauthorized: "TokenValid", forbidden: "TokenValid", kubernetes: "Ready" };

/**
 * What the API server said when it refused to apply one of the listener's objects with a 4xx answer
 * (a policy engine, a ResourceQuota on the object count, a namespace being deleted), or undefined
 * for another failure (retried with backoff, logged).
 */
export function applyRefusal(object: KubernetesObject, error: unknown): string | undefined {
  if (!isRefusal(error)) return undefined;
  return `The API server refused to apply ${object.kind} ${object.metadata?.namespace}/${object.metadata?.name}: ${apiErrorMessage(error)}`;
}

/** An unfinished ActRunner whose runner Forgejo refused to register with the token (401 or 403). */
export interface RegistrationRefusal {
  actRunner: string;
  reason: string;
  message: string;
}

/** The latest refused registration among the ActRunners, if any is still unfinished. */
export function registrationRefusal(actRunners: AR[]): RegistrationRefusal | undefined {
  let latest: (RegistrationRefusal & { since: string }) | undefined;
  for (const ar of actRunners) {
    if (isFinished(ar)) continue;
    const registered = ar.status?.conditions?.find((c) => c.type === "Registered");
    if (registered?.status !== "False" || (registered.reason !== "Unauthorized" && registered.reason !== "Forbidden")) continue;
    if (latest && latest.since >= registered.lastTransitionTime) continue;
    latest = {
      actRunner: ar.metadata!.name!,
      reason: registered.reason,
      message: registered.message,
      since: registered.lastTransitionTime,
    };
  }
  return latest && { actRunner: latest.actRunner, reason: latest.reason, message: latest.message };
}

export interface RunnerDeploymentReconcilerDeps {
  kc: KubeConfig;
  cache: ClusterCache;
  apply: (object: object) => Promise<KubernetesObject>;
  events: EventRecorder;
  logger: Logger;
  listener: ListenerOptions;
  /** The listener's objects are applied at least this often, so that edits and deletions from outside are undone. */
  reapplyIntervalMs: number;
  /** The token in the RunnerDeployment's Secret was replaced: registrations it refused may be tried again now. */
  onTokenReplaced?: (rd: RD) => void;
}

export class RunnerDeploymentReconciler {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly deps: RunnerDeploymentReconcilerDeps;
  /** Per RunnerDeployment key, what the last apply of its listener objects left, and the labels they got. */
  private readonly applied = new Map<string, { at: number; marks: ListenerObjectMark[]; labels: string }>();
  /** Deciding from a version older than our own last status write would post its Events again. */
  private readonly statusSuperseded = new SupersededVersions();
  /** Per RunnerDeployment key, the digest of the token its Secret last held. */
  private readonly tokenDigests = new Map<string, string>();
  /** The token Secret and CA bundle checks per RunnerDeployment, kept briefly: status-only reconciles are frequent. */
  private readonly referenceChecks = new Map<
    string,
    { generation: number | undefined; token: TokenCheck; caBundle?: CaBundleCheck; expires: number }
  >();

  constructor(deps: RunnerDeploymentReconcilerDeps) {
    this.deps = deps;
    this.core = deps.kc.makeApiClient(CoreV1Api);
    this.custom = deps.kc.makeApiClient(CustomObjectsApi);
  }

  /**
   * Applies the listener's objects when their config hash differs from the Deployment's (a spec change
   * or a token replaced in the Secret rolls the listener) and at least every reapplyIntervalMs (a Role
   * deleted or a Deployment edited from outside is put back), then writes the status; returns when to
   * come back for the next apply.
   */
  async reconcile(namespace: string, name: string): Promise<number | undefined> {
    const key = `${namespace}/${name}`;
    const rd = this.deps.cache.runnerDeployments.get(name, namespace);
    if (!rd || rd.metadata?.deletionTimestamp) {
      this.applied.delete(key);
      this.tokenDigests.delete(key);
      this.statusSuperseded.forget(key);
      return undefined; // owner references cascade the rest
    }
    const log = this.deps.logger.child({ rd: key });
    const { token, caBundle } = await this.checkReferences(rd);
    const digest = this.tokenDigestFor(key, token);
    if (digest.replaced) this.deps.onTokenReplaced?.(rd);
    const desired = listenerResources(rd, this.deps.listener, digest.current);
    const deployment = this.deps.cache.deployments.get(listenerName(rd), namespace);
    const deployedHash = deployment?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    const wantedHash = configHashOf(desired);
    const changed = deployedHash !== wantedHash;
    // Only the token differs from what the Deployment was built from.
    const tokenReplaced =
      changed && digest.replaced && configHashOf(listenerResources(rd, this.deps.listener, digest.previous)) === deployedHash;
    const previous = this.applied.get(key);
    // The RunnerDeployment's labels are copied to the listener's objects' own metadata, outside the
    // config hash (relabelling rolls no listener pod); a change of them is applied at once all the same.
    const labels = hashOf(desired.deployment.metadata?.labels);
    const refusal = registrationRefusal(this.deps.cache.actRunnersOf(rd));
    let applyRefused: string | undefined;
    if (changed || labels !== previous?.labels || Date.now() - (previous?.at ?? 0) >= this.deps.reapplyIntervalMs) {
      const marks: ListenerObjectMark[] = [];
      for (const object of [desired.serviceAccount, desired.role, desired.roleBinding, desired.deployment]) {
        try {
          marks.push(listenerObjectMark(await this.deps.apply(object)));
        } catch (error) {
          applyRefused = applyRefusal(object, error);
          if (!applyRefused) throw error;
          break;
        }
      }
      if (applyRefused) {
        // The status says why; the reconcile fails so that the apply is tried again with backoff.
        await this.writeStatus(rd, { token, caBundle, deployment, refusal, applyRefused });
        throw new Error(applyRefused);
      }
      this.applied.set(key, { at: Date.now(), marks, labels });
      const changedOutside = previous && !changed ? marks.filter((mark, i) => mark.id !== previous.marks[i]?.id) : [];
      if (changedOutside.length > 0) {
        const message = `The listener's objects were changed from outside and applied again: ${changedOutside.map((m) => m.what).join(", ")}. Change the listener through spec.listenerTemplate`;
        log.warn({ deployment: listenerName(rd) }, message);
        this.deps.events.event(rd, "Warning", "ListenerRestored", message);
      } else if (changed) {
        const why = listenerUpdateReason({
          tokenReplaced,
          sameSpec: deployment?.metadata?.annotations?.[SPEC_GENERATION_ANNOTATION] === String(rd.metadata?.generation),
          tokenSecret: `${namespace}/${rd.spec.tokenSecretRef.name}`,
        });
        log.info(
          { deployment: listenerName(rd), configHash: wantedHash, tokenReplaced },
          deployment ? "Updated listener" : "Created listener",
        );
        this.deps.events.event(
          rd,
          "Normal",
          deployment ? "ListenerUpdated" : "ListenerCreated",
          `${deployment ? "Updated" : "Created"} listener Deployment ${listenerName(rd)}${why}`,
        );
      } else log.debug({ deployment: listenerName(rd) }, "Applied the listener's objects again");
    }
    await this.writeStatus(rd, { token, caBundle, deployment, refusal });
    const untilReapply = this.applied.get(key)!.at + this.deps.reapplyIntervalMs - Date.now();
    // While Forgejo refuses the token, the Secret is read again soon: a token replaced there rolls the
    // listener and has refused registrations tried again. So are a missing token Secret or CA bundle:
    // nothing else brings the controller back once one is created (it watches no Secrets or ConfigMaps).
    const refused = rd.status?.lastPollError?.kind === "unauthorized" || refusal !== undefined;
    const referenceMissing = !token.ok || (caBundle !== undefined && !caBundle.ok);
    return refused || referenceMissing ? Math.min(untilReapply, REFERENCE_CHECK_TTL_MS) : untilReapply;
  }

  /**
   * The token digest the listener is built with, and the one before: the token's, or while the
   * Secret or its key is missing the last one seen, so that a listener running with the token it
   * started with is not rolled to a pod that cannot start; `replaced` when a different token came.
   */
  private tokenDigestFor(key: string, token: TokenCheck): { current?: string; previous?: string; replaced: boolean } {
    const previous = this.tokenDigests.get(key);
    if (token.ok && token.digest) this.tokenDigests.set(key, token.digest);
    const current = this.tokenDigests.get(key);
    return { current, previous, replaced: previous !== undefined && previous !== current };
  }

  private async writeStatus(rd: RD, state: Omit<ListenerState, "listenerPod">): Promise<void> {
    const namespace = rd.metadata!.namespace!;
    const name = rd.metadata!.name!;
    if (this.statusSuperseded.stale(rd)) return;
    const listenerPod = this.listenerPod(rd, state.deployment);
    const now = new Date();
    let conditions: Condition[] = rd.status?.conditions ?? [];
    for (const input of runnerDeploymentConditions(rd, { ...state, listenerPod }))
      conditions = setCondition(conditions, input, rd.metadata?.generation, now);
    if (!state.caBundle) conditions = conditions.filter((c) => c.type !== "CABundleValid");
    const actRunners = this.deps.cache.actRunnersOf(rd);
    const health = runnersHealthy(actRunners);
    if (health) conditions = setCondition(conditions, health, rd.metadata?.generation, now);
    const status: Partial<RunnerDeploymentStatus> = {
      observedGeneration: rd.metadata?.generation,
      listenerPodName: listenerPod?.metadata?.name,
      activeActRunners: actRunners.filter((ar) => !isFinished(ar)).length,
      conditions,
    };
    const current = rd.status ?? {};
    const changed = (Object.keys(status) as (keyof RunnerDeploymentStatus)[]).some((key) => !isDeepStrictEqual(current[key], status[key]));
    if (!changed) return;
    try {
      // The resourceVersion makes the write conditional: the listener writes this status too (each poll).
      await this.custom.patchNamespacedCustomObjectStatus(
        {
          group: API_GROUP,
          version: API_VERSION,
          namespace,
          plural: "runnerdeployments",
          name,
          body: {
            metadata: { resourceVersion: rd.metadata?.resourceVersion },
            status: { ...status, listenerPodName: status.listenerPodName ?? null },
          },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    } catch (error) {
      if (apiErrorCode(error) === 409) return; // written since the cached version; its watch event brings the RunnerDeployment back
      throw error;
    }
    this.statusSuperseded.replaced(rd);
    for (const condition of transitions(current.conditions, conditions)) {
      if (condition.type === "Ready" && condition.status === "Unknown") continue;
      // The first runner of a RunnerDeployment that ends well is no news.
      if (condition.type === "RunnersHealthy" && condition.status === "True" && !findCondition(current.conditions, condition.type))
        continue;
      this.deps.events.event(
        rd,
        // Suspended is the user's own choice, not a fault.
        condition.status === "False" && condition.reason !== "Suspended" ? "Warning" : "Normal",
        condition.reason,
        `${condition.type} is ${condition.status}: ${condition.message}`,
      );
    }
  }

  private listenerPod(rd: RD, deployment: V1Deployment | undefined): V1Pod | undefined {
    if (!deployment) return undefined;
    const pods = this.deps.cache.listenerPods
      .list()
      .filter((pod) => pod.metadata?.namespace === rd.metadata?.namespace && !pod.metadata?.deletionTimestamp)
      .filter((pod) => matchesLabels(deployment.spec?.selector?.matchLabels, pod.metadata?.labels));
    return pods.sort((a, b) => String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)))[0];
  }

  private async checkReferences(rd: RD): Promise<{ token: TokenCheck; caBundle?: CaBundleCheck }> {
    const key = `${rd.metadata!.namespace}/${rd.metadata!.name}`;
    const cached = this.referenceChecks.get(key);
    if (cached && cached.generation === rd.metadata?.generation && cached.expires > Date.now()) return cached;
    const checks = {
      token: await this.readTokenSecret(rd),
      caBundle: rd.spec.caBundleConfigMapRef ? await this.readCaBundle(rd) : undefined,
    };
    this.referenceChecks.set(key, { generation: rd.metadata?.generation, ...checks, expires: Date.now() + REFERENCE_CHECK_TTL_MS });
    return checks;
  }

  private async readCaBundle(rd: RD): Promise<CaBundleCheck> {
    const ref = rd.spec.caBundleConfigMapRef!;
    const namespace = rd.metadata!.namespace!;
    const key = ref.key ?? DEFAULT_CA_BUNDLE_KEY;
    const where = `ConfigMap ${namespace}/${ref.name}`;
    try {
      const pem = (await this.core.readNamespacedConfigMap({ name: ref.name, namespace })).data?.[key];
      if (pem === undefined) {
        return {
          ok: false,
          reason: "CABundleKeyNotFound",
          message: `${where} has no key "${key}"; put the PEM CA certificates under that key or set spec.caBundleConfigMapRef.key`,
        };
      }
      return caBundleProblem(pem, `${where} key "${key}"`) ?? { ok: true, message: `${where} holds a CA bundle under key "${key}"` };
    } catch (error) {
      if (apiErrorCode(error) === 404) {
        return {
          ok: false,
          reason: "CABundleNotFound",
          message: `${where} not found; the listener and runner pods cannot start without it: create it with the PEM CA certificates under key "${key}"`,
        };
      }
      throw new Error(`reading ${where}: ${apiErrorMessage(error)}`, { cause: error });
    }
  }

  private async readTokenSecret(rd: RD): Promise<TokenCheck> {
    const ref = rd.spec.tokenSecretRef;
    const namespace = rd.metadata!.namespace!;
    const key = ref.key ?? DEFAULT_TOKEN_KEY;
    try {
      const secret = await this.core.readNamespacedSecret({ name: ref.name, namespace });
      const token = secret.data?.[key];
      if (!token) {
        return {
          ok: false,
          reason: "KeyNotFound",
          message: `Secret ${namespace}/${ref.name} has no key "${key}"; put the Forgejo token under that key or set spec.tokenSecretRef.key`,
        };
      }
      return { ok: true, digest: hashOf(token) };
    } catch (error) {
      if (apiErrorCode(error) === 404) {
        return {
          ok: false,
          reason: "SecretNotFound",
          message: `Secret ${namespace}/${ref.name} not found; create it with the Forgejo token under key "${key}"`,
        };
      }
      throw new Error(`reading Secret ${namespace}/${ref.name}: ${apiErrorMessage(error)}`, { cause: error });
    }
  }
}

/**
 * Why an existing listener Deployment is rebuilt, as the end of the ListenerUpdated Event: a new token
 * (seen replaced), or, when the Deployment was last applied for this same spec, the controller's own
 * settings — after an upgrade every listener is rebuilt once, which says so. A token replaced
 * while the controller was down cannot be told from those. Empty for a change of the spec.
 */
export function listenerUpdateReason(change: { tokenReplaced: boolean; sameSpec: boolean; tokenSecret: string }): string {
  if (change.tokenReplaced) return `: the token in Secret ${change.tokenSecret} was replaced`;
  if (change.sameSpec)
    return `: its spec is unchanged, so the controller's settings changed (a new version, the listener image or --listener-pod-template) or the token in Secret ${change.tokenSecret}`;
  return "";
}

function configHashOf(resources: ListenerResources): string {
  return resources.deployment.metadata!.annotations![CONFIG_HASH_ANNOTATION]!;
}

/** Why a ConfigMap value is no PEM CA bundle, or undefined when its first certificate parses. */
export function caBundleProblem(pem: string, where: string): CaBundleCheck | undefined {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  let problem = first ? "" : "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  if (first) {
    try {
      new X509Certificate(first);
    } catch (error) {
      problem = `holds a certificate that does not parse (${(error as Error).message})`;
    }
  }
  return problem
    ? {
        ok: false,
        reason: "CABundleInvalid",
        message: `${where} ${problem}; put the PEM CA certificates of Forgejo's TLS certificate there`,
      }
    : undefined;
}

interface ListenerObjectMark {
  /** Changes when the object is changed from outside: a ServiceAccount's, Role's or RoleBinding's uid (made again), a Deployment's generation (spec edited). */
  id: string;
  what: string;
}

function listenerObjectMark(object: KubernetesObject): ListenerObjectMark {
  const name = `${object.kind} ${object.metadata?.name}`;
  return object.kind === "Deployment"
    ? { id: `generation ${object.metadata?.generation}`, what: `${name} (edited)` }
    : { id: `uid ${object.metadata?.uid}`, what: `${name} (deleted)` };
}
