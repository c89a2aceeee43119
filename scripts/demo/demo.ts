// npm run demo (up) and npm run demo:down. Brings up a local cluster of its own (DEMO_CLUSTER_DIR),
// installs the chart (url-mode webhooks; its controller pod and the listener pod run as host
// processes through the test executor) against the fake Forgejo, applies a sample RunnerDeployment,
// queues jobs, and shows ActRunners and Jobs being created and completed.
import { spawn } from "node:child_process";
import { existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  PROJECT_ROOT,
  clusterDown,
  clusterUp,
  freePort,
  installCrds,
  isAlive,
  kubectl,
  toolsBin,
  type ClusterState,
} from "../cluster/cluster.ts";
import { CHART_DIR, helmAsync } from "../chart/chart.ts";
import { buildBundle } from "../build.ts";
import { EXECUTOR_POD_TEMPLATE } from "../../test/executor/executor.ts";
import { DEMO, DEMO_CLUSTER_DIR, DEMO_STATE_DIR } from "./shared.ts";

const hostFile = join(DEMO_STATE_DIR, "host.json");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Host {
  pid: number;
  forgejoUrl: string;
}

const RELEASE = "forgejo-arc";
const RELEASE_NAMESPACE = "forgejo-arc-system";

/** The chart with the local-cluster values: webhooks in url mode on a free loopback port. */
async function installChart(state: ClusterState): Promise<void> {
  const port = await freePort();
  await helmAsync(
    [
      "upgrade",
      "--install",
      RELEASE,
      CHART_DIR,
      "--namespace",
      RELEASE_NAMESPACE,
      "--create-namespace",
      "--values",
      join(CHART_DIR, "ci/url-mode-values.yaml"),
      "--set",
      `webhooks.url.port=${port}`,
      "--set",
      "controller.pickupCheckInterval=2s",
      // Pod templates for every RunnerDeployment: listener pods run on the executor node (real
      // processes); runner pods run on kwok, which ends each after 8 s.
      "--set-json",
      `listener.podTemplate=${JSON.stringify(EXECUTOR_POD_TEMPLATE)}`,
      "--set-json",
      `runner.podTemplate=${JSON.stringify({ metadata: { annotations: { "forgejo-arc.test/run-for": "8s" } } })}`,
      "--wait",
      "--timeout",
      "180s",
    ],
    { kubeconfig: state.kubeconfig },
  );
}

function runningHost(): Host | undefined {
  if (!existsSync(hostFile)) return undefined;
  const host = JSON.parse(readFileSync(hostFile, "utf8")) as Host;
  return isAlive(host.pid) ? host : undefined;
}

async function startHost(): Promise<Host> {
  const existing = runningHost();
  if (existing) return existing;
  rmSync(hostFile, { force: true });
  const log = openSync(join(DEMO_STATE_DIR, "host.log"), "a");
  const child = spawn(process.execPath, [join(PROJECT_ROOT, "scripts/demo/host.ts")], {
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, LOG_LEVEL: "info" },
  });
  child.unref();
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const host = runningHost();
    if (host) return host;
    if (child.exitCode !== null || !isAlive(child.pid!)) break;
    await sleep(300);
  }
  throw new Error(`demo: the demo host did not start; see ${join(DEMO_STATE_DIR, "host.log")}`);
}

function apply(state: ClusterState, objects: object[]): void {
  kubectl(
    state,
    ["apply", "--server-side", "--field-manager", "forgejo-arc-demo", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
  );
}

function runnerDeployment(forgejoUrl: string, name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "forgejo.actions.io/v1alpha1",
    kind: "RunnerDeployment",
    metadata: { name, namespace: DEMO.namespace },
    spec: {
      forgejoServer: forgejoUrl,
      organization: DEMO.organization,
      labels: `${DEMO.label}:host`,
      tokenSecretRef: { name: "forgejo-token" },
      pollInterval: "5s",
      maxRunners: 3,
      retentionAfterFinish: "30m",
      ...spec,
    },
  };
}

/** What the API server answers to an object the webhook must refuse. */
function refusal(state: ClusterState, object: object): string {
  try {
    kubectl(state, ["apply", "--dry-run=server", "-f", "-"], JSON.stringify(object));
    return "accepted (unexpected)";
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error)
      .trim()
      .split("\n")
      .join("\n    ");
  }
}

async function enqueue(forgejoUrl: string, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) {
    await fetch(`${forgejoUrl}/_fake/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ repository: `${DEMO.organization}/app`, name: `build (${i})`, runs_on: [DEMO.label] }),
    });
  }
}

interface Counts {
  succeeded: number;
  completeJobs: number;
  table: string;
}

function observe(state: ClusterState): Counts {
  const runners = JSON.parse(kubectl(state, ["get", "actrunners", "-n", DEMO.namespace, "-o", "json"])) as {
    items: { status?: { phase?: string; kubernetesJobName?: string } }[];
  };
  const jobs = JSON.parse(kubectl(state, ["get", "jobs", "-n", DEMO.namespace, "-o", "json"])) as {
    items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
  };
  const complete = new Set(
    jobs.items.filter((j) => j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True")).map((j) => j.metadata.name),
  );
  const succeeded = runners.items.filter((r) => r.status?.phase === "Succeeded");
  return {
    succeeded: succeeded.length,
    completeJobs: succeeded.filter((r) => r.status?.kubernetesJobName && complete.has(r.status.kubernetesJobName)).length,
    table: [
      kubectl(state, ["get", "runnerdeployments,actrunners", "-n", DEMO.namespace]),
      kubectl(state, ["get", "jobs", "-n", DEMO.namespace]),
    ].join("\n"),
  };
}

async function up(): Promise<void> {
  const started = Date.now();
  const { state } = await clusterUp(DEMO_CLUSTER_DIR);
  console.log(`demo: cluster at ${state.server}`);
  installCrds(state);
  // The executor runs the controller and listener pods from the bundle the image ships.
  await buildBundle();
  const host = await startHost();
  console.log(`demo: fake Forgejo and the test executor running (pid ${host.pid})`);
  await installChart(state);
  console.log(`demo: helm upgrade --install ${RELEASE} chart/forgejo-arc -n ${RELEASE_NAMESPACE}: controller Ready`);
  apply(state, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: DEMO.namespace } }]);
  apply(state, [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "forgejo-token", namespace: DEMO.namespace }, stringData: { token: DEMO.token } },
    runnerDeployment(host.forgejoUrl, DEMO.runnerDeployment),
  ]);

  console.log("\ndemo: the API server refuses bad input through the chart's webhooks, naming the field:");
  console.log(`  ${refusal(state, runnerDeployment(host.forgejoUrl, "too-fast", { pollInterval: "500ms" }))}`);
  console.log(
    `  ${refusal(state, runnerDeployment(host.forgejoUrl, "cross-namespace", { tokenSecretRef: { name: "forgejo-token", namespace: "kube-system" } }))}`,
  );

  await enqueue(host.forgejoUrl, 5);
  console.log("\ndemo: queued 5 jobs (runs-on: ubuntu-latest) in the fake Forgejo; maxRunners is 3\n");
  const deadline = Date.now() + 5 * 60_000;
  let last: Counts = { succeeded: 0, completeJobs: 0, table: "" };
  while (Date.now() < deadline) {
    last = observe(state);
    console.log(`--- ${new Date().toISOString().slice(11, 19)} ---\n${last.table}`);
    if (last.completeJobs >= 3) break;
    await sleep(3_000);
  }
  if (last.completeJobs < 3)
    throw new Error(`demo: only ${last.completeJobs} ActRunners finished within 5 minutes; see ${join(DEMO_STATE_DIR, "host.log")}`);
  console.log(
    `\ndemo: ${last.succeeded} ActRunners Succeeded with their Jobs Complete, ${((Date.now() - started) / 1000).toFixed(0)} s after npm run demo started.`,
  );
  console.log(
    [
      "",
      "Everything keeps running. Try:",
      `  export KUBECONFIG=${state.kubeconfig} PATH=${toolsBin()}:$PATH`,
      `  kubectl get rd,ar,jobs -n ${DEMO.namespace}`,
      `  kubectl describe rd ${DEMO.runnerDeployment} -n ${DEMO.namespace}`,
      `  curl -s -X POST ${host.forgejoUrl}/_fake/jobs -H 'content-type: application/json' -d '{"repository":"${DEMO.organization}/app","runs_on":["${DEMO.label}"]}'`,
      `  helm status ${RELEASE} -n ${RELEASE_NAMESPACE}; helm test ${RELEASE} -n ${RELEASE_NAMESPACE}`,
      `  kubectl logs deploy/${RELEASE} -n ${RELEASE_NAMESPACE}; kubectl logs deploy/${DEMO.runnerDeployment}-listener -n ${DEMO.namespace}`,
      `The demo host's whole output (controller and listener pods): ${join(DEMO_STATE_DIR, "host.log")}; cluster: ${join(DEMO_CLUSTER_DIR, "logs")}/.`,
      "Stop it all with: npm run demo:down",
    ].join("\n"),
  );
}

async function down(): Promise<void> {
  const host = runningHost();
  if (host) {
    process.kill(host.pid, "SIGTERM");
    const deadline = Date.now() + 15_000;
    while (isAlive(host.pid) && Date.now() < deadline) await sleep(200);
    if (isAlive(host.pid)) process.kill(host.pid, "SIGKILL");
    console.log(`demo: stopped the demo host (pid ${host.pid})`);
  }
  const stopped = await clusterDown(DEMO_CLUSTER_DIR);
  rmSync(DEMO_STATE_DIR, { recursive: true, force: true });
  console.log(stopped.length ? `demo: stopped the cluster (${stopped.map((p) => p.name).join(", ")})` : "demo: no cluster was running");
}

const command = process.argv[2];
try {
  if (command === "up") await up();
  else if (command === "down") await down();
  else {
    console.error("usage: node scripts/demo/demo.ts up|down");
    process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
