// `forgejo-arc before-uninstall`: the chart's pre-delete hook. `helm uninstall` removes the
// controller, but the CRDs stay, and with them any RunnerDeployment: its listener would go on
// creating ActRunners whose finalizer nobody removes, and their Forgejo runners would stay
// registered. So before Helm deletes anything, this either refuses (RunnerDeployments exist: the
// uninstall stops and names them) or deletes every RunnerDeployment; either way it then waits,
// while the controller still runs, until no RunnerDeployment, listener pod or ActRunner is left.
import { parseArgs } from "node:util";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { formatDuration, parseDuration } from "../api/duration.ts";
import { API_GROUP, API_VERSION } from "../api/schemas.ts";
import { LABELS, MANAGED_BY } from "../api/well-known.ts";
import { apiErrorCode, apiErrorMessage } from "../k8s/client.ts";
import type { Logger } from "../observability/log.ts";

export const RUNNER_DEPLOYMENT_POLICIES = ["refuse", "delete"] as const;
export type RunnerDeploymentPolicy = (typeof RUNNER_DEPLOYMENT_POLICIES)[number];

export interface BeforeUninstallConfig {
  /** refuse: stop the uninstall while a RunnerDeployment exists; delete: delete them all first. */
  runnerDeployments: RunnerDeploymentPolicy;
  /** How long to wait for everything to be gone; below Helm's own --timeout (5m by default). */
  timeoutMs: number;
  pollIntervalMs: number;
}

export const BEFORE_UNINSTALL_USAGE = "forgejo-arc before-uninstall --runner-deployments refuse|delete [--timeout 4m]";

export function parseBeforeUninstallConfig(argv: string[]): BeforeUninstallConfig {
  const { values } = parseArgs({
    args: argv,
    options: { "runner-deployments": { type: "string" }, timeout: { type: "string", default: "4m" } },
    strict: true,
  });
  const policy = values["runner-deployments"];
  if (!RUNNER_DEPLOYMENT_POLICIES.includes(policy as RunnerDeploymentPolicy))
    throw new Error(
      `--runner-deployments: must be ${RUNNER_DEPLOYMENT_POLICIES.join(" or ")}, got "${policy ?? ""}"; usage: ${BEFORE_UNINSTALL_USAGE}`,
    );
  const timeoutMs = parseDuration(values.timeout);
  if (!timeoutMs) throw new Error(`--timeout: must be a positive duration such as "4m", got "${values.timeout}"`);
  return { runnerDeployments: policy as RunnerDeploymentPolicy, timeoutMs, pollIntervalMs: 2_000 };
}

/** What is left in the cluster, each as "namespace/name". */
export interface Leftovers {
  /** RunnerDeployments not being deleted yet. */
  runnerDeployments: string[];
  /** RunnerDeployments being deleted, or in a namespace being deleted (their ActRunners still need the controller). */
  deletingRunnerDeployments: string[];
  listenerPods: string[];
  actRunners: string[];
}

export type Step =
  | { kind: "refuse"; message: string }
  | { kind: "delete"; runnerDeployments: string[] }
  | { kind: "wait"; waitingFor: string }
  | { kind: "done" };

/** The next step from what is left; pure, so that each policy's choice is tested offline. */
export function nextStep(policy: RunnerDeploymentPolicy, left: Leftovers): Step {
  if (left.runnerDeployments.length > 0) {
    if (policy === "delete") return { kind: "delete", runnerDeployments: left.runnerDeployments };
    return {
      kind: "refuse",
      message:
        `${left.runnerDeployments.length} RunnerDeployment(s) still exist: ${listed(left.runnerDeployments)}. ` +
        "Uninstalling now would leave their listeners creating ActRunners that nothing cleans up, and their runners registered in Forgejo. " +
        "Delete them first (kubectl delete runnerdeployments --all --all-namespaces) and run helm uninstall again, " +
        "or skip this check with helm uninstall --no-hooks (their listeners then go on creating ActRunners). " +
        "To have helm uninstall delete them, set uninstall.runnerDeployments=delete while the release is deployed.",
    };
  }
  const waiting = [
    ["RunnerDeployment(s) being deleted", left.deletingRunnerDeployments],
    ["listener pod(s)", left.listenerPods],
    ["ActRunner(s) (their finalizer deletes the Forgejo runner)", left.actRunners],
  ] as const;
  const parts = waiting.filter(([, names]) => names.length > 0).map(([what, names]) => `${names.length} ${what}: ${listed(names)}`);
  return parts.length > 0 ? { kind: "wait", waitingFor: parts.join("; ") } : { kind: "done" };
}

/** "a/x, b/y and 3 more": at most five names. */
function listed(names: string[]): string {
  const shown = names.slice(0, 5).join(", ");
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

export function timedOutMessage(step: Step & { kind: "delete" | "wait" }, timeoutMs: number): string {
  if (step.kind === "delete")
    return (
      `RunnerDeployments still exist after ${formatDuration(timeoutMs)} of deleting them: ${listed(step.runnerDeployments)}. ` +
      "Something creates them again (a GitOps tool?): remove them at their source, then run helm uninstall again."
    );
  return (
    `Still waiting after ${formatDuration(timeoutMs)} for ${step.waitingFor}. ` +
    "The controller keeps running until this finishes; ActRunners wait for it to delete their Forgejo runners " +
    "(it gives up after --runner-cleanup-timeout with a RunnerCleanupAbandoned Event if Forgejo cannot be reached). " +
    "See kubectl get actrunners --all-namespaces and the controller's logs, then run helm uninstall again."
  );
}

const LISTENER_PODS = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.component}=listener`;

/**
 * What is left, listed anew on each call: listener pods first, so that an ActRunner a listener
 * created before it ended is in the later list.
 */
function leftoversLister(kc: KubeConfig, custom: CustomObjectsApi, logger: Logger): () => Promise<Leftovers> {
  const core = kc.makeApiClient(CoreV1Api);
  const key = (o: KubernetesObject) => `${o.metadata!.namespace}/${o.metadata!.name}`;
  const list = async (plural: string) =>
    ((await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural })) as { items: KubernetesObject[] }).items;
  let namespacesReadable = true;
  // Without the right to list namespaces (the controller's ServiceAccount, without rbac.create), none counts as being deleted.
  const terminatingNamespaces = async (): Promise<Set<string>> => {
    if (!namespacesReadable) return new Set();
    try {
      return new Set((await core.listNamespace()).items.filter((n) => n.metadata?.deletionTimestamp).map((n) => n.metadata!.name!));
    } catch (error) {
      if (apiErrorCode(error) !== 403) throw error;
      namespacesReadable = false;
      logger.warn("May not list namespaces: RunnerDeployments in a namespace being deleted count as existing ones");
      return new Set();
    }
  };
  return async () => {
    const pods = (await core.listPodForAllNamespaces({ labelSelector: LISTENER_PODS })).items;
    const terminating = await terminatingNamespaces();
    const runnerDeployments = await list("runnerdeployments");
    const actRunners = await list("actrunners");
    const deleting = (rd: KubernetesObject) => Boolean(rd.metadata?.deletionTimestamp) || terminating.has(rd.metadata!.namespace!);
    return {
      runnerDeployments: runnerDeployments.filter((rd) => !deleting(rd)).map(key),
      deletingRunnerDeployments: runnerDeployments.filter(deleting).map(key),
      listenerPods: pods.map((pod) => key(pod as KubernetesObject)),
      actRunners: actRunners.map(key),
    };
  };
}

/** Returns when nothing is left; throws with the message the hook's log ends with otherwise. */
export async function runBeforeUninstall(config: BeforeUninstallConfig, kc: KubeConfig, logger: Logger): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const leftovers = leftoversLister(kc, custom, logger);
  const deadline = Date.now() + config.timeoutMs;
  let lastWaitingFor = "";
  for (;;) {
    const step = nextStep(
      config.runnerDeployments,
      await leftovers().catch((error: unknown) => {
        throw new Error(`listing RunnerDeployments, ActRunners, listener pods and namespaces: ${apiErrorMessage(error)}`, { cause: error });
      }),
    );
    if (step.kind === "done") {
      logger.info("No RunnerDeployment, listener or ActRunner left; the uninstall may go on");
      return;
    }
    if (step.kind === "refuse") throw new Error(step.message);
    if (Date.now() >= deadline) throw new Error(timedOutMessage(step, config.timeoutMs));
    if (step.kind === "delete") {
      for (const name of step.runnerDeployments) {
        const [namespace, rdName] = name.split("/") as [string, string];
        // Foreground: the RunnerDeployment stays until its listener and ActRunners are gone.
        await custom
          .deleteNamespacedCustomObject({
            group: API_GROUP,
            version: API_VERSION,
            plural: "runnerdeployments",
            namespace,
            name: rdName,
            propagationPolicy: "Foreground",
          })
          .catch((error: unknown) => {
            if (apiErrorCode(error) === 404) return;
            const hint =
              apiErrorCode(error) === 403
                ? " (its ServiceAccount needs delete on runnerdeployments; the chart grants it with rbac.create)"
                : "";
            throw new Error(`deleting RunnerDeployment ${name}: ${apiErrorMessage(error)}${hint}`, { cause: error });
          });
        logger.info({ runnerDeployment: name }, "Deleted RunnerDeployment (uninstall.runnerDeployments=delete)");
      }
      continue;
    }
    if (step.waitingFor !== lastWaitingFor) logger.info({ waitingFor: step.waitingFor }, "Waiting before the uninstall goes on");
    lastWaitingFor = step.waitingFor;
    await new Promise((resolve) => setTimeout(resolve, config.pollIntervalMs));
  }
}
