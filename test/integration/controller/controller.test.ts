// The controller as a real process on the real cluster with the fake Forgejo: the whole chain from
// a queued job to a finished, cleaned-up ActRunner, and what happens when things go wrong.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type CoreV1Event,
  type V1Job,
  type V1ResourceQuota,
} from "@kubernetes/client-node";
import type { ActRunner, Condition, RunnerDeployment } from "../../../src/generated/api.ts";
import { ignoreNotFound } from "../../../src/k8s/client.ts";
import type { FakeForgejo, FakeJob } from "../../fake-forgejo/fake-forgejo.ts";
import { TOKENS, seededFake } from "../../fixtures/forgejo.ts";
import { TestProxy } from "../../fixtures/http-proxy.ts";
import { httpsServer, selfSignedCertificate } from "../../fixtures/tls.ts";
import { rd } from "../../fixtures/resources.ts";
import {
  createNamespace,
  customObjects,
  deleteNamespace,
  eventually,
  kubeConfig,
  metricSum,
  metricValues,
  GC_TIMEOUT_MS,
} from "../helpers.ts";
import { startRole, type RoleProcess } from "../support/process.ts";
import { startListenerProcess } from "../support/listener-process.ts";
import { NO_PICKUP_ANNOTATION, startRunnerBridge } from "../support/runner-bridge.ts";
import { actRunnerName, newActRunner } from "../../../src/listener/plan.ts";
import { EXECUTOR_NODE, EXECUTOR_POD_TEMPLATE, type Executor } from "../../executor/executor.ts";
import { startTestExecutor, stopTestExecutor } from "../support/executor.ts";
import { clusterServiceAccountKubeconfig, deleteClusterServiceAccount } from "../support/service-account.ts";
import { DEFAULT_LABEL_PROPAGATION_EXCLUDE } from "../../../src/api/propagated-labels.ts";
import { controllerClusterRoleRules, controllerLeaderElectionRules } from "../../../src/controller/rbac.ts";
import { CONFIG_HASH_ANNOTATION } from "../../../src/controller/listener-resources.ts";
import { KWOK_CONTAINER_LOG_LINES } from "../../../scripts/cluster/cluster.ts";

const kc = kubeConfig();
const objects = customObjects(kc);
const core = kc.makeApiClient(CoreV1Api);
const batch = kc.makeApiClient(BatchV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const rbacApi = kc.makeApiClient(RbacAuthorizationV1Api);
let fake: FakeForgejo;
let forgejoUrl: string;
let ns: string;
let controller: RoleProcess;
let bridge: Awaited<ReturnType<typeof startRunnerBridge>>;
let executor: Executor;
const listeners: RoleProcess[] = [];

export function controllerArgs(extra: string[] = []): string[] {
  return [
    "--webhook-port",
    "0",
    "--pickup-check-interval",
    "1s",
    "--runner-cleanup-timeout",
    "15s",
    "--relist-interval",
    "1m",
    "--orphan-sweep-interval",
    "2s",
    "--lost-runner-grace",
    "3s",
    ...extra,
  ];
}

/** The cluster-wide pod templates the controller runs with here: an annotation on each kind of pod. */
const POD_TEMPLATE_ARGS = ["runner", "listener"].map(
  (role) => `--${role}-pod-template=${JSON.stringify({ metadata: { annotations: { "forgejo-arc.test/defaults": role } } })}`,
);

beforeAll(async () => {
  fake = seededFake();
  forgejoUrl = await fake.listen();
  ns = await createNamespace("controller");
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "forgejo-token" }, stringData: { token: TOKENS.owner } } });
  bridge = await startRunnerBridge(fake, ns);
  executor = await startTestExecutor(kc);
  // The controller runs with exactly the ClusterRole the chart gives it.
  const kubeconfig = await clusterServiceAccountKubeconfig(ns, "controller", controllerClusterRoleRules(), controllerLeaderElectionRules());
  controller = await startRole("controller", controllerArgs(POD_TEMPLATE_ARGS), { KUBECONFIG: kubeconfig });
  await controller.waitForOutput("Started reconciling");
}, 60_000);

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.stop("SIGKILL")));
  fake.clearFaults();
});

afterAll(async () => {
  await controller?.stop("SIGKILL");
  await bridge?.stop();
  await deleteNamespace(ns);
  await stopTestExecutor(executor, ns);
  await deleteClusterServiceAccount(ns, "controller");
  await fake.close();
}, 120_000);

/** The listener pods of RunnerDeployment `rdName` (test namespace) that are Ready and not being deleted. */
async function readyListenerPods(rdName: string) {
  const pods = await core.listNamespacedPod({
    namespace: ns,
    labelSelector: `app.kubernetes.io/component=listener,forgejo.actions.io/runner-deployment=${rdName}`,
  });
  return pods.items.filter(
    (p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );
}

async function createRunnerDeployment(name: string, spec: Record<string, unknown> = {}, namespace = ns): Promise<RunnerDeployment> {
  const body = rd({
    spec: {
      forgejoServer: forgejoUrl,
      labels: `${name}:host`,
      tokenSecretRef: { namespace },
      retentionAfterFinish: "4s",
      ...spec,
    } as never,
  });
  return (await objects.create("runnerdeployments", namespace, { ...body, metadata: { name, namespace } })) as RunnerDeployment;
}

/** A listener process for RunnerDeployment `rdName` (in the test namespace, with the owner's token and the label `<rdName>:host`, unless given). */
async function startListener(
  rdName: string,
  options: { token?: string; scope?: string[]; labels?: string; namespace?: string } = {},
): Promise<RoleProcess> {
  const { token = TOKENS.owner, namespace = ns, ...rest } = options;
  const listener = await startListenerProcess({ namespace, rdName, forgejoUrl, token, ...rest });
  listeners.push(listener);
  return listener;
}

async function actRunners(rdName: string): Promise<ActRunner[]> {
  const list = (await objects.list("actrunners", ns)) as { items: ActRunner[] };
  return list.items.filter((r) => r.metadata?.labels?.["forgejo.actions.io/runner-deployment"] === rdName);
}

async function actRunner(name: string): Promise<ActRunner | undefined> {
  return ((await objects.list("actrunners", ns)) as { items: ActRunner[] }).items.find((r) => r.metadata?.name === name);
}

/** Waits until the ActRunner `name` exists and `until` holds for it. */
function actRunnerWhen(name: string, what: string, until: (ar: ActRunner) => boolean, timeoutMs = 40_000): Promise<ActRunner> {
  return eventually(
    what,
    async () => {
      const r = await actRunner(name);
      return r && until(r) ? r : undefined;
    },
    timeoutMs,
  );
}

/**
 * A RunnerDeployment without a listener, a job queued for it, and the ActRunner a listener would
 * make for that job; nothing marks it PickedUp.
 */
async function actRunnerWithoutListener(rdName: string, spec: Record<string, unknown>): Promise<{ job: FakeJob; name: string }> {
  const owner = await createRunnerDeployment(rdName, spec);
  const job = fake.enqueueJob({ repository: "acme/app", runs_on: [rdName] });
  const { runnerId: _runner, ...listed } = job;
  const name = actRunnerName(rdName, job.id, job.attempt);
  const runsWith = {
    forgejoServer: forgejoUrl,
    labels: `${rdName}:host`,
    namespace: ns,
    labelPropagationExclude: DEFAULT_LABEL_PROPAGATION_EXCLUDE,
  };
  await objects.create("actrunners", ns, newActRunner(owner, listed, name, runsWith));
  return { job, name };
}

/** A RunnerDeployment with its listener, and one job queued for it. */
async function queueOneJob(rdName: string, spec: Record<string, unknown>) {
  await createRunnerDeployment(rdName, spec);
  await startListener(rdName);
  return fake.enqueueJob({ repository: "acme/app", runs_on: [rdName] });
}

/**
 * A runner that took its job, whose Job is then deleted with its pod orphaned (stopped by the test,
 * or never): the ActRunner once Failed, and its pod.
 */
async function runnerJobDeletedFromOutside(rdName: string, runnerSpec: Record<string, unknown> = {}) {
  const job = await queueOneJob(rdName, {
    runnerTemplate: { metadata: { annotations: { "forgejo-arc.test/run-for": "5m" } }, spec: runnerSpec },
    retentionAfterFinish: "5m",
  });
  const name = `${rdName}-${job.id}-1`;
  await actRunnerWhen(name, "PickedUp", (r) => !!r.status?.conditions?.some((c) => c.type === "PickedUp" && c.status === "True"));
  expect(fake.jobs.get(job.id)?.status).toBe("running");
  await batch.deleteNamespacedJob({ name, namespace: ns, propagationPolicy: "Orphan" });
  const failed = await actRunnerWhen(name, "Failed", (r) => r.status?.phase === "Failed");
  expect(failed.status?.reason).toBe("JobDeleted");
  const [pod] = (await core.listNamespacedPod({ namespace: ns, labelSelector: `forgejo.actions.io/act-runner=${name}` })).items;
  return { job, name, failed, pod: pod! };
}

/** The runner reported its job cancelled (SIGTERM cancels it) while it was still registered, and none of the RunnerDeployment's runners is left. */
function expectCancelledByItsRunner(name: string, jobId: number, rdName: string): void {
  expect(bridge.lostReports.filter((report) => report.startsWith(name))).toEqual([]);
  expect(fake.jobs.get(jobId)?.status).toBe("cancelled");
  expect(forgejoRunnersOf(rdName)).toEqual([]);
}

const runnerDeletedOf = (name: string) =>
  actRunnerWhen(name, "its runner deleted", (r) => !!r.status?.conditions?.some((c) => c.type === "RunnerDeleted" && c.status === "True"));

/** The controller's log lines about an ActRunner's phase changes, parsed, oldest first. */
function courseInLog(name: string): Record<string, unknown>[] {
  return controller.output
    .filter((line) => line.includes(`"ar":"${ns}/${name}"`) && line.includes('"msg":"ActRunner '))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The course once its last line is `phase`: the controller logs a transition after its status write
 *  is answered, so a test that saw the status may read the log before that line arrives. */
function courseEndingIn(name: string, phase: string): Promise<Record<string, unknown>[]> {
  return eventually(`the controller's log line "ActRunner ${phase}" of ${name}`, async () => {
    const course = courseInLog(name);
    return course.at(-1)?.phase === phase ? course : undefined;
  });
}

/** The ActRunner `name` once its status says its registration failed (Registered=False). */
function registrationFailedOf(name: string): Promise<ActRunner> {
  return actRunnerWhen(
    name,
    "Registered=False",
    (r) => r.status?.conditions?.some((c) => c.type === "Registered" && c.status === "False") ?? false,
  );
}

async function events(objectName: string): Promise<CoreV1Event[]> {
  return (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${objectName}` })).items;
}

/** The first Event of the object that `matches`, once it exists: the controller posts Events after
 *  the status write they go with, without waiting for them, so a test that saw the status may list
 *  the Events a moment too early. */
function eventOf(objectName: string, what: string, matches: (event: CoreV1Event) => boolean): Promise<CoreV1Event> {
  return eventually(`${what} Event of ${objectName}`, async () => (await events(objectName)).find(matches));
}

/** The controller's metric `name`, summed over its series whose labels include every pair of `labels`. */
async function controllerMetric(name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricSum((await controller.get("/metrics")).text, name, labels);
}

/** The value of the controller's Forgejo call series with these labels; undefined when it is not exported. */
async function refusalCount(labels: { operation: string; outcome: string }): Promise<number | undefined> {
  return metricValues((await controller.get("/metrics")).text, "forgejo_arc_forgejo_requests_total", labels)[0];
}

/**
 * Runs `test` in a namespace made for it (deleted after), with the owner's token Secret, the given
 * labels and, if given, a ResourceQuota the API server already enforces.
 */
async function inNamespaceOfItsOwn(
  prefix: string,
  setup: { labels?: Record<string, string>; quota?: V1ResourceQuota },
  test: (namespace: string) => Promise<void>,
): Promise<void> {
  const name = await createNamespace(prefix);
  try {
    if (setup.labels) {
      const namespace = await core.readNamespace({ name });
      namespace.metadata!.labels = { ...namespace.metadata!.labels, ...setup.labels };
      await core.replaceNamespace({ name, body: namespace });
    }
    if (setup.quota) {
      await core.createNamespacedResourceQuota({ namespace: name, body: setup.quota });
      // The quota admits nothing until kube-controller-manager has counted the namespace into its status.
      await eventually("the quota counted", async () =>
        (await core.readNamespacedResourceQuota({ name: setup.quota!.metadata!.name!, namespace: name })).status?.hard ? true : undefined,
      );
    }
    await core.createNamespacedSecret({
      namespace: name,
      body: { metadata: { name: "forgejo-token" }, stringData: { token: TOKENS.owner } },
    });
    await test(name);
  } finally {
    await deleteNamespace(name);
  }
}

/** A runner in organization acme registered through Forgejo's API as a person (or another cluster) would; its id. */
async function registerRunnerByHand(description: string): Promise<number> {
  const response = await fetch(new URL("/api/v1/orgs/acme/actions/runners", forgejoUrl), {
    method: "POST",
    headers: { authorization: `token ${TOKENS.owner}`, "content-type": "application/json" },
    body: JSON.stringify({ name: `by-hand-${fake.runners.size}`, description, ephemeral: true }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

function forgejoRunnersOf(prefix: string) {
  return [...fake.runners.values()].filter((r) => r.name.startsWith(`k8s-${ns}-${prefix}`));
}

/** The condition `type` of RunnerDeployment `name` once `holds` is true of it. */
function rdConditionWhen(
  { namespace, name, type }: { namespace: string; name: string; type: string },
  what: string,
  holds: (c: Condition) => boolean,
  timeoutMs?: number,
): Promise<Condition> {
  return eventually(
    what,
    async () => {
      const current = (await objects.get("runnerdeployments", namespace, name)) as RunnerDeployment;
      const condition = current.status?.conditions?.find((c) => c.type === type);
      return condition && holds(condition) ? condition : undefined;
    },
    timeoutMs,
  );
}

async function rdCondition(name: string, type: string) {
  const current = (await objects.get("runnerdeployments", ns, name)) as RunnerDeployment;
  return current.status?.conditions?.find((c) => c.type === type);
}

describe("controller", () => {
  it("runs the whole chain: job queued → ActRunner → runner registered → Job → pod done → Succeeded → deleted → Forgejo runner gone", async () => {
    const owner = await createRunnerDeployment("chain");
    await startListener("chain");
    const jobs = [
      fake.enqueueJob({ repository: "acme/app", runs_on: ["chain"] }),
      fake.enqueueJob({ repository: "acme/app", runs_on: ["chain"] }),
    ];

    // The listener's Deployment, ServiceAccount, Role and RoleBinding, owned by the RunnerDeployment.
    const deployment = await eventually("the listener Deployment", () =>
      apps.readNamespacedDeployment({ name: "chain-listener", namespace: ns }),
    );
    expect(deployment.spec?.template.metadata?.annotations).toMatchObject({ "forgejo-arc.test/defaults": "listener" });
    expect(deployment.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "RunnerDeployment",
      name: "chain",
      uid: owner.metadata!.uid,
      controller: true,
    });
    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
    const container = deployment.spec!.template.spec!.containers[0]!;
    expect(container.args).toEqual([
      "listener",
      "--runner-deployment=chain",
      `--forgejo-server=${forgejoUrl}`,
      "--organization=acme",
      "--labels=chain:host",
      "--poll-interval=10s",
      `--label-propagation-exclude=${DEFAULT_LABEL_PROPAGATION_EXCLUDE.join(",")}`,
    ]);
    expect(container.env?.find((e) => e.name === "FORGEJO_TOKEN")).toEqual({
      name: "FORGEJO_TOKEN",
      valueFrom: { secretKeyRef: { name: "forgejo-token", key: "token" } },
    });
    expect(JSON.stringify(deployment)).not.toContain(TOKENS.owner);

    // Each job: an ActRunner that registers a runner, stores its credentials and runs a Job.
    const names = jobs.map((j) => `chain-${j.id}-1`);
    const job = await eventually("the first Kubernetes Job", () => batch.readNamespacedJob({ name: names[0]!, namespace: ns }), 30_000);
    const args = job.spec!.template.spec!.containers.find((c) => c.name === "runner")!.args!;
    expect(args).toEqual(expect.arrayContaining(["one-job", "--handle", jobs[0]!.handle, "--wait", "--label", "chain:host"]));
    expect(job.spec!.template.metadata?.annotations).toMatchObject({
      "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
      "forgejo-arc.test/defaults": "runner",
    });
    const secret = await core.readNamespacedSecret({ name: `${names[0]}-runner`, namespace: ns });
    expect(Buffer.from(secret.data!.token!, "base64").toString()).toMatch(/^[0-9a-f]{32}$/);
    expect(secret.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "ActRunner", name: names[0] });
    expect(JSON.stringify(job)).not.toContain(Buffer.from(secret.data!.token!, "base64").toString());

    for (const name of names) {
      const done = await actRunnerWhen(
        name,
        `${name} Succeeded`,
        (r) => r.status?.phase === "Succeeded" && !!r.status.conditions?.some((c) => c.type === "RunnerDeleted" && c.status === "True"),
      );
      expect(done.status).toMatchObject({ reason: "Completed", kubernetesJobName: name, runnerName: `k8s-${ns}-${name}` });
      expect(done.status?.startedAt).toBeDefined();
      expect(done.status?.completedAt).toBeDefined();
    }
    expect(bridge.errors).toEqual([]);
    expect(jobs.map((j) => fake.jobs.get(j.id)!.status)).toEqual(["success", "success"]);
    // RunnersHealthy appears with the first runner that ended, True, without an Event (no news).
    const healthy = await eventually("RunnersHealthy on the RunnerDeployment", async () => {
      const current = (await objects.get("runnerdeployments", ns, "chain")) as RunnerDeployment;
      return current.status?.conditions?.find((c) => c.type === "RunnersHealthy");
    });
    expect(healthy).toMatchObject({ status: "True", reason: "NotFailing" });
    expect((await events("chain")).filter((e) => e.message?.startsWith("RunnersHealthy"))).toEqual([]);
    for (const reason of ["JobCreated", "Succeeded"]) await eventOf(names[0]!, reason, (e) => e.reason === reason);
    // The controller's log keeps each runner's course (Events expire).
    const course = await courseEndingIn(names[0]!, "Succeeded");
    expect(course[0]).toMatchObject({
      level: "info",
      phase: "Pending",
      jobId: jobs[0]!.id,
      job: names[0],
      runner: `k8s-${ns}-${names[0]}`,
    });
    expect(course.at(-1)).toMatchObject({ level: "info", phase: "Succeeded", reason: "Completed" });
    // A runner that exited waits for its Job to record the end as Running, not back in Pending.
    for (const name of names)
      expect((await courseEndingIn(name, "Succeeded")).map((line) => line.phase).join(" ")).not.toMatch(/Running.*Pending/);
    expect(
      await controllerMetric("forgejo_arc_actrunners_finished_total", { phase: "Succeeded", reason: "Completed" }),
    ).toBeGreaterThanOrEqual(2);
    const chainSeries = { runner_deployment_namespace: ns, runner_deployment: "chain" };
    expect(
      await controllerMetric("forgejo_arc_actrunners_finished_total", { ...chainSeries, phase: "Succeeded", reason: "Completed" }),
    ).toBe(2);
    expect(await controllerMetric("forgejo_arc_queue_to_job_seconds_count", chainSeries)).toBe(2);
    // Each runner pod ran about 2 s (kwok's default); the times have whole seconds.
    expect(await controllerMetric("forgejo_arc_runner_run_duration_seconds_count", { phase: "Succeeded" })).toBeGreaterThanOrEqual(2);
    expect(await controllerMetric("forgejo_arc_runner_run_duration_seconds_sum", { phase: "Succeeded" })).toBeGreaterThanOrEqual(2);

    // Retention over: the ActRunners go, and with them their Jobs and Secrets; no Forgejo runner stays.
    await eventually(
      "ActRunners deleted after retention",
      async () => ((await actRunners("chain")).length === 0 ? true : undefined),
      30_000,
    );
    await eventually(
      "Jobs collected",
      async () =>
        (await batch.listNamespacedJob({ namespace: ns, labelSelector: "forgejo.actions.io/runner-deployment=chain" })).items.length === 0
          ? true
          : undefined,
      GC_TIMEOUT_MS,
    );
    expect(forgejoRunnersOf("chain")).toEqual([]);

    const ready = await eventually("Ready", async () => {
      const c = await rdCondition("chain", "TokenValid");
      return c?.status === "True" && c.reason === "Accepted" ? c : undefined;
    });
    expect(ready.observedGeneration).toBe(1);
    expect(await rdCondition("chain", "ForgejoReachable")).toMatchObject({ status: "True", reason: "Polled" });
  }, 240_000);

  it("runs the listener Deployment it creates, under the Role it creates, and rolls it when the spec changes", async () => {
    await createRunnerDeployment("executed", { listenerTemplate: EXECUTOR_POD_TEMPLATE });
    const pod = await eventually(
      "the listener pod on the executor node",
      async () => (await readyListenerPods("executed")).find((p) => p.spec?.nodeName === EXECUTOR_NODE),
      60_000,
    );
    expect(pod.spec?.serviceAccountName).toBe("executed-listener");
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["executed"] });
    await eventually(
      "the job run through the controller's own listener",
      async () => (fake.jobs.get(job.id)!.status === "success" ? true : undefined),
      60_000,
    );
    const ready = await eventually(
      "Ready",
      async () => {
        const current = (await objects.get("runnerdeployments", ns, "executed")) as RunnerDeployment;
        return current.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True") ? current : undefined;
      },
      30_000,
    );
    expect(ready.status?.listenerPodName).toBe(pod.metadata?.name);
    expect(ready.status?.conditions?.find((c) => c.type === "ListenerAvailable")).toMatchObject({ status: "True" });
    // One Event per condition transition, also when the RunnerDeployment is reconciled again before
    // the cache shows the status just written (its Deployment, pod and ActRunners all trigger passes).
    await eventOf("executed", "Ready", (e) => e.reason === "Ready");
    const said = (await events("executed")).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    expect(said).toEqual([...new Set(said)]);
    // Its output through the API server's pods/log, which the executor node serves as a kubelet does.
    const logOf = (tailLines?: number) =>
      core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: ns, container: "listener", tailLines });
    expect(await logOf()).toContain('"msg":"Serving listener health and metrics"');
    expect((await logOf(1)).split("\n")).toEqual([expect.stringContaining('"level"'), ""]);

    // A spec change rolls the listener: a new pod runs with the new poll interval.
    await objects.api.patchNamespacedCustomObject(
      {
        group: "forgejo.actions.io",
        version: "v1alpha1",
        namespace: ns,
        plural: "runnerdeployments",
        name: "executed",
        body: { spec: { pollInterval: "3s" } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const rolled = await eventually(
      "a new listener pod",
      async () => (await readyListenerPods("executed")).find((p) => p.metadata?.name !== pod.metadata?.name),
      60_000,
    );
    expect(rolled.spec?.containers[0]?.args).toContain("--poll-interval=3s");
    await eventually(
      "the old listener process stopped",
      async () =>
        executor.outputOf(pod.metadata!.name!).length === 0 ||
        (await core.listNamespacedPod({ namespace: ns, fieldSelector: `metadata.name=${pod.metadata!.name}` })).items.length === 0
          ? true
          : undefined,
      30_000,
    );
  }, 150_000);

  it("passes the RunnerDeployment's labels on to the listener's objects, ActRunners, runner Secrets and Jobs — not GitOps tracking labels, not pods — and a relabel rolls no listener", async () => {
    const body = rd({ spec: { forgejoServer: forgejoUrl, labels: "labelled:host", tokenSecretRef: { namespace: ns } } });
    const team = (value: string) => ({ team: value, "argocd.argoproj.io/instance": "runners" });
    await objects.create("runnerdeployments", ns, {
      ...body,
      spec: { ...body.spec, listenerTemplate: EXECUTOR_POD_TEMPLATE },
      metadata: { name: "labelled", namespace: ns, labels: team("platform") },
    });
    const listenerObjects = () =>
      Promise.all([
        core.readNamespacedServiceAccount({ name: "labelled-listener", namespace: ns }),
        rbacApi.readNamespacedRole({ name: "labelled-listener", namespace: ns }),
        rbacApi.readNamespacedRoleBinding({ name: "labelled-listener", namespace: ns }),
        apps.readNamespacedDeployment({ name: "labelled-listener", namespace: ns }),
      ]);
    const labelledAs = (value: string) => async () => {
      const made = await listenerObjects().catch(() => undefined);
      return made?.every((o) => o.metadata?.labels?.team === value) ? made : undefined;
    };
    const made = await eventually("the listener's objects labelled team=platform", labelledAs("platform"), 30_000);
    for (const object of made) expect(object.metadata?.labels).not.toHaveProperty("argocd.argoproj.io/instance");
    expect(made[3].spec!.template.metadata!.labels).not.toHaveProperty("team");
    const pod = await eventually(
      "the listener pod on the executor node",
      async () => (await readyListenerPods("labelled")).find((p) => p.spec?.nodeName === EXECUTOR_NODE),
      60_000,
    );

    // The listener passes them on to the ActRunner it creates; the controller to its Secret and Job.
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["labelled"] });
    const name = `labelled-${job.id}-1`;
    const runnerJob = await eventually("the runner Job", () => batch.readNamespacedJob({ name, namespace: ns }), 30_000);
    const secret = await core.readNamespacedSecret({ name: `${name}-runner`, namespace: ns });
    for (const object of [(await actRunner(name))!, runnerJob, secret]) {
      expect(object.metadata?.labels).toMatchObject({ team: "platform" });
      expect(object.metadata?.labels).not.toHaveProperty("argocd.argoproj.io/instance");
    }
    expect(runnerJob.spec!.template.metadata!.labels).not.toHaveProperty("team");

    // A relabel reaches the listener's objects at once (not at the next reapply, a minute here), and
    // rolls no listener pod.
    await objects.api.patchNamespacedCustomObject(
      {
        group: "forgejo.actions.io",
        version: "v1alpha1",
        namespace: ns,
        plural: "runnerdeployments",
        name: "labelled",
        body: { metadata: { labels: team("infra") } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually("the listener's objects labelled team=infra", labelledAs("infra"), 15_000);
    expect((await readyListenerPods("labelled")).map((p) => p.metadata?.name)).toEqual([pod.metadata?.name]);
  }, 150_000);

  it("rolls the listener when its token is replaced in the Secret, so that it polls with the new token once Forgejo refuses the old", async () => {
    const [oldToken, newToken] = ["tok-rotated-old", "tok-rotated-new"];
    fake.addToken(oldToken, { user: "alice", scopes: ["write:organization"] });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "rotated-token" }, stringData: { token: oldToken } } });
    await createRunnerDeployment("rotated", {
      listenerTemplate: EXECUTOR_POD_TEMPLATE,
      tokenSecretRef: { name: "rotated-token" },
      pollInterval: "2s",
    });
    const listenerPods = () => readyListenerPods("rotated");
    const first = await eventually("the listener pod", async () => (await listenerPods())[0], 60_000);
    await eventually("the old token accepted", async () =>
      (await rdCondition("rotated", "TokenValid"))?.reason === "Accepted" ? true : undefined,
    );
    const configHash = async () =>
      (await apps.readNamespacedDeployment({ name: "rotated-listener", namespace: ns })).metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    const hashBefore = await configHash();

    // The Secret deleted for a while (as some secret managers replace one): the running listener,
    // which holds its token, is left alone.
    await core.deleteNamespacedSecret({ name: "rotated-token", namespace: ns });
    await eventually(
      "the missing Secret reported",
      async () => ((await rdCondition("rotated", "TokenValid"))?.reason === "SecretNotFound" ? true : undefined),
      60_000,
    );
    expect(await configHash()).toBe(hashBefore);
    expect((await listenerPods()).map((p) => p.metadata?.name)).toEqual([first.metadata?.name]);

    // Rotated: the old token is revoked in Forgejo and the new one put in the Secret.
    fake.tokens.delete(oldToken);
    fake.addToken(newToken, { user: "alice", scopes: ["write:organization"] });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "rotated-token" }, stringData: { token: newToken } } });
    const rolled = await eventually(
      "a new listener pod",
      async () => (await listenerPods()).find((p) => p.metadata?.name !== first.metadata?.name),
      120_000,
    );
    await eventually("the new token accepted", async () =>
      (await rdCondition("rotated", "TokenValid"))?.reason === "Accepted" ? true : undefined,
    );
    const updated = await eventOf("rotated", "the ListenerUpdated", (e) => e.reason === "ListenerUpdated");
    expect(updated.message).toBe(`Updated listener Deployment rotated-listener: the token in Secret ${ns}/rotated-token was replaced`);
    // The token still reaches the listener only through the Secret, never as a value.
    expect(rolled.spec?.containers[0]?.env?.find((e) => e.name === "FORGEJO_TOKEN")).toEqual({
      name: "FORGEJO_TOKEN",
      valueFrom: { secretKeyRef: { name: "rotated-token", key: "token" } },
    });
    expect(JSON.stringify(rolled)).not.toContain(newToken);
  }, 240_000);

  it("puts back a listener's ServiceAccount, Role and RoleBinding deleted from outside, and its Deployment's replicas, within the relist interval, with an Event", async () => {
    await createRunnerDeployment("drift");
    const name = "drift-listener";
    const deployment = await eventually("the listener Deployment", () => apps.readNamespacedDeployment({ name, namespace: ns }), 30_000);
    const listenerObjects = () =>
      Promise.all([
        core.readNamespacedServiceAccount({ name, namespace: ns }),
        rbacApi.readNamespacedRole({ name, namespace: ns }),
        rbacApi.readNamespacedRoleBinding({ name, namespace: ns }),
      ]);
    const [serviceAccount, role, roleBinding] = await listenerObjects();
    await core.deleteNamespacedServiceAccount({ name, namespace: ns });
    await rbacApi.deleteNamespacedRole({ name, namespace: ns });
    await rbacApi.deleteNamespacedRoleBinding({ name, namespace: ns });
    await apps.patchNamespacedDeployment(
      { name, namespace: ns, body: { spec: { replicas: 0 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    // The test's controller relists every minute; the objects were applied when the RunnerDeployment was made.
    const [newServiceAccount, newRole, newRoleBinding] = await eventually("the listener's objects back", listenerObjects, 75_000, 1_000);
    expect([newServiceAccount, newRole, newRoleBinding].map((o) => o.metadata?.uid)).not.toContain(serviceAccount.metadata?.uid);
    expect([newRole.metadata?.uid, newRoleBinding.metadata?.uid]).not.toEqual([role.metadata?.uid, roleBinding.metadata?.uid]);
    expect(newRole.rules).toEqual(role.rules);
    const restored = await eventually(
      "the Deployment's replicas back",
      async () => {
        const current = await apps.readNamespacedDeployment({ name, namespace: ns });
        return current.spec?.replicas === 1 ? current : undefined;
      },
      10_000,
    );
    expect(restored.metadata?.uid).toBe(deployment.metadata?.uid);
    const restoredEvent = await eventOf("drift", "the ListenerRestored", (e) => e.type === "Warning" && e.reason === "ListenerRestored");
    expect(restoredEvent.message).toBe(
      "The listener's objects were changed from outside and applied again: ServiceAccount drift-listener (deleted), Role drift-listener (deleted), " +
        "RoleBinding drift-listener (deleted), Deployment drift-listener (edited). Change the listener through spec.listenerTemplate",
    );
    await objects.delete("runnerdeployments", ns, "drift");
  }, 120_000);

  it("runs a listener that reaches Forgejo through the proxy its listenerTemplate's env names, and the API server directly", async () => {
    const proxy = new TestProxy("robot:s3cret");
    try {
      const proxyUrl = (await proxy.listen()).replace("//", "//robot:s3cret@");
      await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "forgejo-proxy" }, stringData: { url: proxyUrl } } });
      const fromSecret = { valueFrom: { secretKeyRef: { name: "forgejo-proxy", key: "url" } } };
      await createRunnerDeployment("proxied", {
        listenerTemplate: {
          ...EXECUTOR_POD_TEMPLATE,
          spec: {
            ...EXECUTOR_POD_TEMPLATE.spec,
            containers: [
              {
                name: "listener",
                env: [
                  { name: "HTTP_PROXY", ...fromSecret },
                  { name: "HTTPS_PROXY", ...fromSecret },
                ],
              },
            ],
          },
        },
      });
      const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["proxied"] });
      await eventually(
        "the job run through the proxied listener",
        async () => (fake.jobs.get(job.id)!.status === "success" ? true : undefined),
        60_000,
      );
      const lines = proxy.requests.map((r) => r.line);
      expect(lines).toContain(`GET ${forgejoUrl}/api/v1/version`);
      expect(lines.filter((l) => l.startsWith(`GET ${forgejoUrl}/api/v1/orgs/acme/actions/runners/jobs`)).length).toBeGreaterThan(0);
      expect(proxy.requests.every((r) => r.credentials === "robot:s3cret")).toBe(true);
      // HTTPS_PROXY is set too, yet the listener's watches and writes reach the API server without it.
      expect(lines.filter((l) => l.startsWith("CONNECT"))).toEqual([]);
      const pods = await core.listNamespacedPod({
        namespace: ns,
        labelSelector: "app.kubernetes.io/component=listener,forgejo.actions.io/runner-deployment=proxied",
      });
      const output = executor.outputOf(pods.items[0]!.metadata!.name!).join("\n");
      expect(output).toContain(`"forgejoProxy":"${proxyUrl.replace("robot:s3cret@", "")}"`);
      expect(output).not.toContain("s3cret");
    } finally {
      await objects.delete("runnerdeployments", ns, "proxied").catch(() => undefined);
      await proxy.close();
    }
  }, 120_000);

  it("gives a runner pod and its Docker sidecar the CA bundle of a private Forgejo from the RunnerDeployment's ConfigMap, and reports a missing one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "forgejo-arc-ca-"));
    try {
      const { cert } = selfSignedCertificate(dir, "forgejo");
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "private-ca" }, data: { "ca.pem": cert } } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A docker label: the Docker sidecar mounts the CA for Forgejo's registry at /etc/docker/certs.d/127.0.0.1:<port>.
    const labels = "private-ca:docker://alpine:3";
    await createRunnerDeployment("private-ca", { labels, caBundleConfigMapRef: { name: "private-ca", key: "ca.pem" } });
    await startListener("private-ca", { labels });
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["private-ca"] });
    const name = `private-ca-${job.id}-1`;
    const created = await eventually("the runner Job", async () =>
      (await batch.listNamespacedJob({ namespace: ns })).items.find((j) => j.metadata?.name === name),
    );
    const pod = created.spec!.template.spec!;
    expect(pod.volumes?.find((v) => v.name === "forgejo-ca")?.configMap).toMatchObject({
      name: "private-ca",
      items: [{ key: "ca.pem", path: "forgejo-ca.crt" }],
    });
    expect(pod.containers[0]!.env).toContainEqual({ name: "SSL_CERT_DIR", value: "/etc/forgejo-arc/ca:/etc/ssl/certs:/etc/pki/tls/certs" });
    expect(pod.initContainers?.[0]?.volumeMounts).toContainEqual({
      name: "forgejo-ca",
      mountPath: `/etc/docker/certs.d/${new URL(forgejoUrl).host}`,
      readOnly: true,
    });
    await actRunnerWhen(name, "Succeeded", (r) => r.status?.phase === "Succeeded");
    await eventually("CABundleValid", async () =>
      (await rdCondition("private-ca", "CABundleValid"))?.status === "True" ? true : undefined,
    );

    // A reference to a ConfigMap that does not exist says so, instead of a listener stuck in ContainerCreating.
    await createRunnerDeployment("missing-ca", { caBundleConfigMapRef: { name: "absent-ca" } });
    const missing = await eventually("CABundleNotFound", async () => {
      const c = await rdCondition("missing-ca", "CABundleValid");
      return c?.reason === "CABundleNotFound" ? c : undefined;
    });
    expect(missing).toMatchObject({ status: "False", message: expect.stringContaining(`ConfigMap ${ns}/absent-ca not found`) });
    expect(await rdCondition("missing-ca", "Ready")).toMatchObject({ status: "False", reason: "CABundleNotFound" });
    await eventOf("missing-ca", "a CABundleNotFound Warning", (e) => e.reason === "CABundleNotFound" && e.type === "Warning");
  }, 90_000);

  it("serves the whole instance with a site administrator's token: a job of a user's repository runs on an instance runner", async () => {
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "admin-token" }, stringData: { token: TOKENS.admin } } });
    await createRunnerDeployment("site", {
      organization: undefined,
      instance: true,
      tokenSecretRef: { name: "admin-token", namespace: ns },
    });
    await startListener("site", { token: TOKENS.admin, scope: ["--instance=true"] });
    const job = fake.enqueueJob({ repository: "alice/dotfiles", runs_on: ["site"] });
    const name = `site-${job.id}-1`;
    const done = await actRunnerWhen(name, `${name} Succeeded`, (r) => r.status?.phase === "Succeeded");
    expect(done.spec).toMatchObject({ instance: true });
    expect(done.spec.organization).toBeUndefined();
    expect(fake.jobs.get(job.id)!.status).toBe("success");
    expect(fake.calls.filter((c) => c.method === "POST" && c.route === "/api/v1/admin/actions/runners")).toHaveLength(1);
    await eventually("the instance runner deleted", async () => (forgejoRunnersOf("site").length === 0 ? true : undefined));
  }, 90_000);

  it("marks an ActRunner Failed with the reason when its pod fails, deletes the runner, and gives the waiting job two more tries", async () => {
    const failedRunsBefore = await controllerMetric("forgejo_arc_runner_run_duration_seconds_count", { phase: "Failed" });
    // The pods fail before they take the job. The ActRunners are kept after they finish, so that the
    // listener counts the tries (with a short retention it would try again at each poll).
    const job = await queueOneJob("fails", {
      retentionAfterFinish: "5m",
      runnerTemplate: {
        metadata: {
          annotations: {
            "forgejo-arc.test/result": "failed",
            "forgejo-arc.test/exit-code": "137",
            "forgejo-arc.test/exit-reason": "OOMKilled",
            [NO_PICKUP_ANNOTATION]: "true",
          },
        },
      },
    });
    const failed = await actRunnerWhen(`fails-${job.id}-1`, "Failed", (r) => r.status?.phase === "Failed");
    expect(failed.status?.reason).toBe("OOMKilled");
    // Why, with what to change, and the end of the runner's log (the kubelet's termination message).
    const why =
      "runner container OOMKilled with exit code 137 (out of memory: raise resources.limits.memory of container runner in the " +
      "RunnerDeployment's spec.runnerTemplate): failed as asked by the forgejo-arc.test/result annotation";
    expect(failed.status?.message).toBe(`The runner pod failed: ${why}`);
    expect((await courseEndingIn(`fails-${job.id}-1`, "Failed")).at(-1)).toMatchObject({
      level: "warn",
      phase: "Failed",
      reason: "OOMKilled",
      message: `The runner pod failed: ${why}`,
    });
    await eventOf(
      `fails-${job.id}-1`,
      "the OOMKilled Warning",
      (e) => e.type === "Warning" && e.reason === "OOMKilled" && !!e.message?.includes(why),
    );

    // The job still waits: a second runner 10 s after the failure, a third 20 s after that one's, then none.
    const third = await actRunnerWhen(`fails-${job.id}-1-try3`, "the third try Failed", (r) => r.status?.phase === "Failed", 75_000);
    expect(third.status?.reason).toBe("OOMKilled");
    const second = (await actRunner(`fails-${job.id}-1-try2`))!;
    expect(
      new Date(second.metadata!.creationTimestamp!).getTime() - new Date(failed.status!.completedAt!).getTime(),
    ).toBeGreaterThanOrEqual(9_000);
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    expect((await actRunners("fails")).map((r) => r.metadata?.name).sort()).toEqual(
      [`fails-${job.id}-1`, `fails-${job.id}-1-try2`, `fails-${job.id}-1-try3`].sort(),
    );
    expect(fake.jobs.get(job.id)!.status).toBe("waiting");
    await eventually("runners deleted", async () => (forgejoRunnersOf("fails").length === 0 ? true : undefined));
    expect(await controllerMetric("forgejo_arc_actrunners_finished_total", { phase: "Failed", reason: "OOMKilled" })).toBe(3);
    // Three in a row: the RunnerDeployment says so, with the last one's reason, and a Warning Event.
    const unhealthy = await eventually("RunnersHealthy False", async () => {
      const current = (await objects.get("runnerdeployments", ns, "fails")) as RunnerDeployment;
      return current.status?.conditions?.find((c) => c.type === "RunnersHealthy" && c.status === "False");
    });
    expect(unhealthy.reason).toBe("OOMKilled");
    expect(unhealthy.message).toBe(
      `Its latest 3 runners failed; the last, ActRunner fails-${job.id}-1-try3, OOMKilled: The runner pod failed: ${why}`,
    );
    await eventOf("fails", "the RunnersHealthy Warning", (e) => e.type === "Warning" && e.reason === "OOMKilled");
    expect(await controllerMetric("forgejo_arc_runner_run_duration_seconds_count", { phase: "Failed" })).toBe(failedRunsBefore + 3);
    await objects.delete("runnerdeployments", ns, "fails");
  }, 150_000);

  it("reads a runner pod that does not start to say why (the controller does not watch runner pods), and says it again at the pickup timeout", async () => {
    const job = await queueOneJob("unplaced", {
      pickupTimeout: "30s",
      runnerTemplate: { spec: { nodeSelector: { "forgejo-arc.test/no-such-node": "true" } } },
    });
    const name = `unplaced-${job.id}-1`;
    const pending = await actRunnerWhen(name, "Unschedulable", (r) => r.status?.reason === "Unschedulable");
    expect(pending.status?.phase).toBe("Pending");
    expect(pending.status?.message).toMatch(/node\(s\) didn't match Pod's node affinity\/selector/);
    const podsOfJob = { namespace: ns, labelSelector: `batch.kubernetes.io/job-name=${name}` };
    expect((await core.listNamespacedPod(podsOfJob)).items).toHaveLength(1);

    // At its pickup timeout the runner is stopped with that reason, and a hint for clusters whose
    // node autoscaler was still adding a node; its pod goes with its Job.
    const stopped = await actRunnerWhen(name, "PickupTimeout", (r) => r.status?.reason === "PickupTimeout", 60_000);
    expect(stopped.status?.message).toMatch(
      /^The runner pod did not start within 30s \(spec\.pickupTimeout\), so it never asked for Forgejo job \d+: .*node affinity\/selector.*\. Where a node autoscaler adds nodes for runner pods, make spec\.pickupTimeout longer/,
    );
    await eventually("the unplaced pod gone", async () =>
      (await core.listNamespacedPod(podsOfJob)).items.length === 0 ? true : undefined,
    );
    await objects.delete("runnerdeployments", ns, "unplaced");
  }, 120_000);

  it("stops a waiting runner whose Secret was deleted from outside (its pod could never mount it), and the job gets another try", async () => {
    const job = await queueOneJob("nosecret", {
      runnerTemplate: { spec: { nodeSelector: { "forgejo-arc.test/no-such-node": "true" } } },
      retentionAfterFinish: "5m",
    });
    const name = `nosecret-${job.id}-1`;
    // Unschedulable: the look at a pod that has not started, which also reads the runner Secret.
    await actRunnerWhen(name, "Unschedulable", (r) => r.status?.reason === "Unschedulable");
    expect(forgejoRunnersOf("nosecret")).toHaveLength(1);
    await core.deleteNamespacedSecret({ name: `${name}-runner`, namespace: ns });

    const stopped = await actRunnerWhen(name, "Failed", (r) => r.status?.phase === "Failed", 60_000);
    expect(stopped.status).toMatchObject({
      reason: "RunnerSecretDeleted",
      message:
        `Runner Secret ${name}-runner was deleted before the runner pod started, so the runner could never read its token; ` +
        `its Job was deleted and, while Forgejo job ${job.id} waits, the listener starts another runner for it`,
    });
    await eventOf(name, "a RunnerSecretDeleted Warning", (e) => e.type === "Warning" && e.reason === "RunnerSecretDeleted");
    await eventually("the Job deleted", async () =>
      (await ignoreNotFound(batch.readNamespacedJob({ name, namespace: ns }))) ? undefined : true,
    );
    const retry = await actRunnerWhen(`${name}-try2`, "the second try registered", (r) => !!r.status?.runnerId, 60_000);
    expect(forgejoRunnersOf("nosecret").map((r) => r.id)).toEqual([retry.status!.runnerId]);
    expect(fake.jobs.get(job.id)!.status).toBe("waiting");
    await objects.delete("runnerdeployments", ns, "nosecret");
  }, 150_000);

  it("says why a runner Job gets no pod (Pod Security admission refuses the Docker sidecar), and why it stopped at the pickup timeout", async () => {
    await inNamespaceOfItsOwn("controller-psa", { labels: { "pod-security.kubernetes.io/enforce": "restricted" } }, async (restricted) => {
      await createRunnerDeployment("psa", { labels: "psa:docker", pickupTimeout: "30s", retentionAfterFinish: "5m" }, restricted);
      await startListener("psa", { namespace: restricted, labels: "psa:docker" });
      const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["psa"] });
      const name = `psa-${job.id}-1`;
      const inRestricted = async () =>
        ((await objects.list("actrunners", restricted)) as { items: ActRunner[] }).items.find((r) => r.metadata?.name === name);

      const refused = await eventually("FailedCreate", async () => {
        const r = await inRestricted();
        return r?.status?.reason === "FailedCreate" ? r : undefined;
      });
      expect(refused.status?.phase).toBe("Pending");
      expect(refused.status?.message).toMatch(
        /^The Job cannot create the runner pod: .*violates PodSecurity "restricted:latest": privileged/,
      );

      const stopped = await eventually(
        "PickupTimeout",
        async () => {
          const r = await inRestricted();
          return r?.status?.reason === "PickupTimeout" ? r : undefined;
        },
        60_000,
      );
      expect(stopped.status?.message).toMatch(
        /^The runner pod did not start within 30s \(spec\.pickupTimeout\), so it never asked for Forgejo job \d+: The Job cannot create the runner pod: .*violates PodSecurity/,
      );
    });
  }, 120_000);

  it("says why a runner Job cannot be created (a used-up ResourceQuota), keeps its one Forgejo runner, and creates the Job once the quota allows", async () => {
    const quota = { metadata: { name: "no-jobs" }, spec: { hard: { "count/jobs.batch": "0" } } };
    await inNamespaceOfItsOwn("controller-quota", { quota }, async (quoted) => {
      await createRunnerDeployment("quota", {}, quoted);
      await startListener("quota", { namespace: quoted });
      const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["quota"] });
      const name = `quota-${job.id}-1`;
      const inQuoted = async () =>
        ((await objects.list("actrunners", quoted)) as { items: ActRunner[] }).items.find((r) => r.metadata?.name === name);
      const runners = () => [...fake.runners.values()].filter((r) => r.name === `k8s-${quoted}-${name}`);

      const refused = await eventually("reason FailedCreate", async () => {
        const r = await inQuoted();
        return r?.status?.reason === "FailedCreate" ? r : undefined;
      });
      expect(refused.status?.phase).toBe("Pending");
      expect(refused.status?.message).toMatch(
        new RegExp(`^Could not start the runner: the API server refused to create Job ${quoted}/${name}: .*exceeded quota: no-jobs`),
      );
      const conditions = Object.fromEntries((refused.status?.conditions ?? []).map((c) => [c.type, c]));
      expect(conditions.JobCreated).toMatchObject({ status: "False", reason: "FailedCreate", message: refused.status?.message });
      expect(conditions.Registered).toMatchObject({ status: "True", reason: "Registered" });
      const warning = await eventually("a FailedCreate Event", async () =>
        (await core.listNamespacedEvent({ namespace: quoted, fieldSelector: `involvedObject.name=${name}` })).items.find(
          (e) => e.reason === "FailedCreate",
        ),
      );
      expect(warning).toMatchObject({ type: "Warning", message: refused.status?.message, involvedObject: { kind: "ActRunner" } });
      expect(runners()).toHaveLength(1);
      // Nothing times it out, so its age is exported for ForgejoArcRunnersWithoutJob.
      const withoutJob = () =>
        controllerMetric("forgejo_arc_actrunners_without_job_oldest_seconds", {
          runner_deployment_namespace: quoted,
          runner_deployment: "quota",
        });
      expect(await withoutJob()).toBeGreaterThan(0);

      await core.replaceNamespacedResourceQuota({
        name: "no-jobs",
        namespace: quoted,
        body: { ...quota, spec: { hard: { "count/jobs.batch": "1" } } },
      });
      const started = await eventually(
        "the Job once the quota allows it",
        async () => {
          const r = await inQuoted();
          return r?.status?.kubernetesJobName ? r : undefined;
        },
        90_000,
      );
      expect(started.status?.conditions?.find((c) => c.type === "JobCreated")).toMatchObject({ status: "True", reason: "JobCreated" });
      expect(started.status?.reason).not.toBe("FailedCreate");
      expect(runners()).toHaveLength(1);
      expect(runners()[0]!.id).toBe(started.status?.runnerId);
      await eventually("no ActRunner without a Job", async () => ((await withoutJob()) === 0 ? true : undefined));
    });
  }, 150_000);

  it("says why a listener cannot start — its Deployment refused, then its pod (ResourceQuotas) — and runs it once the quota allows", async () => {
    const quota = (deployments: string, pods: string) => ({
      metadata: { name: "listener-quota" },
      spec: { hard: { "count/deployments.apps": deployments, pods } },
    });
    await inNamespaceOfItsOwn("controller-rdquota", { quota: quota("0", "0") }, async (quoted) => {
      await createRunnerDeployment("rdquota", {}, quoted);
      const conditionWhen = (type: string, what: string, holds: (c: Condition) => boolean, timeoutMs?: number) =>
        rdConditionWhen({ namespace: quoted, name: "rdquota", type }, what, holds, timeoutMs);
      const refused = await conditionWhen("Ready", "Ready=False ApplyRefused", (c) => c.reason === "ApplyRefused");
      expect(refused.message).toMatch(
        new RegExp(`^The API server refused to apply Deployment ${quoted}/rdquota-listener: .*exceeded quota: listener-quota`),
      );
      await conditionWhen("ListenerAvailable", "ListenerAvailable=False ApplyRefused", (c) => c.reason === "ApplyRefused");
      const warning = await eventually("an ApplyRefused Event", async () =>
        (await core.listNamespacedEvent({ namespace: quoted, fieldSelector: "involvedObject.name=rdquota" })).items.find(
          (e) => e.reason === "ApplyRefused",
        ),
      );
      expect(warning).toMatchObject({ type: "Warning", involvedObject: { kind: "RunnerDeployment" } });

      await core.replaceNamespacedResourceQuota({ name: "listener-quota", namespace: quoted, body: quota("1", "0") });
      const podRefused = await conditionWhen(
        "ListenerAvailable",
        "ListenerAvailable=False FailedCreate",
        (c) => c.reason === "FailedCreate",
        90_000,
      );
      expect(podRefused.message).toMatch(/^Listener Deployment rdquota-listener cannot create its pod: .*exceeded quota: listener-quota/);

      await core.replaceNamespacedResourceQuota({ name: "listener-quota", namespace: quoted, body: quota("1", "1") });
      await conditionWhen("ListenerAvailable", "ListenerAvailable=True", (c) => c.status === "True", 120_000);
    });
  }, 300_000);

  it("says that its listener cannot create ActRunners (a ResourceQuota on them) as Ready=False KubernetesError, Forgejo reachable", async () => {
    const quota = { metadata: { name: "no-actrunners" }, spec: { hard: { "count/actrunners.forgejo.actions.io": "0" } } };
    await inNamespaceOfItsOwn("controller-arquota", { quota }, async (quoted) => {
      await createRunnerDeployment("arquota", {}, quoted);
      await startListener("arquota", { namespace: quoted });
      fake.enqueueJob({ repository: "acme/app", runs_on: ["arquota"] });
      const where = { namespace: quoted, name: "arquota" };
      const ready = await rdConditionWhen(
        { ...where, type: "Ready" },
        "Ready=False KubernetesError",
        (c) => c.reason === "KubernetesError",
      );
      expect(ready.message).toMatch(
        new RegExp(`^The listener's last poll failed: creating ActRunner ${quoted}/arquota-\\d+-1: .*exceeded quota: no-actrunners`),
      );
      const reachable = await rdConditionWhen({ ...where, type: "ForgejoReachable" }, "ForgejoReachable", () => true);
      expect(reachable).toMatchObject({ status: "True", reason: "Polled" });
    });
  }, 120_000);

  it("says how its crash-looping listener last ended, quoting the line it died with (a proxy from a Secret that the listener refuses)", async () => {
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "socks-proxy" }, stringData: { url: "socks5://proxy.example:1080" } },
    });
    const env = [{ name: "HTTPS_PROXY", valueFrom: { secretKeyRef: { name: "socks-proxy", key: "url" } } }];
    await createRunnerDeployment("crashing", {
      listenerTemplate: { spec: { ...EXECUTOR_POD_TEMPLATE.spec, containers: [{ name: "listener", env }] } },
    });
    try {
      const where = { namespace: ns, name: "crashing", type: "ListenerAvailable" };
      const crashing = await rdConditionWhen(
        where,
        "ListenerAvailable=False CrashLoopBackOff with the last run",
        (c) => c.reason === "CrashLoopBackOff" && c.message.includes("its last run ended"),
        60_000,
      );
      expect(crashing.message).toMatch(
        /^Listener pod crashing-listener-[a-z0-9-]+: CrashLoopBackOff: .*; its last run ended Error with exit code 1: forgejo-arc: .*\$HTTPS_PROXY: not the URL of an HTTP proxy; write it as http:\/\/host:port/,
      );
      expect(crashing.message).not.toContain("socks5://proxy.example");
      // Ready names the crash, not its consequence (Forgejo not polled yet).
      expect(await rdCondition("crashing", "Ready")).toMatchObject({ status: "False", reason: "CrashLoopBackOff" });
    } finally {
      await objects.delete("runnerdeployments", ns, "crashing");
      await core.deleteNamespacedSecret({ namespace: ns, name: "socks-proxy" });
    }
  });

  it("says why its listener pod is not scheduled (a nodeSelector no node matches)", async () => {
    await createRunnerDeployment("unsched", { listenerTemplate: { spec: { nodeSelector: { "forgejo-arc.test/no-such-node": "true" } } } });
    try {
      const where = { namespace: ns, name: "unsched", type: "ListenerAvailable" };
      const unavailable = await rdConditionWhen(where, "ListenerAvailable=False Unschedulable", (c) => c.reason === "Unschedulable");
      expect(unavailable.status).toBe("False");
      expect(unavailable.message).toMatch(
        /^Listener pod unsched-listener-[a-z0-9-]+: 0\/\d+ nodes are available: .*node affinity\/selector/,
      );
    } finally {
      await objects.delete("runnerdeployments", ns, "unsched");
    }
  });

  it("asks Forgejo whether a runner took its job only once the listener sees the job running, and then marks it PickedUp", async () => {
    const runFor = { "forgejo-arc.test/run-for": "5m" };
    await createRunnerDeployment("waits", { runnerTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", ...runFor } } } });
    await createRunnerDeployment("takes", { runnerTemplate: { metadata: { annotations: runFor } } });
    await startListener("waits");
    await startListener("takes");
    const waiting = fake.enqueueJob({ repository: "acme/app", runs_on: ["waits"] });
    const taken = fake.enqueueJob({ repository: "acme/app", runs_on: ["takes"] });
    const runnerChecks = (runnerId: number) =>
      fake.calls.filter((c) => c.method === "GET" && c.route === `/api/v1/orgs/acme/actions/runners/${runnerId}`).length;

    const picked = await actRunnerWhen(
      `takes-${taken.id}-1`,
      "PickedUp",
      (r) => !!r.status?.conditions?.some((c) => c.type === "PickedUp" && c.status === "True"),
    );
    expect(fake.jobs.get(taken.id)!.status).toBe("running");
    expect(runnerChecks(picked.status!.runnerId!)).toBeGreaterThanOrEqual(1);

    // The waiting job's runner runs (pickup check interval 1s here) but is never asked about.
    const running = await actRunnerWhen(
      `waits-${waiting.id}-1`,
      "the waiting job's runner Running",
      (r) => r.status?.phase === "Running",
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(runnerChecks(running.status!.runnerId!)).toBe(0);
    expect((await actRunner(`waits-${waiting.id}-1`))?.status?.phase).toBe("Running");
  }, 90_000);

  it("stops an ActRunner whose job was cancelled before a runner took it", async () => {
    const job = await queueOneJob("cancel", {
      runnerTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", "forgejo-arc.test/run-for": "5m" } } },
    });
    const name = `cancel-${job.id}-1`;
    await eventually("the runner's Job", () => batch.readNamespacedJob({ name, namespace: ns }), 30_000);
    expect(forgejoRunnersOf("cancel")).toHaveLength(1);
    fake.cancelJob(job.id);
    const stopped = await actRunnerWhen(name, "JobVanished", (r) => r.status?.reason === "JobVanished", 30_000);
    expect(stopped.status?.phase).toBe("Failed");
    // Counted once the controller has the answer to its status write, maybe a moment after the test saw it.
    const vanished = await eventually(
      "the JobVanished count",
      async () =>
        (await controllerMetric("forgejo_arc_actrunners_finished_total", {
          runner_deployment: "cancel",
          phase: "Failed",
          reason: "JobVanished",
        })) || undefined,
    );
    expect(vanished).toBe(1);
    await eventually("the Job deleted", async () => {
      const jobs: V1Job[] = (await batch.listNamespacedJob({ namespace: ns, fieldSelector: `metadata.name=${name}` })).items;
      return jobs.length === 0 || jobs[0]!.metadata?.deletionTimestamp ? true : undefined;
    });
    await eventually("the Forgejo runner deleted", async () => (forgejoRunnersOf("cancel").length === 0 ? true : undefined));
  }, 90_000);

  it("fails an ActRunner whose Job is deleted from outside instead of making the Job again; before pickup the job gets another try", async () => {
    const runFor = { "forgejo-arc.test/run-for": "5m" };
    // Kept after they finish, so that the listener counts the tries.
    await createRunnerDeployment("gone-ran", { retentionAfterFinish: "5m", runnerTemplate: { metadata: { annotations: runFor } } });
    await createRunnerDeployment("gone-wait", {
      retentionAfterFinish: "5m",
      runnerTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", ...runFor } } },
    });
    await startListener("gone-ran");
    await startListener("gone-wait");
    const taken = fake.enqueueJob({ repository: "acme/app", runs_on: ["gone-ran"] });
    const waiting = fake.enqueueJob({ repository: "acme/app", runs_on: ["gone-wait"] });
    const ran = `gone-ran-${taken.id}-1`;
    const waited = `gone-wait-${waiting.id}-1`;
    const pickedUp = await actRunnerWhen(
      ran,
      "PickedUp",
      (r) => !!r.status?.conditions?.some((c) => c.type === "PickedUp" && c.status === "True"),
    );
    await actRunnerWhen(waited, "Running", (r) => r.status?.phase === "Running", 30_000);

    // As `kubectl delete job` does (background propagation).
    for (const name of [ran, waited]) await batch.deleteNamespacedJob({ name, namespace: ns, propagationPolicy: "Background" });
    const failedRan = await actRunnerWhen(ran, "Failed", (r) => r.status?.phase === "Failed");
    expect(failedRan.status?.reason).toBe("JobDeleted");
    expect(failedRan.status?.message).toBe(
      `Job ${ran} was deleted while its runner ran Forgejo job ${taken.id}; its pod stops, and its runner reports the job cancelled to Forgejo`,
    );
    const failedWaited = await actRunnerWhen(waited, "Failed", (r) => r.status?.phase === "Failed");
    expect(failedWaited.status?.reason).toBe("JobDeleted");
    expect(failedWaited.status?.message).toBe(
      `Job ${waited} was deleted before its runner took Forgejo job ${waiting.id}; while the job waits, the listener starts another runner for it`,
    );
    await eventOf(ran, "a JobDeleted Warning", (e) => e.type === "Warning" && e.reason === "JobDeleted");
    // Neither Job is made again.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    for (const name of [ran, waited])
      expect((await batch.listNamespacedJob({ namespace: ns, fieldSelector: `metadata.name=${name}` })).items).toEqual([]);
    await eventually("the picked-up runner deleted from Forgejo", async () =>
      fake.runners.has(pickedUp.status!.runnerId!) ? undefined : true,
    );
    // The job that still waits gets a second runner 10 s after the failure.
    await actRunnerWhen(`${waited}-try2`, "the second try Running", (r) => r.status?.phase === "Running", 45_000);
    await objects.delete("runnerdeployments", ns, "gone-ran");
    await objects.delete("runnerdeployments", ns, "gone-wait");
  }, 120_000);

  it("fails an ActRunner whose runner pod is deleted while it runs, without a second pod for the same runner", async () => {
    const job = await queueOneJob("podgone", { runnerTemplate: { metadata: { annotations: { "forgejo-arc.test/run-for": "5m" } } } });
    const name = `podgone-${job.id}-1`;
    await actRunnerWhen(name, "PickedUp", (r) => !!r.status?.conditions?.some((c) => c.type === "PickedUp" && c.status === "True"));
    const podsOfJob = { namespace: ns, labelSelector: `batch.kubernetes.io/job-name=${name}` };
    const [pod] = (await core.listNamespacedPod(podsOfJob)).items;
    // As `kubectl delete pod` (or a drain) does: the kubelet stops its containers and reports it Failed.
    await core.deleteNamespacedPod({ name: pod!.metadata!.name!, namespace: ns });
    const failed = await actRunnerWhen(name, "Failed", (r) => r.status?.phase === "Failed");
    expect(failed.status?.reason).toBe("PodDeleted");
    expect(failed.status?.message).toContain("The runner pod failed: its pod is gone, deleted before it ended");
    const ranJob = await batch.readNamespacedJob({ name, namespace: ns });
    expect(ranJob.status).toMatchObject({ failed: 1 });
    expect(ranJob.status?.active ?? 0).toBe(0);
    expect((await core.listNamespacedPod(podsOfJob)).items.filter((p) => p.metadata?.name !== pod!.metadata!.name)).toEqual([]);
    await objects.delete("runnerdeployments", ns, "podgone");
  }, 90_000);

  it("stops a runner pod that runs its job before deleting its Forgejo runner when the RunnerDeployment is deleted, so Forgejo shows the job cancelled, not running", async () => {
    const job = await queueOneJob("stop-first", { runnerTemplate: { metadata: { annotations: { "forgejo-arc.test/run-for": "5m" } } } });
    const name = `stop-first-${job.id}-1`;
    await actRunnerWhen(name, "PickedUp", (r) => !!r.status?.conditions?.some((c) => c.type === "PickedUp" && c.status === "True"));
    expect(fake.jobs.get(job.id)?.status).toBe("running");
    await objects.delete("runnerdeployments", ns, "stop-first");
    await eventually("the ActRunner gone", async () => ((await actRunner(name)) ? undefined : true), GC_TIMEOUT_MS, 500);
    expectCancelledByItsRunner(name, job.id, "stop-first");
    expect(controller.output.some((line) => line.includes(`"ar":"${ns}/${name}"`) && line.includes("Stopping the runner pod"))).toBe(true);
  }, 120_000);

  it("deletes the runner of a Job deleted from outside while it ran its job only once its pod ended, also when its ActRunner is deleted meanwhile, so Forgejo shows the job cancelled", async () => {
    // Its pod is stopped a while later (the garbage collector deletes it moments after the Job, a kubelet stops it in seconds).
    const { job, name, failed, pod } = await runnerJobDeletedFromOutside("job-deleted");
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(fake.runners.get(failed.status!.runnerId!)).toBeDefined();
    // So does the finalizer of the ActRunner deleted meanwhile (as with its RunnerDeployment).
    await objects.delete("actrunners", ns, name);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await actRunner(name))?.metadata?.deletionTimestamp).toBeDefined();
    expect(fake.runners.get(failed.status!.runnerId!)).toBeDefined();
    await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: ns });
    await eventually("the ActRunner gone", async () => ((await actRunner(name)) ? undefined : true), GC_TIMEOUT_MS, 500);
    expectCancelledByItsRunner(name, job.id, "job-deleted");
    await objects.delete("runnerdeployments", ns, "job-deleted");
  }, 120_000);

  it("stops a runner pod still running after Forgejo ended its job and removed its runner (a lost node or a hung runner), so that it frees its place", async () => {
    const job = await queueOneJob("lost", {
      runnerTemplate: { metadata: { annotations: { "forgejo-arc.test/run-for": "5m" } } },
      maxRunners: 1,
    });
    const name = `lost-${job.id}-1`;
    await actRunnerWhen(name, "PickedUp", (r) => !!r.status?.conditions?.some((c) => c.type === "PickedUp" && c.status === "True"));
    const next = fake.enqueueJob({ repository: "acme/app", runs_on: ["lost"] });
    // As Forgejo's zombie reaper does to a runner that stopped reporting: the job fails, the ephemeral runner goes.
    fake.finishJob(job.id, "failure");
    const ended = await eventually("the listener reporting the job ended", async () => {
      const rd = (await objects.get("runnerdeployments", ns, "lost")) as RunnerDeployment;
      return rd.status?.endedActRunners?.includes(name) ? Date.now() : undefined;
    });
    const lost = await actRunnerWhen(name, "Failed RunnerLost", (r) => r.status?.phase === "Failed");
    // Not before the 3 s grace (the listener reported it at most one poll before the test saw it).
    expect(Date.now() - ended).toBeGreaterThanOrEqual(1_000);
    expect(lost.status).toMatchObject({
      reason: "RunnerLost",
      message: expect.stringContaining(`Forgejo ended job ${job.id} and removed its runner, but the runner pod still ran 3s later`),
    });
    await eventually("the Job deleted", async () => {
      const jobs = (await batch.listNamespacedJob({ namespace: ns, fieldSelector: `metadata.name=${name}` })).items;
      return jobs.length === 0 || jobs[0]!.metadata?.deletionTimestamp ? true : undefined;
    });
    await eventOf(name, "a RunnerLost Warning", (e) => e.type === "Warning" && e.reason === "RunnerLost");
    // Its place of maxRunners: 1 goes to the next job.
    await actRunnerWhen(`lost-${next.id}-1`, "the next job's runner", (r) => !!r.status?.kubernetesJobName);
    await objects.delete("runnerdeployments", ns, "lost");
  }, 120_000);

  it("waits for the pod of a Job deleted from outside no longer than its grace period and a margin", async () => {
    // Its pod runs on and never ends.
    const { name, failed, pod } = await runnerJobDeletedFromOutside("pod-stays", { terminationGracePeriodSeconds: 1 });
    const deleted = await runnerDeletedOf(name);
    const waitedMs =
      new Date(deleted.status!.conditions!.find((c) => c.type === "RunnerDeleted")!.lastTransitionTime!).getTime() -
      new Date(failed.status!.completedAt!).getTime();
    // 1 s of grace and the 15 s margin (condition times are whole seconds).
    expect(waitedMs).toBeGreaterThanOrEqual(15_000);
    expect((await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: ns })).status?.phase).toBe("Running");
    await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: ns });
    await objects.delete("runnerdeployments", ns, "pod-stays");
  }, 120_000);

  it("asks Forgejo whether a runner runs its job when its ActRunner is deleted before it was marked PickedUp, and stops its pod first", async () => {
    // No listener: nothing marks the ActRunner PickedUp, so the finalizer learns it from the runner's status in Forgejo.
    const { job, name } = await actRunnerWithoutListener("ask-first", {
      runnerTemplate: { metadata: { annotations: { "forgejo-arc.test/run-for": "5m" } } },
    });
    await eventually("the runner pod took its job", async () => (fake.jobs.get(job.id)?.status === "running" ? true : undefined), 40_000);
    await objects.delete("actrunners", ns, name);
    await eventually("the ActRunner gone", async () => ((await actRunner(name)) ? undefined : true), GC_TIMEOUT_MS, 500);
    expectCancelledByItsRunner(name, job.id, "ask-first");
    await objects.delete("runnerdeployments", ns, "ask-first");
  }, 120_000);

  it("leaves alone the runner Forgejo gave its runner's id to after its database was restored, when the ActRunner is deleted", async () => {
    // No listener, and a pod no node takes: the runner never takes its job, so the finalizer asks Forgejo first.
    const { name } = await actRunnerWithoutListener("restored", {
      runnerTemplate: { spec: { nodeSelector: { "forgejo-arc.test/no-such": "node" } } },
    });
    const started = await actRunnerWhen(name, "its runner registered and its Job created", (r) => !!r.status?.kubernetesJobName);
    const runnerId = started.status!.runnerId!;
    // Registered by hand: its description names no ActRunner of this cluster, so the orphan sweep leaves it alone too.
    const other = fake.giveRunnerIdToAnother(runnerId, { name: "registered-after-the-restore", description: "" });
    await objects.delete("actrunners", ns, name);
    await eventually("the ActRunner gone", async () => ((await actRunner(name)) ? undefined : true), GC_TIMEOUT_MS, 500);
    const runnerListings = () => fake.calls.filter((c) => c.method === "GET" && c.route.endsWith("/actions/runners")).length;
    const listedBefore = runnerListings();
    await eventually("an orphan sweep since", async () => (runnerListings() > listedBefore ? true : undefined), 10_000, 250);
    expect(fake.runners.get(runnerId)).toMatchObject({ uuid: other.uuid, name: "registered-after-the-restore" });
    expect(fake.runnersDeletedByApi).not.toContain(runnerId);
    fake.runners.delete(runnerId);
    await objects.delete("runnerdeployments", ns, "restored");
  }, 120_000);

  it("is Ready=False Suspended while spec.suspend holds its jobs back, runs them once resumed, and says so with an Event when suspended again", async () => {
    await createRunnerDeployment("held", { suspend: true });
    await startListener("held");
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["held"] });
    const at = { namespace: ns, name: "held", type: "Ready" };
    const suspend = (suspended: boolean) =>
      objects.api.patchNamespacedCustomObject(
        {
          group: "forgejo.actions.io",
          version: "v1alpha1",
          namespace: ns,
          plural: "runnerdeployments",
          name: "held",
          body: { spec: { suspend: suspended } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    expect(await rdConditionWhen(at, "Ready Suspended", (c) => c.reason === "Suspended")).toMatchObject({ status: "False" });
    expect(((await objects.get("runnerdeployments", ns, "held")) as RunnerDeployment).status?.waitingJobs).toBe(1);
    expect(await actRunners("held")).toEqual([]);
    await suspend(false);
    await rdConditionWhen(at, "Ready True", (c) => c.status === "True");
    await actRunnerWhen(`held-${job.id}-1`, "its Job", (r) => r.status?.kubernetesJobName !== undefined);
    await suspend(true);
    const event = await eventOf("held", "Suspended", (e) => e.reason === "Suspended");
    expect(event.message).toMatch(/^Ready is False: spec.suspend is true: the listener creates no ActRunners/);
    expect(event.type).toBe("Normal");
    await objects.delete("runnerdeployments", ns, "held");
  }, 90_000);

  it("starts one runner for a job that two RunnerDeployments with overlapping labels both list; the other ActRunner yields", async () => {
    // The runners do not take the job, so that it waits until both listeners have seen it.
    const runnerTemplate = { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", "forgejo-arc.test/run-for": "5m" } } };
    await createRunnerDeployment("overlap-small", { labels: "overlap:host", runnerTemplate });
    await createRunnerDeployment("overlap-large", { labels: "overlap:host,overlap-gpu:host", runnerTemplate });
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["overlap"] });
    await Promise.all([
      startListener("overlap-small", { labels: "overlap:host" }),
      startListener("overlap-large", { labels: "overlap:host,overlap-gpu:host" }),
    ]);
    const names = [`overlap-small-${job.id}-1`, `overlap-large-${job.id}-1`];

    const decided = await Promise.all(
      names.map((name) =>
        actRunnerWhen(name, `${name} running or finished`, (r) => ["Running", "Succeeded", "Failed"].includes(r.status?.phase ?? "")),
      ),
    );
    const yielded = decided.filter((r) => r.status?.reason === "DuplicateJob");
    const serving = decided.filter((r) => r.status?.phase === "Running");
    expect(yielded).toHaveLength(1);
    expect(serving).toHaveLength(1);
    const [loser, winner] = [yielded[0]!, serving[0]!];
    expect(loser.status?.phase).toBe("Failed");
    expect(loser.status?.message).toContain(`is served by ActRunner ${ns}/${winner.metadata!.name}`);
    expect(winner.status?.runnerId).toBeDefined();

    // The one that yielded never had a runner: none registered, no credentials, no Job.
    expect(loser.status?.runnerId).toBeUndefined();
    expect(forgejoRunnersOf("overlap").map((r) => r.name)).toEqual([`k8s-${ns}-${winner.metadata!.name}`]);
    await expect(core.readNamespacedSecret({ name: `${loser.metadata!.name}-runner`, namespace: ns })).rejects.toMatchObject({ code: 404 });
    const jobsOf = async (rdName: string) =>
      (await batch.listNamespacedJob({ namespace: ns, labelSelector: `forgejo.actions.io/runner-deployment=${rdName}` })).items;
    expect([...(await jobsOf("overlap-small")), ...(await jobsOf("overlap-large"))].map((j) => j.metadata?.name)).toEqual([
      winner.metadata!.name,
    ]);
    const warning = await eventOf(loser.metadata!.name!, "the DuplicateJob", (e) => e.reason === "DuplicateJob");
    expect(warning).toMatchObject({ type: "Warning" });
    expect(warning?.message).toContain("give each RunnerDeployment label names of its own");
    expect(await controllerMetric("forgejo_arc_actrunners_finished_total", { phase: "Failed", reason: "DuplicateJob" })).toBe(1);
    await Promise.all(["overlap-small", "overlap-large"].map((name) => objects.delete("runnerdeployments", ns, name)));
  }, 90_000);

  it("stops a runner that does not pick up its job within the pickup timeout", async () => {
    const job = await queueOneJob("pickup", {
      pickupTimeout: "4s",
      runnerTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", "forgejo-arc.test/run-for": "5m" } } },
    });
    const stopped = await actRunnerWhen(`pickup-${job.id}-1`, "PickupTimeout", (r) => r.status?.reason === "PickupTimeout");
    // The runner's log (kwok serves the same lines for every container) is read before its pod goes.
    const message = `The runner did not pick up Forgejo job ${job.id} within 4s (spec.pickupTimeout); the job may wait behind a concurrency group or have been cancelled. The runner's last log lines: ${KWOK_CONTAINER_LOG_LINES.join("\n")}`;
    expect(stopped.status?.message).toBe(message);
    const warning = await eventOf(stopped.metadata!.name!, "the PickupTimeout", (e) => e.reason === "PickupTimeout");
    expect(warning).toMatchObject({ type: "Warning", message });
    expect(
      await controllerMetric("forgejo_arc_actrunners_finished_total", {
        runner_deployment_namespace: ns,
        runner_deployment: "pickup",
        phase: "Failed",
        reason: "PickupTimeout",
      }),
    ).toBe(1);
    await eventually("the Forgejo runner deleted", async () => (forgejoRunnersOf("pickup").length === 0 ? true : undefined));
    expect(fake.jobs.get(job.id)!.status).toBe("waiting");
  }, 90_000);

  it("deletes everything when the RunnerDeployment is deleted, Forgejo runners included", async () => {
    await createRunnerDeployment("gone", {
      retentionAfterFinish: "1h",
      runnerTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", "forgejo-arc.test/run-for": "5m" } } },
    });
    await startListener("gone");
    fake.enqueueJob({ repository: "acme/app", runs_on: ["gone"] });
    fake.enqueueJob({ repository: "acme/app", runs_on: ["gone"] });
    await eventually("2 registered runners", async () => (forgejoRunnersOf("gone").length === 2 ? true : undefined), 30_000);
    await eventually(
      "2 Jobs",
      async () =>
        (await batch.listNamespacedJob({ namespace: ns, labelSelector: "forgejo.actions.io/runner-deployment=gone" })).items.length === 2
          ? true
          : undefined,
      30_000,
    );
    const goneSeries = { runner_deployment_namespace: ns, runner_deployment: "gone" };
    // Observed after the status write that follows each Job, so a moment after the Jobs exist.
    await eventually("both queue → Job observations", async () =>
      (await controllerMetric("forgejo_arc_queue_to_job_seconds_count", goneSeries)) === 2 ? true : undefined,
    );
    // Exported at 0 before any runner failed, so that an alert on its increase sees the first.
    const seriesOfGone = async () =>
      (await controller.get("/metrics")).text
        .split("\n")
        .filter((line) => line.includes(`runner_deployment_namespace="${ns}"`) && line.includes('runner_deployment="gone"'));
    const metrics = (await controller.get("/metrics")).text;
    expect(metricValues(metrics, "forgejo_arc_actrunners_finished_total", { ...goneSeries, reason: "PickupTimeout" })).toEqual([0]);
    await objects.delete("runnerdeployments", ns, "gone");
    await eventually("ActRunners gone", async () => ((await actRunners("gone")).length === 0 ? true : undefined), GC_TIMEOUT_MS);
    // Its metric series go with it (a controller would otherwise export every deleted one's until it restarts).
    await eventually("the metric series of RunnerDeployment gone removed", async () =>
      (await seriesOfGone()).length === 0 ? true : undefined,
    );
    await eventually(
      "listener Deployment gone",
      async () =>
        (await apps.listNamespacedDeployment({ namespace: ns, fieldSelector: "metadata.name=gone-listener" })).items.length === 0
          ? true
          : undefined,
      GC_TIMEOUT_MS,
    );
    expect(forgejoRunnersOf("gone")).toEqual([]);
    // Runners that had not taken their job were deleted first, their pods not stopped before: so they took none.
    expect(controller.output.filter((line) => line.includes(`"ar":"${ns}/gone-`) && line.includes("Stopping the runner pod"))).toEqual([]);
  }, 240_000);

  it("tries failed registrations again as soon as Forgejo answers the listener's polls again, not after their backoff", async () => {
    await createRunnerDeployment("outage");
    await startListener("outage");
    // Registrations fail first (the listener's polls pass), long enough for their backoff to grow.
    fake.addFault({ status: 503, method: "POST", pathPrefix: "/orgs/acme/actions/runners" });
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["outage"] });
    const name = `outage-${job.id}-1`;
    const failed = await registrationFailedOf(name);
    expect(failed.status).toMatchObject({ phase: "Pending", reason: "ServerError" });
    await new Promise((resolve) => setTimeout(resolve, 35_000));
    // Then Forgejo goes down for the listener too, and comes back.
    fake.addFault({ status: 503 });
    await eventually("the listener's poll failing", async () =>
      (await rdCondition("outage", "ForgejoReachable"))?.status === "False" ? true : undefined,
    );
    fake.clearFaults();
    await actRunnerWhen(name, "its Job once Forgejo is back", (r) => r.status?.kubernetesJobName !== undefined, 60_000);
    expect(
      controller.output.some(
        (line) =>
          line.includes(`"rd":"${ns}/outage"`) &&
          line.includes("Trying failed registrations again: Forgejo answers its listener's polls again"),
      ),
    ).toBe(true);
  }, 180_000);

  it("raises the count of a RunnerDeployment's repeated Events instead of adding one per flap of a condition", async () => {
    await createRunnerDeployment("flaky");
    await startListener("flaky");
    const reachable = (status: string) =>
      eventually(`ForgejoReachable ${status}`, async () =>
        (await rdCondition("flaky", "ForgejoReachable"))?.status === status ? true : undefined,
      );
    await reachable("True");
    for (let flap = 0; flap < 3; flap++) {
      fake.addFault({ status: 502, pathPrefix: "/orgs/acme/actions/runners/jobs" });
      await reachable("False");
      fake.clearFaults();
      await reachable("True");
    }
    const unreachable = await eventOf(
      "flaky",
      "a ForgejoReachable False counted three times",
      (e) => e.message?.startsWith("ForgejoReachable is False") === true && (e.count ?? 0) >= 3,
    );
    expect(unreachable).toMatchObject({ type: "Warning", reason: "ServerError", count: 3 });
    const said = (await events("flaky")).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    expect(said).toEqual([...new Set(said)]);
  }, 120_000);

  it("keeps starting other RunnerDeployments' runners while one's Forgejo server takes registrations and never answers", async () => {
    // Its own server, so that only its calls go unanswered; its listener's polls pass.
    const silent = seededFake();
    const silentUrl = await silent.listen();
    try {
      silent.addFault({ noAnswer: true, method: "POST", pathPrefix: "/orgs/acme/actions/runners" });
      await createRunnerDeployment("silent", { forgejoServer: silentUrl });
      listeners.push(await startListenerProcess({ namespace: ns, rdName: "silent", forgejoUrl: silentUrl, token: TOKENS.owner }));
      // More ActRunners than the controller has workers, each of whose registrations would hold one for the timeout.
      for (let i = 0; i < 12; i++) silent.enqueueJob({ repository: "acme/app", runs_on: ["silent"] });
      await eventually("12 ActRunners of silent", async () => ((await actRunners("silent")).length === 12 ? true : undefined));
      const timedOut = await eventually(
        "a registration timed out",
        async () =>
          (await actRunners("silent")).find((r) => r.status?.conditions?.some((c) => c.type === "Registered" && c.reason === "Timeout")),
        30_000,
      );
      expect(timedOut.status?.message).toContain(silentUrl);

      await createRunnerDeployment("bystander");
      await startListener("bystander");
      const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["bystander"] });
      const name = `bystander-${job.id}-1`;
      await eventually("the bystander's ActRunner", async () => ((await actRunner(name)) ? true : undefined), 30_000, 100);
      const created = Date.now();
      await actRunnerWhen(name, "its Job", (r) => r.status?.kubernetesJobName !== undefined, 60_000);
      // Without failing the silent server's calls at once, it waited behind them (29 s when measured).
      expect(Date.now() - created).toBeLessThan(5_000);
      expect(controller.output.some((line) => line.includes(silentUrl) && line.includes("gave no answer"))).toBe(true);
    } finally {
      silent.clearFaults();
      await objects.delete("runnerdeployments", ns, "silent");
      await eventually(
        "silent's ActRunners gone",
        async () => ((await actRunners("silent")).length === 0 ? true : undefined),
        GC_TIMEOUT_MS,
      );
      await silent.close();
    }
  }, 180_000);

  it("deletes the Forgejo runners when the token Secret goes together with the RunnerDeployment (kubectl delete -f, a namespace deleted), with the token it last read", async () => {
    // A Secret of its own, read by nothing but this RunnerDeployment's ActRunners: the orphan sweep
    // uses the first RunnerDeployment of organization acme by name whose token works, here or earlier.
    await createRunnerDeployment("a-sweeps-acme");
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "torn-down-token" }, stringData: { token: TOKENS.owner } },
    });
    await createRunnerDeployment("zz-torn-down", {
      tokenSecretRef: { name: "torn-down-token", namespace: ns },
      retentionAfterFinish: "1h",
      runnerTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", "forgejo-arc.test/run-for": "5m" } } },
    });
    await startListener("zz-torn-down");
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["zz-torn-down"] });
    const name = `zz-torn-down-${job.id}-1`;
    await actRunnerWhen(name, "its Job", (r) => r.status?.kubernetesJobName !== undefined);
    expect(forgejoRunnersOf("zz-torn-down")).toHaveLength(1);
    // The controller read the Secret when it registered the runner; it reads it again after a minute.
    await new Promise((resolve) => setTimeout(resolve, 62_000));
    await core.deleteNamespacedSecret({ name: "torn-down-token", namespace: ns });
    await objects.delete("runnerdeployments", ns, "zz-torn-down");
    await eventually("the ActRunner gone", async () => ((await actRunner(name)) ? undefined : true), GC_TIMEOUT_MS, 500);
    expect(forgejoRunnersOf("zz-torn-down")).toEqual([]);
    expect((await events(name)).map((e) => e.reason)).not.toContain("RunnerCleanupAbandoned");
    expect(
      controller.output.some(
        (line) =>
          line.includes(`"ar":"${ns}/${name}"`) &&
          line.includes("token and CA bundle last read") &&
          line.includes(`token Secret ${ns}/torn-down-token not found`),
      ),
    ).toBe(true);
  }, 180_000);

  it("deletes the Forgejo runners of a private-CA Forgejo when their RunnerDeployment is deleted (the ActRunners carry the CA reference)", async () => {
    const server = await httpsServer(fake.app());
    try {
      const httpsUrl = server.url;
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "https-ca" }, data: { "ca.crt": server.cert } } });
      await createRunnerDeployment("tls", {
        forgejoServer: httpsUrl,
        caBundleConfigMapRef: { name: "https-ca" },
        runnerTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", "forgejo-arc.test/run-for": "5m" } } },
      });
      listeners.push(
        await startListenerProcess({
          namespace: ns,
          rdName: "tls",
          forgejoUrl: httpsUrl,
          token: TOKENS.owner,
          extraArgs: ["--ca-file", server.certFile],
        }),
      );
      fake.enqueueJob({ repository: "acme/app", runs_on: ["tls"] });
      await eventually("a runner registered over https", async () => (forgejoRunnersOf("tls").length === 1 ? true : undefined), 30_000);
      const [runner] = await actRunners("tls");
      await actRunnerWhen(runner!.metadata!.name!, "its Job", (r) => r.status?.kubernetesJobName !== undefined);
      await objects.delete("runnerdeployments", ns, "tls");
      await eventually("ActRunner gone", async () => ((await actRunners("tls")).length === 0 ? true : undefined), GC_TIMEOUT_MS);
      expect(forgejoRunnersOf("tls")).toEqual([]);
      expect((await events(runner!.metadata!.name!)).map((e) => e.reason)).not.toContain("RunnerCleanupAbandoned");
    } finally {
      await server.close();
    }
  }, 120_000);

  it("gives up deleting a Forgejo runner after the cleanup timeout when Forgejo stays down, with an Event; the orphan sweep deletes it once Forgejo answers", async () => {
    await createRunnerDeployment("down", {
      retentionAfterFinish: "1h",
      runnerTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true", "forgejo-arc.test/run-for": "5m" } } },
    });
    await startListener("down");
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["down"] });
    const name = `down-${job.id}-1`;
    await eventually("a registered runner", async () => (forgejoRunnersOf("down").length === 1 ? true : undefined), 30_000);
    const abandonedUid = (await actRunner(name))!.metadata!.uid!;
    const clusterId = (await core.readNamespace({ name: "kube-system" })).metadata!.uid!;
    const [left] = forgejoRunnersOf("down");
    expect(left?.description).toBe(`forgejo-arc: ActRunner ${ns}/${name} for job ${job.id} (uid ${abandonedUid}, cluster ${clusterId})`);
    // Runners the orphan sweep must leave: another cluster's for the same ActRunner uid, and one
    // registered by hand. Registered now, so every sweep that can see the abandoned runner lists them.
    const foreign = await registerRunnerByHand(left!.description.replace(clusterId, "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"));
    const unmarked = await registerRunnerByHand("a runner registered by hand");
    // The first RunnerDeployment of organization acme by name names no Secret: the sweep must use
    // another's token. Created before the ActRunner goes, so every sweep that can delete it sees it.
    await createRunnerDeployment("a-broken", { tokenSecretRef: { name: "absent", namespace: ns } });
    await eventually("a-broken cached by the controller", async () => ((await rdCondition("a-broken", "TokenValid")) ? true : undefined));
    // Every runner deletion fails, by whichever scope it comes: the orphan sweep may list and delete
    // this organization's runner through the instance scope of "site" (a test above) too.
    fake.addFault({ status: 503, method: "DELETE" });
    const abandonedBefore = await controllerMetric("forgejo_arc_runner_cleanups_abandoned_total");
    const started = Date.now();
    await objects.delete("actrunners", ns, name);
    // By uid: the listener makes a new ActRunner of the same name for the job, which still waits.
    await eventually(
      "the ActRunner released",
      async () => ((await actRunner(name))?.metadata?.uid === abandonedUid ? undefined : true),
      60_000,
      500,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(14_000);
    await eventOf(
      name,
      "the RunnerCleanupAbandoned",
      (e) => e.reason === "RunnerCleanupAbandoned" && !!e.message?.includes("delete it in Forgejo"),
    );
    expect((await controllerMetric("forgejo_arc_runner_cleanups_abandoned_total")) - abandonedBefore).toBe(1);
    // Longer than one orphan sweep interval (2s): while Forgejo is down, the sweep cannot delete it either.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(fake.runners.has(left!.id)).toBe(true);

    // Once Forgejo answers again, the orphan sweep deletes the runner left behind, and only it.
    const deletedBefore = await controllerMetric("forgejo_arc_orphan_runners_deleted_total");
    fake.clearFaults();
    // The Event comes after every deletion of its sweep; it is on the RunnerDeployment whose token
    // the sweep used: for organization acme the first by name whose token works, or "site" when the
    // sweep's pass over the instance scope is the first after Forgejo answers again.
    const sweepEvent = await eventually(
      "the OrphanRunnersDeleted Event",
      async () =>
        (await core.listNamespacedEvent({ namespace: ns, fieldSelector: "reason=OrphanRunnersDeleted" })).items.find((e) =>
          e.message?.includes(left!.name),
        ),
      30_000,
      500,
    );
    expect(sweepEvent.involvedObject.kind).toBe("RunnerDeployment");
    expect(sweepEvent.involvedObject.name).not.toBe("a-broken");
    expect([
      `Deleted 1 Forgejo runner(s) of organization acme whose ActRunners no longer exist: ${left!.name}`,
      `Deleted 1 Forgejo runner(s) of the instance whose ActRunners no longer exist: ${left!.name}`,
    ]).toContain(sweepEvent.message);
    expect(fake.runnersDeletedByApi).toContain(left!.id);
    expect([fake.runners.has(left!.id), fake.runners.has(foreign), fake.runners.has(unmarked)]).toEqual([false, true, true]);
    expect((await controllerMetric("forgejo_arc_orphan_runners_deleted_total")) - deletedBefore).toBe(1);
  }, 120_000);

  it("reports a missing token Secret and a rejected token as TokenValid=False with an Event, without crashing, and takes up the Secret once created", async () => {
    // A listener pod on a kwok node: no poll of its own brings the controller back to the RunnerDeployment.
    await createRunnerDeployment("nosecret", { tokenSecretRef: { name: "absent", namespace: ns } });
    // One on the executor node, which cannot start without the Secret, as a kubelet would say.
    await createRunnerDeployment("latesecret", {
      tokenSecretRef: { name: "late", namespace: ns },
      listenerTemplate: EXECUTOR_POD_TEMPLATE,
    });
    const missing = await eventually("SecretNotFound", async () => {
      const c = await rdCondition("nosecret", "TokenValid");
      return c?.reason === "SecretNotFound" ? c : undefined;
    });
    expect(missing).toMatchObject({ status: "False", message: expect.stringContaining(`Secret ${ns}/absent not found`) });
    expect(await rdCondition("nosecret", "Ready")).toMatchObject({ status: "False", reason: "SecretNotFound" });
    await eventOf("nosecret", "a SecretNotFound Warning", (e) => e.reason === "SecretNotFound" && e.type === "Warning");
    const notStarted = await rdConditionWhen(
      { namespace: ns, name: "latesecret", type: "ListenerAvailable" },
      "the listener pod waiting for its Secret",
      (c) => c.reason === "CreateContainerConfigError",
    );
    expect(notStarted.message).toMatch(/: CreateContainerConfigError: secret "late" not found$/);

    for (const secret of ["absent", "late"])
      await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: secret }, stringData: { token: TOKENS.owner } } });
    // Within the controller's 30 s re-read of a missing Secret, well before its once-a-minute re-apply here.
    await rdConditionWhen(
      { namespace: ns, name: "nosecret", type: "TokenValid" },
      "the created Secret read",
      (c) => c.status === "True",
      40_000,
    );
    await rdConditionWhen(
      { namespace: ns, name: "latesecret", type: "ListenerAvailable" },
      "the listener started once its Secret exists",
      (c) => c.status === "True",
      40_000,
    );
    await objects.delete("runnerdeployments", ns, "latesecret");

    await createRunnerDeployment("badtoken");
    await startListener("badtoken", { token: "not-a-token" });
    const rejected = await eventually(
      "Unauthorized",
      async () => {
        const c = await rdCondition("badtoken", "TokenValid");
        return c?.reason === "Unauthorized" ? c : undefined;
      },
      30_000,
    );
    expect(rejected.message).toContain("replace it in the token Secret");
    expect(controller.child.exitCode).toBeNull();
  }, 150_000);

  it("says on the ActRunner and its RunnerDeployment why Forgejo refuses to register a runner (a token that reads jobs but cannot register), and registers it once the token is replaced", async () => {
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "read-only-token" }, stringData: { token: TOKENS.readOnly } },
    });
    await createRunnerDeployment("readonly", { tokenSecretRef: { name: "read-only-token", namespace: ns } });
    // Exported before any refusal, so that ForgejoArcRunnerRegistrationsRefused's increase() sees the first.
    const refusalSeries = { operation: "register_runner", outcome: "403" };
    const refusalsBefore = await refusalCount(refusalSeries);
    expect(refusalsBefore).toBeDefined();
    await startListener("readonly", { token: TOKENS.readOnly });
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["readonly"] });
    const name = `readonly-${job.id}-1`;
    const refused = await registrationFailedOf(name);
    const condition = refused.status!.conditions!.find((c) => c.type === "Registered")!;
    expect(condition).toMatchObject({ reason: "Forbidden", message: expect.stringContaining("needs the write:organization scope") });
    expect(refused.status?.phase).toBe("Pending");
    const warning = await eventOf(name, "a RegistrationFailed", (e) => e.reason === "RegistrationFailed");
    expect(warning).toMatchObject({ type: "Warning", message: condition.message });
    const tokenValid = await eventually("TokenValid=False on the RunnerDeployment", async () => {
      const c = await rdCondition("readonly", "TokenValid");
      return c?.status === "False" ? c : undefined;
    });
    expect(tokenValid).toMatchObject({ reason: "Forbidden", message: expect.stringContaining(`ActRunner ${name}`) });
    expect(tokenValid.message).toContain("needs the write:organization scope");
    expect(await rdCondition("readonly", "Ready")).toMatchObject({ status: "False", reason: "Forbidden" });
    expect(forgejoRunnersOf("readonly")).toEqual([]);
    expect(await refusalCount(refusalSeries)).toBeGreaterThan(refusalsBefore!);

    await core.patchNamespacedSecret(
      { name: "read-only-token", namespace: ns, body: { data: { token: Buffer.from(TOKENS.owner).toString("base64") } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const started = await actRunnerWhen(
      name,
      "its Job once the token can register",
      (r) => r.status?.kubernetesJobName !== undefined,
      120_000,
    );
    expect(started.status!.conditions!.find((c) => c.type === "Registered")).toMatchObject({ status: "True", reason: "Registered" });
    await eventually("TokenValid=True again", async () =>
      (await rdCondition("readonly", "TokenValid"))?.status === "True" ? true : undefined,
    );
  }, 180_000);
});
