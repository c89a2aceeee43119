// The demo's long-running host process (started detached by `npm run demo`): the fake Forgejo, the
// test executor that runs the forgejo-arc pods (the chart's controller, the listener) as host
// processes and writes their output to the host log, and the runner bridge that plays
// forgejo-runner for kwok's runner pods. Everything listens on 127.0.0.1.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readState } from "../cluster/cluster.ts";
import { createLogger } from "../../src/observability/log.ts";
import { FakeForgejo } from "../../test/fake-forgejo/fake-forgejo.ts";
import { Executor } from "../../test/executor/executor.ts";
import { startRunnerBridge } from "../../test/integration/support/runner-bridge.ts";
import { DEMO, DEMO_CLUSTER_DIR, DEMO_STATE_DIR } from "./shared.ts";
import { loadKubeConfig } from "../../src/k8s/client.ts";

const logger = createLogger("demo-host");
const cluster = readState(DEMO_CLUSTER_DIR);
if (!cluster) throw new Error("demo host: no local cluster; run npm run demo");
const kc = loadKubeConfig(cluster.kubeconfig);

const fake = new FakeForgejo({
  tokens: { [DEMO.token]: { user: "octo", scopes: ["write:organization"] } },
  organizations: { [DEMO.organization]: { owners: ["octo"] } },
  repositories: [`${DEMO.organization}/app`, `${DEMO.organization}/docs`],
});
const forgejoUrl = await fake.listen(Number(process.env.DEMO_FORGEJO_PORT ?? 0));

const executor = new Executor({
  kc,
  cluster,
  logger,
  onOutput: (pod, line) => process.stdout.write(`${pod}: ${line}\n`),
});
await executor.start();
const bridge = await startRunnerBridge(fake, DEMO.namespace, kc);
writeFileSync(join(DEMO_STATE_DIR, "host.json"), JSON.stringify({ pid: process.pid, forgejoUrl }));
logger.info({ forgejoUrl }, "Demo host ready");

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await bridge.stop();
  await executor.stop();
  await fake.close();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
