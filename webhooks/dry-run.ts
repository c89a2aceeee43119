// The webhook's server-side dry-run of what forgejo-arc makes for a RunnerDeployment: for each job
// an ActRunner (by the listener), a runner Secret, a runner Job and its Pod; the listener's
// ServiceAccount, Role, Deployment and its Pod. Built by the listener's and the controller's own
// functions and sent to the API server (src/k8s/dry-run.ts), whose verdict becomes denials and warnings.
import type { V1Deployment, V1Job, V1Pod, V1PodTemplateSpec, V1Role, V1Secret, V1ServiceAccount } from "@kubernetes/client-node";
import { formatDuration, parseDuration } from "../src/api/duration.ts";
import { actRunnerName, newActRunner } from "../src/listener/plan.ts";
import { listenerResources, type ListenerOptions, type ListenerResources } from "../src/controller/listener-resources.ts";
import { runnerJob, runnerSecret, type RunnerJobOptions } from "../src/controller/runner-job.ts";
import type { ActRunner, ForgejoJob, RunnerDeployment } from "../src/generated/api.ts";
import type { Verdict } from "./admission.ts";

/**
 * An object forgejo-arc makes, to be sent to the API server as it is sent at run time but not
 * stored (a server-side dry-run): what is made for each job (Pod, Job, Secret, ActRunner) is
 * created, the listener's objects (Deployment, ServiceAccount, Role) are applied.
 */
export type DryRunRequest = { namespace: string } & (
  | { kind: "Pod"; object: V1Pod }
  | { kind: "Job"; object: V1Job }
  | { kind: "Secret"; object: V1Secret }
  | { kind: "ActRunner"; object: ActRunner }
  | { kind: "Deployment"; object: V1Deployment }
  | { kind: "ServiceAccount"; object: V1ServiceAccount }
  | { kind: "Role"; object: V1Role }
);

/** The API server's verdict on an object (src/k8s/dry-run.ts): its refusal, or the warnings it admits it with. */
/** A refusal, or the object as admitted (`admitted`, for Pods: with LimitRange defaults and what mutating webhooks added). */
export type DryRun = (request: DryRunRequest) => Promise<{ refusal?: string; warnings: string[]; admitted?: V1Pod }>;

/** The runner and listener Pods as the dry-run admitted them, where it did. */
export interface AdmittedPods {
  runner?: V1Pod;
  listener?: V1Pod;
}

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

/** The objects forgejo-arc makes for a RunnerDeployment (objectsMadeFor). */
export interface MadeObjects {
  /** The RunnerDeployment's name ("dry-run" while it has none). */
  name: string;
  /**
   * What is made for each job, with generated names (new ones for every job, whatever objects
   * exist): the ActRunner the listener creates, and the runner Secret and Job the controller does.
   */
  actRunner: ActRunner;
  runnerSecret: V1Secret;
  runnerJob: V1Job;
  /** The listener's objects, by the names they have. */
  listener: ListenerResources;
  /** Whether the controller's own pod templates (--runner-pod-template, --listener-pod-template) were merged in. */
  withDefaults: { runner: boolean; listener: boolean };
}

/**
 * The objects forgejo-arc makes for this RunnerDeployment, built by the listener's and the
 * controller's own functions: for each job an ActRunner, its runner Secret (stand-in credentials)
 * and runner Job, and the listener's objects — restricted defaults, the Docker sidecar of docker
 * labels, the labels passed on and the templates merged, as they will be created.
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
  const actRunner = newActRunner(created, job, actRunnerName(name, job.id, 1), {
    forgejoServer: rd.spec.forgejoServer,
    labels: rd.spec.labels,
    namespace,
    labelPropagationExclude: options.listener.labelPropagationExclude,
  });
  actRunner.metadata!.uid = DRY_RUN_UID;
  const credentials = { id: 1, uuid: DRY_RUN_UID, token: "dry-run" };
  return {
    name,
    actRunner: generatedName(actRunner, `${name}-`),
    runnerSecret: generatedName(runnerSecret(actRunner, credentials, options.job), `${name}-runner-`),
    runnerJob: generatedName(runnerJob(actRunner, credentials.uuid, options.job), `${name}-runner-`),
    listener: listenerResources(created, options.listener),
    withDefaults: { runner: options.job.podTemplate !== undefined, listener: options.listener.podTemplate !== undefined },
  };
}

/** The object as sent for a new one: a name the API server generates from `prefix`, and no uid. */
function generatedName<T extends { metadata?: { name?: string; generateName?: string; uid?: string } }>(object: T, prefix: string): T {
  const { name: _name, uid: _uid, ...metadata } = object.metadata!;
  return { ...object, metadata: { ...metadata, generateName: prefix.slice(0, 58) } };
}

/** One object to dry-run: what it is called in answers, and what of the RunnerDeployment it is made from. */
interface ToDryRun {
  request: DryRunRequest;
  /** Which pod a Pod request is. */
  pod?: keyof AdmittedPods;
  /** "the runner Job made for each job (from …)". */
  phrase: string;
  /** The field its verdicts are reported under. */
  field: string;
}

/** "(from a, b and c)", with the controller's pod template flag last when it was merged in. */
function builtFrom(fields: string[], flag: string, withDefaults: boolean): string {
  const sources = withDefaults ? [...fields, `the controller's ${flag}`] : fields;
  return `(from ${sources.length > 1 ? `${sources.slice(0, -1).join(", ")} and ${sources.at(-1)}` : sources[0]})`;
}

/** The objects to dry-run: what is made for each job, and the listener's objects but its RoleBinding (see docs/webhooks.md). */
function objectsToDryRun(made: MadeObjects, namespace: string): ToDryRun[] {
  const { deployment, serviceAccount, role } = made.listener;
  const listenerPod = structuredClone(deployment.spec!.template);
  // The controller creates the listener's ServiceAccount with its Deployment; until then the
  // namespace's default one stands in (the API server refuses a Pod whose ServiceAccount is missing).
  if (listenerPod.spec!.serviceAccountName === deployment.metadata!.name) delete listenerPod.spec!.serviceAccountName;
  const runner = "spec.runnerTemplate";
  const listener = "spec.listenerTemplate";
  // What is not built from a template is built from the RunnerDeployment's metadata (its name and labels).
  const metadata = "metadata";
  const runnerFrom = `made for each job ${builtFrom(["spec.labels", "spec.runnerImage", "spec.runnerTemplate"], "--runner-pod-template", made.withDefaults.runner)}`;
  const listenerFrom = builtFrom(["spec.listenerTemplate"], "--listener-pod-template", made.withDefaults.listener);
  return [
    {
      pod: "runner",
      field: runner,
      phrase: `the runner Pod ${runnerFrom}`,
      request: { namespace, kind: "Pod", object: asPod(made.name, "runner", made.runnerJob.spec!.template) },
    },
    { field: runner, phrase: `the runner Job ${runnerFrom}`, request: { namespace, kind: "Job", object: made.runnerJob } },
    { field: metadata, phrase: "the runner Secret made for each job", request: { namespace, kind: "Secret", object: made.runnerSecret } },
    { field: metadata, phrase: "the ActRunner made for each job", request: { namespace, kind: "ActRunner", object: made.actRunner } },
    {
      pod: "listener",
      field: listener,
      phrase: `the listener Pod ${listenerFrom}`,
      request: { namespace, kind: "Pod", object: asPod(made.name, "listener", listenerPod) },
    },
    {
      field: listener,
      phrase: `the listener Deployment ${listenerFrom}`,
      request: { namespace, kind: "Deployment", object: deployment },
    },
    { field: metadata, phrase: "the listener ServiceAccount", request: { namespace, kind: "ServiceAccount", object: serviceAccount } },
    { field: metadata, phrase: "the listener Role", request: { namespace, kind: "Role", object: role } },
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
 * even where it enforces), which the Pod's own dry-run answers. Returns the Pods as admitted.
 */
export async function dryRunObjects(made: MadeObjects, namespace: string, rules: DryRunRules, verdict: Verdict): Promise<AdmittedPods> {
  const requests = objectsToDryRun(made, namespace);
  const answers = await answersWithin(requests, namespace, rules);
  const admittedPods: AdmittedPods = {};
  for (const [i, { request, phrase, field, pod }] of requests.entries()) {
    const { refusal, warnings, admitted } = answers[i]!;
    if (pod && admitted) admittedPods[pod] = admitted;
    if (request.kind === "Pod")
      for (const warning of warnings) verdict.warnings.push(`${field}: the API server warns about ${phrase}: ${warning}`);
    if (!refusal) continue;
    const passing = PASSING_REFUSALS.find(({ pattern }) => pattern.test(refusal));
    if (passing) verdict.warnings.push(`${field}: ${passing.why(phrase)}: ${refusal}`);
    else verdict.denials.push(`${field}: the API server would refuse ${phrase}: ${refusal}${labelsFrom(request.kind)}`);
  }
  return admittedPods;
}

/** Where a refused object's labels come from: a policy on them is met by labelling the RunnerDeployment, which passes its labels on. */
function labelsFrom(kind: DryRunRequest["kind"]): string {
  switch (kind) {
    case "Pod":
      return "";
    case "Job":
      return " (the Job carries the RunnerDeployment's metadata.labels, its pod those of spec.runnerTemplate.metadata.labels)";
    case "Deployment":
      return " (the Deployment carries the RunnerDeployment's metadata.labels, its pod those of spec.listenerTemplate.metadata.labels)";
    default:
      return ` (the ${kind} carries the RunnerDeployment's metadata.labels)`;
  }
}

/**
 * The dry-runs' answers, or an error naming those the API server did not answer in time: it waits
 * on every admission webhook that intercepts those objects in the namespace, and one that is slow
 * or unreachable would otherwise make the API server give up on this webhook without a word of why.
 */
async function answersWithin(requests: ToDryRun[], namespace: string, rules: DryRunRules): Promise<Awaited<ReturnType<DryRun>>[]> {
  const withinMs = rules.withinMs ?? DEFAULT_ANSWER_WITHIN_MS;
  const unanswered = new Set(requests.keys());
  const answers = Promise.all(requests.map(({ request }, i) => rules.dryRun(request).finally(() => unanswered.delete(i))));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const objects = [...unanswered].map((i) => requests[i]!.phrase);
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
