// The demo's long-running host process (started detached by `npm run demo`): the fake Forgejo,
// the controller with its admission webhooks, the executor that runs listener pods, and the runner
// bridge that plays forgejo-runner for kwok's runner pods. Everything listens on 127.0.0.1.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig, KubernetesObjectApi } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { issueCertificate, readState } from "../cluster/cluster.ts";
import { urlModeWebhookConfigurations } from "../cluster/webhook-registration.ts";
import { parseControllerConfig } from "../../src/controller/config.ts";
import { Controller } from "../../src/controller/controller.ts";
import { createLogger } from "../../src/observability/log.ts";
import { createRegistry } from "../../src/observability/metrics.ts";
import { FakeForgejo } from "../../test/fake-forgejo/fake-forgejo.ts";
import { Executor } from "../../test/executor/executor.ts";
import { startRunnerBridge } from "../../test/integration/support/runner-bridge.ts";
import { DEMO, DEMO_STATE_DIR, freePort } from "./shared.ts";

const logger = createLogger("demo-host");
const cluster = readState();
if (!cluster) throw new Error("demo host: no local cluster; run npm run demo");
const kc = new KubeConfig();
kc.loadFromFile(cluster.kubeconfig);

const fake = new FakeForgejo({
  tokens: { [DEMO.token]: { user: "octo", scopes: ["write:organization"] } },
  organizations: { [DEMO.organization]: { owners: ["octo"] } },
  repositories: [`${DEMO.organization}/app`, `${DEMO.organization}/docs`],
});
const forgejoUrl = await fake.listen(Number(process.env.DEMO_FORGEJO_PORT ?? 0));

const certs = issueCertificate(cluster, "demo-webhook", "/CN=forgejo-arc-webhook", [
  "subjectAltName=IP:127.0.0.1",
  "extendedKeyUsage=serverAuth",
]);
const certDir = join(DEMO_STATE_DIR, "certs");
writeFileSync(join(certDir, "tls.crt"), readFileSync(certs.certFile));
writeFileSync(join(certDir, "tls.key"), readFileSync(certs.keyFile));
const [webhookPort, metricsPort] = [await freePort(), await freePort()];
const config = parseControllerConfig([
  "--webhook-port",
  String(webhookPort),
  "--webhook-host",
  "127.0.0.1",
  "--webhook-cert-dir",
  certDir,
  "--port",
  String(metricsPort),
  "--host",
  "127.0.0.1",
  "--listener-image",
  "forgejo-arc:demo",
  "--pickup-check-interval",
  "2s",
]);
const controller = new Controller(config, {
  kc,
  logger: logger.child({ component: "controller" }),
  registry: createRegistry("controller"),
});
const executor = new Executor({ kc, server: cluster.server, caFile: cluster.caFile, logger });
await executor.start();
const bridge = await startRunnerBridge(fake, DEMO.namespace);
await controller.start(() => process.exit(1));

const api = KubernetesObjectApi.makeApiClient(kc);
for (const object of urlModeWebhookConfigurations({
  name: "forgejo-arc-demo",
  port: webhookPort,
  caBundlePem: readFileSync(cluster.caFile, "utf8"),
})) {
  await api.patch(object as never, undefined, undefined, "forgejo-arc-demo", true, "application/apply-patch+yaml");
}
writeFileSync(join(DEMO_STATE_DIR, "host.json"), JSON.stringify({ pid: process.pid, forgejoUrl, webhookPort, metricsPort }));
logger.info({ forgejoUrl, webhookPort, metricsPort }, "Demo host ready");

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await controller.stop();
  await bridge.stop();
  await executor.stop();
  await fake.close();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
