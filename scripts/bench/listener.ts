// npm run bench:listener — 500 waiting jobs in the fake Forgejo, maxRunners unset: how fast does the
// listener turn them into ActRunners, compared with raw sequential ActRunner creates against the
// same API server in the same run? Uses (or starts and then stops) the local cluster.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { clusterDown, clusterUp, installCrds } from "../cluster/cluster.ts";
import { benchForgejo, benchJobData } from "./shared.ts";
import { parseListenerConfig } from "../../src/listener/config.ts";
import { Listener } from "../../src/listener/listener.ts";
import { silentLogger } from "../../src/observability/log.ts";
import { loadKubeConfig } from "../../src/k8s/client.ts";

const JOBS = Number(process.env.BENCH_JOBS ?? 500);
const { state, started } = await clusterUp();
const kc = loadKubeConfig(state.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const ns = `bench-listener-${Date.now().toString(36)}`;
const fake = benchForgejo();
const resource = { group: "forgejo.actions.io", version: "v1alpha1", namespace: ns };

function actRunner(name: string, id: number) {
  return {
    apiVersion: "forgejo.actions.io/v1alpha1",
    kind: "ActRunner",
    metadata: { name, labels: { "forgejo.actions.io/runner-deployment": "raw" } },
    spec: {
      forgejoJobID: id,
      jobHandle: `handle-${id}`,
      forgejoServer: "http://127.0.0.1:1",
      organization: "acme",
      tokenSecretRef: { name: "t", namespace: ns },
      labels: "bench:host",
      jobData: benchJobData(id, `handle-${id}`),
    },
  };
}

async function countActRunners(labelSelector: string): Promise<number> {
  const list = (await custom.listNamespacedCustomObject({ ...resource, plural: "actrunners", labelSelector })) as { items: unknown[] };
  return list.items.length;
}

try {
  installCrds(state);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const url = await fake.listen();

  let begin = performance.now();
  for (let i = 1; i <= JOBS; i++)
    await custom.createNamespacedCustomObject({ ...resource, plural: "actrunners", body: actRunner(`raw-${i}-1`, i) });
  const rawSeconds = (performance.now() - begin) / 1000;
  const rawRate = JOBS / rawSeconds;

  await custom.createNamespacedCustomObject({
    ...resource,
    plural: "runnerdeployments",
    body: {
      apiVersion: "forgejo.actions.io/v1alpha1",
      kind: "RunnerDeployment",
      metadata: { name: "bench" },
      spec: { forgejoServer: url, organization: "acme", labels: "bench:host", tokenSecretRef: { name: "t" } },
    },
  });
  for (let i = 0; i < JOBS; i++) fake.enqueueJob({ repository: "acme/app", runs_on: ["bench"] });
  const config = parseListenerConfig(
    [
      "--runner-deployment",
      "bench",
      "--namespace",
      ns,
      "--forgejo-server",
      url,
      "--organization",
      "acme",
      "--labels",
      "bench:host",
      "--poll-interval",
      "2s",
      "--port",
      "0",
    ],
    { FORGEJO_TOKEN: "t" },
  );
  const listener = new Listener(config, { kc, logger: silentLogger(), registry: new Registry() });
  begin = performance.now();
  await listener.start();
  while ((await countActRunners("forgejo.actions.io/runner-deployment=bench")) < JOBS) await new Promise((r) => setTimeout(r, 200));
  const listenerSeconds = (performance.now() - begin) / 1000;
  await listener.stop();
  const listenerRate = JOBS / listenerSeconds;

  console.log(`bench:listener: ${JOBS} waiting jobs, maxRunners unset, one listener, Kubernetes ${state.server}`);
  console.log(
    `  jobs → ActRunners:           ${listenerRate.toFixed(1)}/s (${listenerSeconds.toFixed(2)} s from listener start, informer sync and first poll included)`,
  );
  console.log(`  raw ActRunner creates:       ${rawRate.toFixed(1)}/s (${rawSeconds.toFixed(2)} s, sequential)`);
  console.log(`  ratio listener / raw:        ${(listenerRate / rawRate).toFixed(2)} (target ≥ 0.5)`);
  console.log(
    `  Forgejo requests:            ${fake.calls.length} (${fake.callCount("GET", "/api/v1/version")} version, ${fake.callCount("GET", "/api/v1/orgs/acme/actions/runners/jobs")} jobs)`,
  );
} finally {
  await fake.close();
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
  if (started) await clusterDown();
}
