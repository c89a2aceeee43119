// The test executor (test/executor) on the local cluster, as the integration suites start and stop it.
import type { KubeConfig } from "@kubernetes/client-node";
import { Executor } from "../../executor/executor.ts";
import { silentLogger } from "../../../src/observability/log.ts";
import { clusterState } from "../helpers.ts";

export async function startTestExecutor(kc: KubeConfig): Promise<Executor> {
  const executor = new Executor({ kc, cluster: clusterState(), logger: silentLogger() });
  await executor.start();
  return executor;
}

/** Waits for the executor's pods (of `namespace`, or all) to go, then stops it — even when they outlive the wait, so that its processes never outlive the suite. */
export async function stopTestExecutor(executor: Executor | undefined, namespace?: string): Promise<void> {
  if (!executor) return;
  await executor.drained(namespace).finally(() => executor.stop());
}
