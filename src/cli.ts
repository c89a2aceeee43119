#!/usr/bin/env node
// forgejo-arc: one image, two long-running roles.
//   forgejo-arc listener [flags]     one per RunnerDeployment, started by the controller
//   forgejo-arc controller [flags]   reconcilers, admission webhooks, metrics
//   forgejo-arc check-webhooks --url … --ca-file …   the chart's helm test
//   forgejo-arc before-uninstall --runner-deployments refuse|delete   the chart's pre-delete hook
import type { Server } from "node:http";
import { controllerUsage, parseControllerConfig } from "./controller/config.ts";
import { Controller } from "./controller/controller.ts";
import { LISTENER_FLAGS, parseListenerConfig } from "./listener/config.ts";
import { describeProxy, describeProxySettings, proxyFor } from "./forgejo/proxy.ts";
import { Listener } from "./listener/listener.ts";
import { createListenerApp } from "./listener/server.ts";
import { loadKubeConfig } from "./k8s/client.ts";
import { createLogger } from "./observability/log.ts";
import { createRegistry } from "./observability/metrics.ts";
import { VERSION } from "./version.ts";
import { BEFORE_UNINSTALL_USAGE, parseBeforeUninstallConfig, runBeforeUninstall } from "./uninstall/before-uninstall.ts";
import { runCheckWebhooks } from "../webhooks/check.ts";

const SHUTDOWN_TIMEOUT_MS = 10_000;

function usage(): string {
  const flags = Object.entries(LISTENER_FLAGS).map(([name, f]) => `  --${name.padEnd(18)} $${f.env.padEnd(32)} ${f.help}`);
  return [
    `forgejo-arc ${VERSION}`,
    "usage: forgejo-arc controller [flags] | forgejo-arc listener [flags] | forgejo-arc check-webhooks --url <base URL> --ca-file <PEM>",
    `       ${BEFORE_UNINSTALL_USAGE}`,
    "",
    "controller flags (flag, environment variable, meaning, default):",
    controllerUsage(),
    "",
    "listener flags (flag, environment variable, meaning):",
    ...flags,
  ].join("\n");
}

async function runController(argv: string[]): Promise<void> {
  const logger = createLogger("controller");
  const config = parseControllerConfig(argv);
  const registry = createRegistry("controller");
  const controller = new Controller(config, { kc: loadKubeConfig(), logger, registry });
  onShutdown(logger, () => controller.stop());
  logger.info(
    {
      version: VERSION,
      port: config.port,
      webhookPort: config.webhookPort,
      leaderElect: config.leaderElect,
      identity: config.identity,
      forgejoProxy: describeProxySettings(config.proxy),
    },
    "Starting controller",
  );
  await controller.start(() => {
    logger.error("Lost leadership; exiting so that a fresh process can compete again");
    process.exit(1);
  });
}

async function runListener(argv: string[]): Promise<void> {
  const logger = createLogger("listener");
  const config = parseListenerConfig(argv);
  const registry = createRegistry("listener");
  // Every listener series names its RunnerDeployment, like the controller's ActRunner series.
  registry.setDefaultLabels({ runner_deployment_namespace: config.namespace, runner_deployment: config.runnerDeployment });
  const listener = new Listener(config, { kc: loadKubeConfig(), logger, registry });
  const server: Server = createListenerApp(listener, registry).listen(config.port, config.host);
  await new Promise((resolve) => server.once("listening", resolve));
  const proxy = proxyFor(new URL(config.forgejoServer), config.proxy);
  logger.info(
    { version: VERSION, port: config.port, forgejoProxy: proxy ? describeProxy(proxy) : "none" },
    "Serving listener health and metrics",
  );
  onShutdown(logger, async () => {
    await listener.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  await listener.start();
}

async function runBeforeUninstallRole(argv: string[]): Promise<void> {
  const config = parseBeforeUninstallConfig(argv);
  // Its own deadline covers the waiting; this one a request the API server never answers.
  setTimeout(() => {
    console.error(`forgejo-arc: before-uninstall did not finish within ${config.timeoutMs / 1000 + 30} s (is the API server answering?)`);
    process.exit(1);
  }, config.timeoutMs + 30_000).unref();
  await runBeforeUninstall(config, loadKubeConfig(), createLogger("before-uninstall"));
}

function onShutdown(logger: ReturnType<typeof createLogger>, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "Shutting down");
    setTimeout(() => {
      logger.error("Shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "Failed to shut down cleanly");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => handler("SIGTERM"));
  process.on("SIGINT", () => handler("SIGINT"));
}

const [role, ...rest] = process.argv.slice(2);
try {
  if (role === "listener") await runListener(rest);
  else if (role === "controller") await runController(rest);
  else if (role === "check-webhooks") process.exitCode = await runCheckWebhooks(rest);
  else if (role === "before-uninstall") await runBeforeUninstallRole(rest);
  else if (role === "--version" || role === "version") console.log(VERSION);
  else if (role === "--help" || role === "help") console.log(usage());
  else {
    console.error(usage());
    process.exit(2);
  }
} catch (error) {
  console.error(`forgejo-arc: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
