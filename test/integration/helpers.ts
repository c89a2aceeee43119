// Shared pieces of the integration tests: the cluster's KubeConfig, throwaway namespaces, polling.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { readState, toolsPath, type ClusterState } from "../../scripts/cluster/cluster.ts";
import { API_GROUP, API_VERSION } from "../../src/api/schemas.ts";
import { apiErrorCode, apiErrorMessage, loadKubeConfig } from "../../src/k8s/client.ts";

export const TEST_NAMESPACE_LABEL = "forgejo-arc.test/namespace";
/** Cascading deletion waits for the garbage collector (a few seconds: the local cluster has the CRDs before it starts); a generous bound. */
export const GC_TIMEOUT_MS = 90_000;

export function clusterState(): ClusterState {
  const state = readState();
  if (!state) throw new Error("no local cluster state; the integration globalSetup should have started one");
  return state;
}

export function kubeConfig(): KubeConfig {
  return loadKubeConfig(clusterState().kubeconfig);
}

export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: name } } } });
  return name;
}

/** Deletes a test namespace. ActRunners lose their finalizer first: the controller that would
 *  clear it is usually stopped by then, and the namespace would stay Terminating for ever. Those a
 *  listener still made while the namespace went are cleared too (for up to 15 s). */
export async function deleteNamespace(name: string): Promise<void> {
  const kc = kubeConfig();
  await removeActRunnerFinalizers(kc, name);
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name })
    .catch(() => undefined);
  for (let attempt = 0; attempt < 15 && (await removeActRunnerFinalizers(kc, name)) > 0; attempt++)
    await new Promise((r) => setTimeout(r, 1_000));
}

/** Removes the finalizers of every ActRunner in the namespace; returns how many had one. */
export async function removeActRunnerFinalizers(kc: KubeConfig, namespace: string): Promise<number> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const resource = { group: API_GROUP, version: API_VERSION, namespace, plural: "actrunners" };
  const list = (await api.listNamespacedCustomObject(resource).catch(() => ({ items: [] }))) as {
    items: { metadata: { name: string; finalizers?: string[] } }[];
  };
  const held = list.items.filter((i) => i.metadata.finalizers?.length);
  for (const item of held) {
    await api
      .patchNamespacedCustomObject(
        { ...resource, name: item.metadata.name, body: { metadata: { finalizers: null } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      )
      .catch((error: unknown) => {
        if (apiErrorCode(error) !== 404)
          console.warn(`removing the finalizers of ActRunner ${namespace}/${item.metadata.name}: ${apiErrorMessage(error)}`);
      });
  }
  return held.length;
}

/**
 * Waits until no RunnerDeployment or ActRunner is left in the cluster, for tests of a cluster-wide
 * controller whose uninstall hook waits for every one of them (the chart's). Those of earlier test
 * files go with their namespaces; an ActRunner whose finalizer a later file's controller added
 * again (it sees every namespace) while its namespace was going is let go and deleted here, as
 * deleteNamespace does: the controller that would clear it is stopped.
 */
export async function noRunnerResourcesLeft(timeoutMs = 180_000): Promise<void> {
  const kc = kubeConfig();
  const api = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const listed = async (plural: string) =>
    (
      (await api.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural })) as {
        items: { metadata: { namespace: string; name: string; finalizers?: string[]; deletionTimestamp?: string } }[];
      }
    ).items.map((o) => ({ ...o.metadata, kind: plural }));
  let left: Awaited<ReturnType<typeof listed>> = [];
  await eventually(
    "no RunnerDeployment or ActRunner left by earlier tests",
    async () => {
      left = [...(await listed("runnerdeployments")), ...(await listed("actrunners"))];
      const goingTestNamespaces = (await core.listNamespace({ labelSelector: TEST_NAMESPACE_LABEL })).items
        .filter((n) => n.metadata?.deletionTimestamp)
        .map((n) => n.metadata!.name!);
      for (const namespace of new Set(left.map((o) => o.namespace).filter((n) => goingTestNamespaces.includes(n))))
        await removeActRunnerFinalizers(kc, namespace);
      // Not waiting for the namespace controller's next pass, which may be minutes away after retries.
      for (const o of left.filter((o) => goingTestNamespaces.includes(o.namespace) && !o.deletionTimestamp))
        await api
          .deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: o.kind, namespace: o.namespace, name: o.name })
          .catch(() => undefined);
      return left.length === 0 ? true : undefined;
    },
    timeoutMs,
    1_000,
  ).catch((error: Error) => {
    const described = left
      .slice(0, 10)
      .map(
        (o) =>
          `${o.kind} ${o.namespace}/${o.name} (finalizers ${o.finalizers?.join(",") ?? "none"}, deleted ${o.deletionTimestamp ?? "no"})`,
      );
    throw new Error(`${error.message}; left: ${described.join(", ")}`);
  });
}

/** Polls `probe` until it returns a value other than undefined; fails with `what` after the timeout. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

export function customObjects(kc = kubeConfig()) {
  const api = kc.makeApiClient(CustomObjectsApi);
  const call = (plural: string, namespace: string) => ({ group: API_GROUP, version: API_VERSION, namespace, plural });
  return {
    api,
    create: (plural: string, namespace: string, body: object) => api.createNamespacedCustomObject({ ...call(plural, namespace), body }),
    get: (plural: string, namespace: string, name: string) => api.getNamespacedCustomObject({ ...call(plural, namespace), name }),
    list: (plural: string, namespace: string) => api.listNamespacedCustomObject({ ...call(plural, namespace) }),
    replace: (plural: string, namespace: string, name: string, body: object) =>
      api.replaceNamespacedCustomObject({ ...call(plural, namespace), name, body }),
    delete: (plural: string, namespace: string, name: string) => api.deleteNamespacedCustomObject({ ...call(plural, namespace), name }),
  };
}

/** The message of a rejected call, for asserting on the API server's own words. */
export async function rejection(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: number; body?: unknown };
    const body = typeof e.body === "string" ? (JSON.parse(e.body) as { message?: string }) : (e.body as { message?: string } | undefined);
    return { code: e.code ?? 0, message: body?.message ?? String(error) };
  }
  throw new Error("expected the call to be rejected, but it succeeded");
}

/** The values of metric `name`'s series in Prometheus text `metrics` whose labels include every pair of `labels`. */
export function metricValues(metrics: string, name: string, labels: Record<string, string> = {}): number[] {
  return metrics
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)))
    .map((line) => Number(line.split(" ").at(-1)));
}

/** Metric `name` in Prometheus text `metrics`, summed over its series whose labels include every pair of `labels`. */
export function metricSum(metrics: string, name: string, labels: Record<string, string> = {}): number {
  return metricValues(metrics, name, labels).reduce((sum, value) => sum + value, 0);
}

/**
 * `kubectl create` (or `replace`) `--dry-run=server` of `object`, for the warnings admission gives (on stderr).
 * Asynchronous, so that webhooks served by the test process itself can answer meanwhile.
 */
export function kubectlDryRun(verb: "create" | "replace", object: unknown): Promise<{ status: number | null; stderr: string }> {
  const child = spawn("kubectl", ["--kubeconfig", clusterState().kubeconfig, verb, "--dry-run=server", "-f", "-"], {
    env: { ...process.env, PATH: toolsPath() },
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  child.stdin.end(JSON.stringify(object));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stderr })));
}
