// npm run bench:controller
//  1. 500 ActRunners (as a listener creates them, finalizer included) → 500 Jobs by the controller,
//     against the same 500 Jobs created directly (same spec, labels and owner, same HTTP client and
//     ServiceAccount, same concurrency) in the same run; the controller is stopped before that raw
//     phase. Prints API requests per ActRunner (the API server's flow-control count for the
//     controller's ServiceAccount), the API server's requests by kind and every process's CPU in both
//     phases, and the controller's peak RSS. Runner pods run BENCH_RUN_FOR (default 5m) in both phases.
//     Then the design's ceiling here: the controller's four writes per ActRunner sent by the bench
//     itself for 500 other ActRunners (idealWrites), against the same raw rate.
//  2. Job queued in the fake Forgejo → Kubernetes Job created, p50/p95, with the default 10s poll.
// Uses (or starts and then stops) the local cluster; the controller and listener run as processes of
// the bundle the image ships (dist/forgejo-arc.mjs, built first), with the image's Node options.
// BENCH_WORKERS=<n> (default 4, the controller's default) sets the controller's workers and the raw
// creates' concurrency; BENCH_CPU_PROF=<dir> writes the controller's CPU profiles there (node --cpu-prof);
// BENCH_APISERVER_PROF=<dir> kube-apiserver's over the start of each phase (see profileApiserver).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  Watch,
  type KubernetesObject,
  type V1Job,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import { PROJECT_ROOT, clusterDown, clusterUp, freePort, httpsGet, installCrds, type ClusterState } from "../cluster/cluster.ts";
import { benchForgejo, benchJobData } from "./shared.ts";
import { BUNDLE, buildBundle } from "../build.ts";
import { controllerClusterRoleRules } from "../../src/controller/rbac.ts";
import { removeActRunnerFinalizers } from "../../test/integration/helpers.ts";
import { listenerRoleRules } from "../../src/listener/rbac.ts";
import { ignoreNotFound, loadKubeConfig } from "../../src/k8s/client.ts";
import { makeEventRecorder } from "../../src/k8s/events.ts";
import { makeRestClient, type RestClient } from "../../src/k8s/rest.ts";
import { API_GROUP, API_GROUP_VERSION, API_VERSION } from "../../src/api/schemas.ts";
import type { AR } from "../../src/controller/cache.ts";
import { nextStatus } from "../../src/controller/actrunner.ts";
import { parseControllerConfig, podOptionsOf } from "../../src/controller/config.ts";
import { runnerJob, runnerSecret, type RunnerJobOptions } from "../../src/controller/runner-job.ts";
import { startedRecord } from "../../src/controller/runner-start.ts";
import type { ActRunner } from "../../src/generated/api.ts";
import { silentLogger } from "../../src/observability/log.ts";

const COUNT = Number(process.env.BENCH_RUNNERS ?? 500);
const LATENCY_JOBS = Number(process.env.BENCH_LATENCY_JOBS ?? 20);
// The controller's --workers and the raw creates' concurrency alike; 4 is the controller's default.
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
if (!Number.isInteger(WORKERS) || WORKERS < 1 || WORKERS > 64)
  throw new Error(`BENCH_WORKERS must be an integer from 1 to 64 (the controller's --workers range), got "${process.env.BENCH_WORKERS}"`);
// How long runner pods run (kwok), in both phases alike. CI jobs take minutes, so by default no pod
// finishes inside the measured windows; BENCH_RUN_FOR=2s makes them finish at once (more writes:
// phase changes, runner deletion).
const RUN_FOR = process.env.BENCH_RUN_FOR ?? "5m";
const RUN_FOR_ANNOTATION = "forgejo-arc.test/run-for";
const BENCH_SELECTOR = "forgejo.actions.io/runner-deployment=bench";
// The Node options the image runs with (Dockerfile ENV NODE_OPTIONS), so the RSS measured is the product's.
const DOCKERFILE = readFileSync(join(PROJECT_ROOT, "Dockerfile"), "utf8");
const CONTROLLER_NODE_OPTIONS = /NODE_OPTIONS="([^"]+)"/.exec(DOCKERFILE)![1]!;
const CONTROLLER_MALLOC_ARENA_MAX = /MALLOC_ARENA_MAX="([^"]+)"/.exec(DOCKERFILE)![1]!;
await buildBundle();
// A cluster the bench starts itself serves the API server's profiles when they are asked for.
if (process.env.BENCH_APISERVER_PROF) process.env.CLUSTER_APISERVER_PROFILING ??= "1";
const { state, started } = await clusterUp();
const kc = loadKubeConfig(state.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const batch = kc.makeApiClient(BatchV1Api);
/** The raw creates' client: the controller's HTTP client under the controller's ServiceAccount (set below). */
let rest: ReturnType<typeof makeRestClient> | undefined;
const custom = kc.makeApiClient(CustomObjectsApi);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const ns = `bench-controller-${Date.now().toString(36)}`;
const fake = benchForgejo();
const children: ChildProcess[] = [];
/** Folders of the ServiceAccount kubeconfigs (they hold tokens): removed at the end. */
const tempDirs: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function createRunnerDeployment(name: string): Promise<object> {
  return custom.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace: ns,
    plural: "runnerdeployments",
    body: {
      apiVersion: API_GROUP_VERSION,
      kind: "RunnerDeployment",
      metadata: { name },
      spec: { forgejoServer: fakeUrl, organization: "acme", labels: `${name}:host`, tokenSecretRef: { name: "token" } },
    },
  });
}

/** "etcd 1.2 s, kube-apiserver 3.4 s, …": CPU seconds spent between two cpuSeconds() readings. */
function cpuSpent(before: Record<string, number>, after: Record<string, number>): string {
  return Object.entries(after)
    .map(([name, seconds]) => `${name} ${(seconds - (before[name] ?? 0)).toFixed(1)} s`)
    .join(", ");
}

/** CPU seconds the control plane (every cluster process, not the controller, not the bench) spent between two readings. */
function controlPlaneSeconds(before: Record<string, number>, after: Record<string, number>): number {
  return state.processes.reduce((sum, p) => sum + (after[p.name] ?? 0) - (before[p.name] ?? 0), 0);
}

const QUIET_CORES = 0.3;
const QUIET_MAX_WAIT_MS = 60_000;

/**
 * Waits until the control plane is quiet — under QUIET_CORES of CPU over each of two consecutive
 * seconds, at most QUIET_MAX_WAIT_MS — so that a phase does not carry the previous step's trailing
 * work (the Job controller's status updates, the garbage collector's graph, kwok). Returns the
 * seconds waited.
 */
async function quietControlPlane(): Promise<number> {
  const start = performance.now();
  let quietSeconds = 0;
  let before = cpuSeconds(state);
  while (quietSeconds < 2 && performance.now() - start < QUIET_MAX_WAIT_MS) {
    await sleep(1_000);
    const after = cpuSeconds(state);
    quietSeconds = controlPlaneSeconds(before, after) < QUIET_CORES ? quietSeconds + 1 : 0;
    before = after;
  }
  return (performance.now() - start) / 1000;
}

/** CPU seconds (user + system) of the control plane's processes and, if given, the controller's. */
function cpuSeconds(s: ClusterState, controllerPid?: number): Record<string, number> {
  const ticks = (pid: number) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return 0;
    }
  };
  const result: Record<string, number> = Object.fromEntries(s.processes.map((p) => [p.name, ticks(p.pid)]));
  if (controllerPid) result.controller = ticks(controllerPid);
  const self = process.cpuUsage();
  result["bench (fake Forgejo, Kubernetes clients)"] = (self.user + self.system) / 1e6;
  return result;
}

/** GET on the API server as its admin (for /metrics and /debug/pprof, which takes its seconds to answer). */
async function apiserverGet(s: ClusterState, path: string): Promise<Buffer> {
  const { status, body } = await httpsGet(`${s.server}${path}`, s, 60_000);
  if (status !== 200) throw new Error(`GET ${path}: HTTP ${status}`);
  return body;
}

async function apiserverMetrics(s: ClusterState): Promise<string> {
  return (await apiserverGet(s, "/metrics")).toString("utf8");
}

/** With BENCH_APISERVER_PROF=<dir> (and a cluster started with CLUSTER_APISERVER_PROFILING=1): a CPU
 *  profile of kube-apiserver over the first `seconds` of a phase, written to <dir>/<phase>.pprof. */
async function profileApiserver(phase: string, seconds: number): Promise<void> {
  const dir = process.env.BENCH_APISERVER_PROF;
  if (!dir) return;
  const profile = await apiserverGet(state, `/debug/pprof/profile?seconds=${seconds}`);
  writeFileSync(join(dir, `${phase}.pprof`), profile);
}

/** apiserver_request_total by "VERB resource[/subresource]", every client together. */
async function requestsByKind(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of (await apiserverMetrics(state)).split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? "";
    const kind = `${label("verb")} ${label("resource")}${label("subresource") ? `/${label("subresource")}` : ""}`;
    counts.set(kind, (counts.get(kind) ?? 0) + Number(line.split(" ").at(-1)));
  }
  return counts;
}

/** "POST jobs 500, PATCH actrunners/status 500, …": the request kinds of a phase, most first. */
function requestsSpent(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([kind, count]) => [kind, count - (before.get(kind) ?? 0)] as const)
    .filter(([kind, count]) => (count >= COUNT / 20 && !kind.startsWith("WATCH")) || (kind.startsWith("LIST") && count > 0))
    .sort((a, b) => b[1] - a[1])
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
}

/** Requests dispatched for ServiceAccounts (flow schema "service-accounts"): only the controller uses one here. */
async function serviceAccountRequests(): Promise<number> {
  return (await apiserverMetrics(state))
    .split("\n")
    .filter((l) => l.startsWith("apiserver_flowcontrol_dispatched_requests_total{") && l.includes('flow_schema="service-accounts"'))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

async function serviceAccountKubeconfig(name: string, clusterWide: boolean, rules: V1PolicyRule[]): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
  const roleRef = { apiGroup: "rbac.authorization.k8s.io", kind: clusterWide ? "ClusterRole" : "Role", name: `${ns}-${name}` };
  const subjects = [{ kind: "ServiceAccount", name, namespace: ns }];
  if (clusterWide) {
    await rbac.createClusterRole({ body: { metadata: { name: roleRef.name }, rules } });
    await rbac.createClusterRoleBinding({ body: { metadata: { name: roleRef.name }, roleRef, subjects } });
  } else {
    await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: roleRef.name }, rules } });
    await rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name: roleRef.name }, roleRef, subjects } });
  }
  const token = await core.createNamespacedServiceAccountToken({
    name,
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const dir = mkdtempSync(join(tmpdir(), "bench-sa-"));
  tempDirs.push(dir);
  const file = join(dir, "kubeconfig");
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: state.server, "certificate-authority": state.caFile } }],
      users: [{ name, user: { token: token.status!.token } }],
      contexts: [{ name, context: { cluster: "c", user: name } }],
      "current-context": name,
    }),
  );
  return file;
}

function run(role: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_CPU_PROF && role === "controller" ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      BUNDLE,
      role,
      ...args,
    ],
    {
      env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", ...env },
      stdio: "ignore",
    },
  );
  children.push(child);
  return child;
}

/**
 * Resolves, with when the first was seen (performance.now()), once `count` objects under `path` with
 * the label that `counts` accepts exist. A watch, not LIST polls: polling 500 Jobs every 250 ms costs
 * the API server more than some of the work being timed. From `resourceVersion` "0" (the default)
 * the watch starts with an ADDED event for every object that exists already; from a collection's
 * resourceVersion it sees only what comes after. The API server closes a watch that falls behind
 * under this load (the control plane's own too); it is opened again, for up to 10 minutes, from the
 * last resourceVersion it delivered — never from "0" again, which would make the API server send
 * every existing object once more, work that then burdens the phase being timed.
 */
async function created(
  path: string,
  labelSelector: string,
  count: number,
  counts: (object: KubernetesObject) => boolean = () => true,
  resourceVersion = "0",
): Promise<number> {
  const names = new Set<string>();
  let firstSeen = 0;
  let from = resourceVersion;
  const giveUpAt = Date.now() + 600_000;
  for (;;) {
    let request: AbortController | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const watching = new Watch(kc).watch(
          path,
          { labelSelector, resourceVersion: from, allowWatchBookmarks: true },
          (type: string, object: KubernetesObject & { code?: number }) => {
            if (type === "ERROR") {
              // 410 Gone: that resourceVersion left the API server's window; start over from what exists.
              if (object.code === 410) from = "0";
              return;
            }
            from = object.metadata?.resourceVersion ?? from;
            if (type === "ADDED" && counts(object)) {
              names.add(object.metadata!.name!);
              firstSeen ||= performance.now();
            }
            if (names.size >= count) resolve();
          },
          (error: unknown) => reject(new Error(`the watch of ${path} ended with ${names.size} of ${count} seen`, { cause: error })),
        );
        void watching.then((controller) => (request = controller), reject);
      });
      return firstSeen;
    } catch (error) {
      if (Date.now() > giveUpAt) throw error;
      await sleep(200);
    } finally {
      request?.abort();
    }
  }
}

/** Seconds from `since` (performance.now()) until `done` resolves; awaited later, so a rejection is
 *  held until then (and then stops the bench) rather than reported as unhandled. */
function secondsUntil(done: Promise<unknown>, since: number): Promise<number> {
  const seconds = done.then(() => (performance.now() - since) / 1000);
  seconds.catch(() => undefined);
  return seconds;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function actRunner(i: number, rdUid: string) {
  const handle = `handle-${i}`;
  return {
    apiVersion: API_GROUP_VERSION,
    kind: "ActRunner",
    metadata: {
      name: `bench-${i}-1`,
      finalizers: ["forgejo.actions.io/runner-cleanup"],
      labels: { "forgejo.actions.io/runner-deployment": "bench" },
      ownerReferences: [{ apiVersion: API_GROUP_VERSION, kind: "RunnerDeployment", name: "bench", uid: rdUid, controller: true }],
    },
    spec: {
      forgejoJobID: i,
      jobHandle: handle,
      forgejoServer: fakeUrl,
      organization: "acme",
      tokenSecretRef: { name: "token", namespace: ns },
      labels: "bench:host",
      retentionAfterFinish: "1h",
      jobTemplate: { metadata: { annotations: { [RUN_FOR_ANNOTATION]: RUN_FOR } } },
      jobData: benchJobData(i, handle),
    },
  };
}

/** Runs `work` for every item, WORKERS at a time (the controller's concurrency), in order of the list. */
async function inWorkers<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Creates the ActRunners one after another (as a listener does), returning them as the API server stored them. */
async function createActRunners(namespace: string, bodies: ReturnType<typeof actRunner>[]): Promise<ActRunner[]> {
  const stored: ActRunner[] = [];
  for (const body of bodies)
    stored.push(
      (await custom.createNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        namespace,
        plural: "actrunners",
        body,
      })) as ActRunner,
    );
  return stored;
}

/**
 * The ceiling of the design here: for COUNT fresh ActRunners (in a namespace of their own, created
 * beforehand and without finalizers), the writes the controller makes to start a runner — the runner
 * Secret, the Job, the status write and the JobCreated Event, with the controller's own builders and
 * HTTP client, at its concurrency — but sent by the bench, with no controller process and no Forgejo
 * registration (fake credentials). Timed until every status write is answered; the namespace is then
 * deleted, and waited for, so the latency phase starts on the same cluster as before.
 */
async function idealWrites(client: RestClient, jobOptions: RunnerJobOptions): Promise<{ seconds: number; cpu: string }> {
  const idealNs = `${ns}-ideal`;
  await core.createNamespace({ body: { metadata: { name: idealNs } } });
  const ars = await createActRunners(
    idealNs,
    Array.from({ length: COUNT }, (_, i) => {
      const body = actRunner(i + 1, "");
      body.metadata = { ...body.metadata, finalizers: [], ownerReferences: [] };
      return body;
    }),
  );
  await quietControlPlane();
  const events = makeEventRecorder(client, "forgejo-arc", silentLogger());
  const cpuBefore = cpuSeconds(state);
  const begin = performance.now();
  await inWorkers(ars as AR[], async (ar) => {
    const credentials = { id: 1_000_000 + ar.spec.forgejoJobID, uuid: randomUUID(), token: randomBytes(20).toString("hex") };
    await client.request("POST", `/api/v1/namespaces/${idealNs}/secrets`, runnerSecret(ar, credentials, jobOptions));
    const job = await client.request<V1Job>(
      "POST",
      `/apis/batch/v1/namespaces/${idealNs}/jobs`,
      runnerJob(ar, credentials.uuid, jobOptions),
    );
    const record = startedRecord(ar, credentials, job);
    const status = nextStatus(ar, record.fields, record.conditions, new Date());
    await client.request(
      "PATCH",
      `/apis/${API_GROUP}/${API_VERSION}/namespaces/${idealNs}/actrunners/${ar.metadata!.name}/status`,
      { metadata: { resourceVersion: ar.metadata!.resourceVersion }, status },
      "application/merge-patch+json",
    );
    events.event(ar, "Normal", "JobCreated", record.eventMessage);
  });
  const seconds = (performance.now() - begin) / 1000;
  const cpu = cpuSpent(cpuBefore, cpuSeconds(state));
  await core.deleteNamespace({ name: idealNs });
  const giveUpAt = Date.now() + 300_000;
  while ((await ignoreNotFound(core.readNamespace({ name: idealNs }))) && Date.now() < giveUpAt) await sleep(1_000);
  await quietControlPlane();
  return { seconds, cpu };
}

let fakeUrl = "";
try {
  if (process.env.BENCH_APISERVER_PROF && (await httpsGet(`${state.server}/debug/pprof/`, state, 10_000)).status !== 200)
    throw new Error(
      "BENCH_APISERVER_PROF: the running cluster's API server has profiling off; stop it (npm run cluster:down) and let the bench start its own, or start it with CLUSTER_APISERVER_PROFILING=1 npm run cluster:up",
    );
  installCrds(state);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "token" }, stringData: { token: "t" } } });
  fakeUrl = await fake.listen();

  const rd = (await createRunnerDeployment("bench")) as { metadata: { uid: string } };
  // The ActRunners exist before the controller starts (as after a burst the listener already
  // turned into ActRunners), so the timing charges the controller only with its own work.
  let begin = performance.now();
  await createActRunners(
    ns,
    Array.from({ length: COUNT }, (_, i) => actRunner(i + 1, rd.metadata.uid)),
  );
  const createdSeconds = (performance.now() - begin) / 1000;
  const quietBeforeController = await quietControlPlane();

  // The controller, under its ClusterRole, with its own ServiceAccount; timed from its start.
  const controllerKubeconfig = await serviceAccountKubeconfig("controller", true, controllerClusterRoleRules());
  const metricsPort = await freePort();
  const startController = () =>
    run("controller", ["--webhook-port", "0", "--port", String(metricsPort), "--host", "127.0.0.1", "--workers", String(WORKERS)], {
      KUBECONFIG: controllerKubeconfig,
      NODE_OPTIONS: CONTROLLER_NODE_OPTIONS,
      MALLOC_ARENA_MAX: CONTROLLER_MALLOC_ARENA_MAX,
    });
  const requestsBefore = await serviceAccountRequests();
  const kindsBefore = await requestsByKind();
  const cpuBefore = cpuSeconds(state);
  begin = performance.now();
  let controller = startController();
  const controllerProfile = profileApiserver("controller", 15);
  controllerProfile.catch(() => undefined); // awaited below
  const isRaw = (object: KubernetesObject) => (object.metadata?.labels?.["batch.kubernetes.io/job-name"] ?? "").startsWith("raw-");
  const controllerPods = secondsUntil(
    created(`/api/v1/namespaces/${ns}/pods`, BENCH_SELECTOR, COUNT, (pod) => !isRaw(pod)),
    begin,
  );
  const controllerFirstJob = await created(`/apis/batch/v1/namespaces/${ns}/jobs`, BENCH_SELECTOR, COUNT);
  const controllerSeconds = (performance.now() - begin) / 1000;
  const controllerStartupSeconds = (controllerFirstJob - begin) / 1000;
  const cpuAfter = cpuSeconds(state, controller.pid);
  const controllerCpu = cpuSpent(cpuBefore, cpuAfter);
  const controlPlanePerAr = (controlPlaneSeconds(cpuBefore, cpuAfter) * 1000) / COUNT;
  const requests = (await serviceAccountRequests()) - requestsBefore;
  const controllerKinds = requestsSpent(kindsBefore, await requestsByKind());
  const controllerMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const metric = (name: string) =>
    Number(new RegExp(`^forgejo_arc_${name}\\{[^}]*\\} (\\S+)`, "m").exec(controllerMetrics)?.[1] ?? NaN) / 1024 / 1024;
  const memoryBreakdown = [
    "process_resident_memory_bytes",
    "nodejs_heap_size_total_bytes",
    "nodejs_heap_size_used_bytes",
    "nodejs_external_memory_bytes",
  ]
    .map((name) => `${name.replace(/^(process_|nodejs_)/, "").replace(/_bytes$/, "")} ${metric(name).toFixed(0)} MB`)
    .join(", ");
  const peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${controller.pid}/status`, "utf8"))![1]) / 1024;
  // The raw phase must not carry the controller's later work (mirroring pods starting into status).
  controller.kill("SIGTERM");
  await new Promise((resolve) => controller.once("exit", resolve));
  // Let the cluster settle (every runner pod created, and running or done) before timing raw
  // creates, so each phase carries only its own load.
  const controllerPodsSeconds = await controllerPods;
  while (
    (
      await core.listNamespacedPod({
        namespace: ns,
        labelSelector: `${BENCH_SELECTOR},app.kubernetes.io/component=runner`,
        fieldSelector: "status.phase=Pending",
      })
    ).items.length > 0
  )
    await sleep(1_000);
  const quietBeforeRaw = await quietControlPlane();
  // The same Jobs created directly, at the controller's concurrency, with the controller's own HTTP
  // client and under its ServiceAccount (so the API server authenticates, authorizes and queues them
  // as it does the controller's; the admin's certificate would skip flow control): for every
  // ActRunner the Job the controller made for it (same spec, labels and owner), under another name.
  const rawClient = (rest = makeRestClient(loadKubeConfig(controllerKubeconfig)));
  const jobOptions = podOptionsOf(parseControllerConfig([], {})).job;
  const registered = (
    (await custom.listNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns,
      plural: "actrunners",
    })) as {
      items: ActRunner[];
    }
  ).items.filter((ar) => ar.status?.runnerUUID);
  const rawJobs = registered.map((ar) => {
    const job = runnerJob(ar, ar.status!.runnerUUID!, jobOptions);
    job.metadata!.name = `raw-${job.metadata!.name}`;
    return job;
  });
  // The raw phase's pod watch starts after the controller's 500 pods, so that the API server does not
  // send them first (a watch that then falls behind and is closed, again and again, under the creates).
  const podsBeforeRaw = (await core.listNamespacedPod({ namespace: ns, limit: 1 })).metadata!.resourceVersion!;
  const jobsBeforeRaw = (await batch.listNamespacedJob({ namespace: ns, limit: 1 })).metadata!.resourceVersion!;
  let rawFirstJob = 0;
  const rawKindsBefore = await requestsByKind();
  const rawCpuBefore = cpuSeconds(state);
  begin = performance.now();
  const rawPods = secondsUntil(created(`/api/v1/namespaces/${ns}/pods`, BENCH_SELECTOR, rawJobs.length, isRaw, podsBeforeRaw), begin);
  // The observer that ends the controller's phase, here too: a Job watch, seeing the raw Jobs.
  const rawJobsSeen = secondsUntil(
    created(
      `/apis/batch/v1/namespaces/${ns}/jobs`,
      BENCH_SELECTOR,
      rawJobs.length,
      (job) => job.metadata?.name?.startsWith("raw-") ?? false,
      jobsBeforeRaw,
    ),
    begin,
  );
  const rawProfile = profileApiserver("raw", 6);
  rawProfile.catch(() => undefined); // awaited below
  await inWorkers(rawJobs, async (job) => {
    await rawClient.request("POST", `/apis/batch/v1/namespaces/${ns}/jobs`, job);
    rawFirstJob ||= performance.now();
  });
  const rawSeconds = (performance.now() - begin) / 1000;
  const rawCpuAfter = cpuSeconds(state);
  const rawCpu = cpuSpent(rawCpuBefore, rawCpuAfter);
  const controlPlanePerRawJob = (controlPlaneSeconds(rawCpuBefore, rawCpuAfter) * 1000) / rawJobs.length;
  const rawKinds = requestsSpent(rawKindsBefore, await requestsByKind());
  const rawPodsSeconds = await rawPods;
  const rawSeenSeconds = await rawJobsSeen;
  await Promise.all([controllerProfile, rawProfile]);
  const ideal = await idealWrites(rawClient, jobOptions);

  const rawRate = rawJobs.length / rawSeconds;
  const controllerRate = COUNT / controllerSeconds;
  // Between the first Job and the last: the rate without the one-time costs before the first Job
  // (the controller's start-up: loading modules, listing, taking the lease; the raw phase's first request).
  const rawSteadyRate = (rawJobs.length - 1) / (rawSeconds - (rawFirstJob - begin) / 1000);
  const controllerSteadyRate = (COUNT - 1) / (controllerSeconds - controllerStartupSeconds);

  console.log(
    `bench:controller: ${COUNT} ActRunners → Jobs, ${WORKERS} workers, runner pods run ${RUN_FOR} (BENCH_RUN_FOR), Kubernetes ${state.server}`,
  );
  console.log(
    `  ActRunners created by the bench beforehand in ${createdSeconds.toFixed(1)} s; all ${COUNT} Jobs created ${controllerSeconds.toFixed(1)} s after the controller started`,
  );
  console.log(
    `  each phase started on a quiet control plane (< ${QUIET_CORES} cores for 2 s): waited ${quietBeforeController.toFixed(0)} s before the controller, ${quietBeforeRaw.toFixed(0)} s before the raw creates`,
  );
  console.log(
    `  controller: ${controllerRate.toFixed(1)} ActRunners→Jobs/s   raw Job creates: ${rawRate.toFixed(1)}/s   ratio ${(controllerRate / rawRate).toFixed(2)} (target ≥ 0.5)`,
  );
  console.log(
    `  from the first Job to the last: controller ${controllerSteadyRate.toFixed(1)}/s (its first Job ${controllerStartupSeconds.toFixed(1)} s after it started)   raw ${rawSteadyRate.toFixed(1)}/s   ratio ${(controllerSteadyRate / rawSteadyRate).toFixed(2)}`,
  );
  console.log(
    `  timed alike, both until the bench's Job watch saw the last Job: controller ${controllerSeconds.toFixed(1)} s, raw ${rawSeenSeconds.toFixed(1)} s — ratio ${(rawSeenSeconds / controllerSeconds).toFixed(2)}`,
  );
  console.log(
    `  until every Job's pod existed too: controller ${controllerPodsSeconds.toFixed(1)} s, raw ${rawPodsSeconds.toFixed(1)} s — ratio ${(rawPodsSeconds / controllerPodsSeconds).toFixed(2)} (the raw creates outrun the Job controller's pod creation)`,
  );
  console.log(
    `  API requests by the controller: ${requests} (${(requests / COUNT).toFixed(1)} per ActRunner, watches and Events included, until every Job existed)`,
  );
  console.log(`  CPU while the controller worked (2 cores, ${controllerSeconds.toFixed(1)} s): ${controllerCpu}`);
  console.log(`  CPU during the raw creates (${rawSeconds.toFixed(1)} s): ${rawCpu}`);
  // Where the controller runs on another machine than the control plane (as on a real cluster),
  // the control plane's CPU per Job bounds the rate; here both share two cores.
  console.log(
    `  control-plane CPU per Job (etcd, kube-*, kwok): controller phase ${controlPlanePerAr.toFixed(1)} ms, raw ${controlPlanePerRawJob.toFixed(1)} ms — ratio ${(controlPlanePerRawJob / controlPlanePerAr).toFixed(2)} (raw undercounted: its pods come after its window)`,
  );
  console.log(`  API server requests of every client while the controller worked: ${controllerKinds}`);
  console.log(`  … during the raw creates: ${rawKinds}`);
  console.log(`  controller peak RSS: ${peakRssMb.toFixed(0)} MB (target < 200 MB); now: ${memoryBreakdown}`);
  const forgejoCalls = new Map<string, number>();
  for (const call of fake.calls) {
    const kind = `${call.method} ${call.route.replace(/\/\d+(?=\/|$)/g, "/{id}")}`;
    forgejoCalls.set(kind, (forgejoCalls.get(kind) ?? 0) + 1);
  }
  console.log(
    `  Forgejo requests by the controller: ${fake.calls.length} (${[...forgejoCalls].map(([kind, count]) => `${kind} ${count}`).join(", ")})`,
  );
  const idealRate = COUNT / ideal.seconds;
  console.log(
    `  the controller's four writes per ActRunner (runner Secret, Job, status, Event) sent by the bench itself — no controller process, no Forgejo call — for ${COUNT} other ActRunners: ${idealRate.toFixed(1)}/s, ratio ${(idealRate / rawRate).toFixed(2)} to the raw creates (what this design reaches on this machine); the controller reached ${(controllerRate / idealRate).toFixed(2)} of it`,
  );
  console.log(`  CPU during those writes (${ideal.seconds.toFixed(1)} s): ${ideal.cpu}`);

  // Queued → Job latency with the listener at its default 10 s poll.
  controller = startController();
  await createRunnerDeployment("latency");
  const listenerKubeconfig = await serviceAccountKubeconfig("listener", false, listenerRoleRules("latency"));
  run(
    "listener",
    [
      "--runner-deployment",
      "latency",
      "--namespace",
      ns,
      "--forgejo-server",
      fakeUrl,
      "--organization",
      "acme",
      "--labels",
      "latency:host",
      "--port",
      "0",
    ],
    {
      KUBECONFIG: listenerKubeconfig,
      FORGEJO_TOKEN: "t",
    },
  );
  await sleep(3_000);
  const queued = new Map<number, number>();
  const latencies: number[] = [];
  const seen = new Set<string>();
  const watchUntil = Date.now() + LATENCY_JOBS * 3_000 + 30_000;
  const enqueue = (async () => {
    for (let i = 0; i < LATENCY_JOBS; i++) {
      await sleep(1_000 + Math.random() * 4_000);
      const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["latency"] });
      queued.set(job.id, performance.now());
    }
  })();
  while (latencies.length < LATENCY_JOBS && Date.now() < watchUntil) {
    const jobs = (await batch.listNamespacedJob({ namespace: ns, labelSelector: "forgejo.actions.io/runner-deployment=latency" })).items;
    for (const job of jobs) {
      const jobId = Number(job.metadata?.labels?.["forgejo.actions.io/job-id"]);
      if (!queued.has(jobId) || seen.has(job.metadata!.name!)) continue;
      seen.add(job.metadata!.name!);
      latencies.push((performance.now() - queued.get(jobId)!) / 1000);
    }
    await sleep(100);
  }
  await enqueue;
  console.log(
    `  queued → Job created (default 10 s poll, ${latencies.length} jobs): p50 ${percentile(latencies, 50).toFixed(1)} s  p95 ${percentile(latencies, 95).toFixed(1)} s  max ${Math.max(...latencies).toFixed(1)} s (target p95 ≤ 12 s)`,
  );
} finally {
  for (const child of children) child.kill("SIGTERM");
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  rest?.close();
  await fake.close();
  await removeActRunnerFinalizers(kc, ns);
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
  await core.deleteNamespace({ name: `${ns}-ideal` }).catch(() => undefined);
  for (const name of ["controller", "listener"]) {
    await rbac.deleteClusterRoleBinding({ name: `${ns}-${name}` }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: `${ns}-${name}` }).catch(() => undefined);
  }
  if (started) await clusterDown();
}
