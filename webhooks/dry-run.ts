// The webhook's server-side dry-run of what the controller makes for a RunnerDeployment: the runner
// Job and its Pod, the listener Deployment and its Pod, built by the controller's own functions and
// sent to the API server (src/k8s/dry-run.ts), whose verdict becomes denials and warnings.
import type { V1Deployment, V1Job, V1Pod, V1PodTemplateSpec } from "@kubernetes/client-node";
import { API_GROUP_VERSION } from "../src/api/schemas.ts";
import { formatDuration, parseDuration } from "../src/api/duration.ts";
import { actRunnerLabels, actRunnerName, actRunnerSpec } from "../src/listener/plan.ts";
import { listenerResources, type ListenerOptions } from "../src/controller/listener-resources.ts";
import { runnerJob, type RunnerJobOptions } from "../src/controller/runner-job.ts";
import type { ActRunner, ForgejoJob, RunnerDeployment } from "../src/generated/api.ts";
import type { Verdict } from "./admission.ts";

/**
 * An object the controller makes, to be sent to the API server as the controller sends it but not
 * stored (a server-side dry-run): Pods and Jobs are created, the listener Deployment is applied.
 */
export type DryRunRequest = { namespace: string } & (
  { kind: "Pod"; object: V1Pod } | { kind: "Job"; object: V1Job } | { kind: "Deployment"; object: V1Deployment }
);

/** The API server's verdict on an object (src/k8s/dry-run.ts): its refusal, or the warnings it admits it with. */
export type DryRun = (request: DryRunRequest) => Promise<{ refusal?: string; warnings: string[] }>;

/** What the controller builds runner Jobs and listener Deployments with (its flags). */
export interface PodOptions {
  job: RunnerJobOptions;
  listener: ListenerOptions;
}

/** What the dry-run needs: the API server to ask, and how long it may take. */
export interface DryRunRules {
  dryRun: DryRun;
  /**
   * How long the dry-run may take (answerWithinMs): past the API server's timeout for this webhook
   * it would answer the user only `context deadline exceeded`. Absent: DEFAULT_ANSWER_WITHIN_MS.
   */
  withinMs?: number;
}

const DRY_RUN_UID = "00000000-0000-4000-8000-000000000000";

/** The API server's default timeout for a webhook (timeoutSeconds 10), less the margin below. */
const DEFAULT_ANSWER_WITHIN_MS = 9_000;
const ANSWER_MARGIN_MS = 1_000;

/**
 * How long the webhook may spend on a request whose call carries the API server's `?timeout=` (its
 * timeoutSeconds, e.g. "10s"): that, less a second for the answer's way back, and at least a second.
 */
export function answerWithinMs(timeout: unknown): number {
  const ms = typeof timeout === "string" ? parseDuration(timeout) : undefined;
  return ms === undefined ? DEFAULT_ANSWER_WITHIN_MS : Math.max(ANSWER_MARGIN_MS, ms - ANSWER_MARGIN_MS);
}

type Role = "runner" | "listener";

/** The objects the controller makes for a RunnerDeployment (objectsMadeFor). */
export interface MadeObjects {
  /** The RunnerDeployment's name ("dry-run" while it has none). */
  name: string;
  /** A runner Job as made for each job, with a generated name (a new one for every job, whatever Jobs exist). */
  runnerJob: V1Job;
  listenerDeployment: V1Deployment;
}

/**
 * The objects the controller makes for this RunnerDeployment, built by its own functions: for each
 * job a runner Job (through the ActRunner the listener would create), and the listener Deployment —
 * restricted defaults, the Docker sidecar of docker labels, the labels passed on and the templates
 * merged, as they will be created.
 */
export function objectsMadeFor(rd: RunnerDeployment, namespace: string, options: PodOptions): MadeObjects {
  const name = rd.metadata?.name || "dry-run";
  const created: RunnerDeployment = { ...rd, metadata: { ...rd.metadata, name, namespace, uid: rd.metadata?.uid ?? DRY_RUN_UID } };
  const job: ForgejoJob = {
    id: 1,
    attempt: 1,
    handle: DRY_RUN_UID,
    repo_id: 1,
    owner_id: 1,
    name: "dry-run",
    needs: null,
    runs_on: [],
    task_id: 0,
    status: "waiting",
  };
  const actRunner: ActRunner = {
    apiVersion: API_GROUP_VERSION,
    kind: "ActRunner",
    metadata: {
      name: actRunnerName(name, job.id, 1),
      namespace,
      uid: DRY_RUN_UID,
      labels: actRunnerLabels(created, job, options.listener.labelPropagationExclude),
    },
    spec: actRunnerSpec(created, job, { forgejoServer: rd.spec.forgejoServer, labels: rd.spec.labels, namespace }),
  };
  const runnerJobObject = runnerJob(actRunner, DRY_RUN_UID, options.job);
  delete runnerJobObject.metadata!.name;
  runnerJobObject.metadata!.generateName = `${name}-runner-`.slice(0, 58);
  return { name, runnerJob: runnerJobObject, listenerDeployment: listenerResources(created, options.listener).deployment };
}

/** The objects to dry-run: the runner Job and the listener Deployment, and the Pods of each. */
function objectsToDryRun(made: MadeObjects, namespace: string): { role: Role; request: DryRunRequest }[] {
  const listenerPod = structuredClone(made.listenerDeployment.spec!.template);
  // The controller creates the listener's ServiceAccount with its Deployment; until then the
  // namespace's default one stands in (the API server refuses a Pod whose ServiceAccount is missing).
  if (listenerPod.spec!.serviceAccountName === made.listenerDeployment.metadata!.name) delete listenerPod.spec!.serviceAccountName;
  return [
    { role: "runner", request: { namespace, kind: "Pod", object: asPod(made.name, "runner", made.runnerJob.spec!.template) } },
    { role: "runner", request: { namespace, kind: "Job", object: made.runnerJob } },
    { role: "listener", request: { namespace, kind: "Pod", object: asPod(made.name, "listener", listenerPod) } },
    { role: "listener", request: { namespace, kind: "Deployment", object: made.listenerDeployment } },
  ];
}

function asPod(rdName: string, role: string, template: V1PodTemplateSpec): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { ...template.metadata, generateName: `${rdName}-${role}-`.slice(0, 58) },
    spec: template.spec!,
  };
}

const BUILT_FROM = {
  runner: "made for each job (from spec.labels, spec.runnerImage and spec.runnerTemplate)",
  listener: "(from spec.listenerTemplate)",
} as const;

/** "the runner Job made for each job (from …)", "the listener Pod (from …)". */
function objectPhrase(role: Role, request: DryRunRequest): string {
  return `the ${role} ${request.kind} ${BUILT_FROM[role]}`;
}

/**
 * Refusals of what is missing or full only for now, which the controller waits out (the Job and
 * the Deployment keep trying, the controller applies again): a ResourceQuota used up or just
 * created and not yet counted, and a ServiceAccount not created yet — a namespace's `default` one
 * comes a moment after the namespace, and a manifest may create the RunnerDeployment before the
 * ServiceAccount its template names.
 */
const PASSING_REFUSALS: { pattern: RegExp; why: (object: string) => string }[] = [
  {
    pattern: /exceeded quota|status unknown for quota/,
    why: (object) => `no room in the namespace's ResourceQuota for ${object} now, so it waits until there is`,
  },
  {
    pattern: /error looking up service account/,
    why: (object) => `${object} names a ServiceAccount that does not exist yet; the pod is made once it does`,
  },
];

/**
 * The API server's verdict on the objects this RunnerDeployment makes: a refusal denies, unless it
 * only lasts for now (PASSING_REFUSALS). Only the Pods' warnings are passed on: what the API server
 * warns about a Job or a Deployment is its pod template (Pod Security warns in the Pod's words, and
 * even where it enforces), which the Pod's own dry-run answers.
 */
export async function dryRunObjects(made: MadeObjects, namespace: string, rules: DryRunRules, verdict: Verdict): Promise<void> {
  const requests = objectsToDryRun(made, namespace);
  const answers = await answersWithin(requests, namespace, rules);
  for (const [i, { role, request }] of requests.entries()) {
    const { refusal, warnings } = answers[i]!;
    const field = `spec.${role}Template`;
    const object = objectPhrase(role, request);
    if (request.kind === "Pod")
      for (const warning of warnings) verdict.warnings.push(`${field}: the API server warns about ${object}: ${warning}`);
    if (!refusal) continue;
    const passing = PASSING_REFUSALS.find(({ pattern }) => pattern.test(refusal));
    if (passing) verdict.warnings.push(`${field}: ${passing.why(object)}: ${refusal}`);
    else {
      // A policy on a Job's or a Deployment's own labels is met on the RunnerDeployment, which passes its labels on.
      const labelsFrom =
        request.kind === "Pod"
          ? ""
          : ` (the ${request.kind} carries the RunnerDeployment's metadata.labels, its pod those of ${field}.metadata.labels)`;
      verdict.denials.push(`${field}: the API server would refuse ${object}: ${refusal}${labelsFrom}`);
    }
  }
}

/**
 * The dry-runs' answers, or an error naming those the API server did not answer in time: it waits
 * on every admission webhook that intercepts those objects in the namespace, and one that is slow
 * or unreachable would otherwise make the API server give up on this webhook without a word of why.
 */
async function answersWithin(
  requests: { role: Role; request: DryRunRequest }[],
  namespace: string,
  rules: DryRunRules,
): Promise<Awaited<ReturnType<DryRun>>[]> {
  const withinMs = rules.withinMs ?? DEFAULT_ANSWER_WITHIN_MS;
  const unanswered = new Set(requests.keys());
  const answers = Promise.all(requests.map(({ request }, i) => rules.dryRun(request).finally(() => unanswered.delete(i))));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const objects = [...unanswered].map((i) => objectPhrase(requests[i]!.role, requests[i]!.request));
      const kinds = [...new Set([...unanswered].map((i) => `${requests[i]!.request.kind}s`))].join(", ");
      reject(
        new Error(
          `the API server did not answer the server-side dry-run of ${objects.join(", ")} within ${formatDuration(withinMs)}: ` +
            `it waits on every admission webhook that intercepts ${kinds} in namespace "${namespace}", and one of them is slow or unreachable ` +
            "(kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations); try again once it answers",
        ),
      );
    }, withinMs);
  });
  try {
    return await Promise.race([answers, late]);
  } finally {
    clearTimeout(timer);
  }
}
