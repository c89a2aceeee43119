// `helm uninstall` of a release whose RunnerDeployments still exist, through the chart's pre-delete
// hook (forgejo-arc before-uninstall). The chart's controller, the listeners it creates and the hook
// Job's pod all run on the test executor's node as host processes; runner pods run on kwok; Forgejo
// is the fake. "refuse" (the default) stops the uninstall and names the RunnerDeployment; "delete"
// deletes it, and the uninstall ends only once the ActRunner has deleted its Forgejo runner.
import { AppsV1Api, BatchV1Api, CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ActRunner } from "../../../src/generated/api.ts";
import { freePort } from "../../../scripts/cluster/cluster.ts";
import { CHART_DIR, helmAsync } from "../../../scripts/chart/chart.ts";
import { BUNDLE } from "../../../scripts/build.ts";
import { beforeUninstallRules } from "../../../src/uninstall/rbac.ts";
import { clusterServiceAccountKubeconfig, deleteClusterServiceAccount } from "../support/service-account.ts";
import { EXECUTOR_POD_TEMPLATE, type Executor } from "../../executor/executor.ts";
import { startTestExecutor, stopTestExecutor } from "../support/executor.ts";
import type { FakeForgejo } from "../../fake-forgejo/fake-forgejo.ts";
import { TOKENS, seededFake } from "../../fixtures/forgejo.ts";
import { rd } from "../../fixtures/resources.ts";
import { clusterState, createNamespace, customObjects, deleteNamespace, eventually, kubeConfig, noRunnerResourcesLeft } from "../helpers.ts";
import { startRunnerBridge } from "../support/runner-bridge.ts";

const CI_VALUES = join(CHART_DIR, "ci/url-mode-values.yaml");
const kc = kubeConfig();
const objects = customObjects(kc);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const batch = kc.makeApiClient(BatchV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const kubeconfig = () => clusterState().kubeconfig;
let executor: Executor;
let fake: FakeForgejo;
let forgejoUrl: string;
let bridge: Awaited<ReturnType<typeof startRunnerBridge>>;
let ns: string;
/** Release name → namespace, for the clean-up of a failed test. */
const releases = new Map<string, string>();

beforeAll(async () => {
  // The hook looks at the whole cluster: earlier test files' RunnerDeployments must be gone.
  await noRunnerResourcesLeft();
  fake = seededFake();
  forgejoUrl = await fake.listen();
  ns = await createNamespace("uninstall-user");
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "forgejo-token" }, stringData: { token: TOKENS.owner } } });
  bridge = await startRunnerBridge(fake, ns);
  executor = await startTestExecutor(kc);
}, 240_000);

afterAll(async () => {
  await deleteNamespace(ns);
  for (const [release, releaseNamespace] of releases) {
    await helmAsync(["uninstall", release, "--namespace", releaseNamespace, "--no-hooks", "--ignore-not-found", "--wait", "--timeout", "60s"], {
      kubeconfig: kubeconfig(),
    }).catch(() => undefined);
    await deleteNamespace(releaseNamespace);
  }
  await bridge?.stop();
  await stopTestExecutor(executor);
  await fake?.close();
}, 180_000);

async function install(release: string, extraSet: string[] = []): Promise<string> {
  const releaseNamespace = await createNamespace("uninstall-release");
  releases.set(release, releaseNamespace);
  const port = await freePort();
  const set = [`webhooks.url.port=${port}`, ...extraSet].flatMap((pair) => ["--set", pair]);
  await helmAsync(["install", release, CHART_DIR, "--namespace", releaseNamespace, "--values", CI_VALUES, ...set, "--wait", "--timeout", "120s"], {
    kubeconfig: kubeconfig(),
    timeoutMs: 180_000,
  });
  return releaseNamespace;
}

function uninstall(release: string, releaseNamespace: string): Promise<string> {
  return helmAsync(["uninstall", release, "--namespace", releaseNamespace, "--wait", "--timeout", "180s"], {
    kubeconfig: kubeconfig(),
    timeoutMs: 240_000,
  });
}

/** A RunnerDeployment whose listener runs on the executor node, with the runner pods of its jobs running for minutes on kwok. */
async function createRunnerDeployment(name: string): Promise<void> {
  const body = rd({
    metadata: { name, namespace: ns },
    spec: {
      forgejoServer: forgejoUrl,
      labels: `${name}:host`,
      tokenSecretRef: { namespace: ns },
      pollInterval: "2s",
      listenerTemplate: EXECUTOR_POD_TEMPLATE,
      runnerTemplate: { metadata: { annotations: { "forgejo-arc.test/run-for": "10m" } } },
    } as never,
  });
  await objects.create("runnerdeployments", ns, body);
}

async function actRunners(): Promise<ActRunner[]> {
  return ((await objects.list("actrunners", ns)) as { items: ActRunner[] }).items;
}

const forgejoRunners = () => [...fake.runners.values()].filter((r) => r.name.startsWith(`k8s-${ns}-`));

test("by default, helm uninstall stops while a RunnerDeployment exists, naming it, and goes through once it is deleted", async () => {
  const releaseNamespace = await install("refusing");
  await createRunnerDeployment("kept");

  const refused = await uninstall("refusing", releaseNamespace).then(
    () => "",
    (error: Error) => error.message,
  );
  expect(refused).toContain("job refusing-forgejo-arc-before-uninstall failed");
  // Nothing was removed: the controller runs on, and the failed hook Job's pod says why.
  expect((await apps.readNamespacedDeployment({ name: "refusing-forgejo-arc", namespace: releaseNamespace })).status?.readyReplicas).toBe(1);
  const [hookPod] = (await core.listNamespacedPod({ namespace: releaseNamespace, labelSelector: "app.kubernetes.io/component=before-uninstall" })).items;
  expect(hookPod?.status?.phase).toBe("Failed");
  const message = hookPod?.status?.containerStatuses?.[0]?.state?.terminated?.message ?? "";
  expect(message).toContain(`RunnerDeployment(s) still exist: ${ns}/kept`);
  expect(message).toContain("kubectl delete runnerdeployments");
  expect(await objects.get("runnerdeployments", ns, "kept")).toBeDefined();
  // As docs/install.md says: the release is left "uninstalling", which helm upgrade no longer takes.
  const upgrade = await helmAsync(["upgrade", "refusing", CHART_DIR, "--namespace", releaseNamespace, "--reuse-values"], { kubeconfig: kubeconfig() }).then(
    () => "",
    (error: Error) => error.message,
  );
  expect(upgrade).toContain('"refusing" has no deployed releases');

  // Deleted as the message says, the uninstall goes through and removes the hook's own objects.
  await objects.delete("runnerdeployments", ns, "kept");
  await uninstall("refusing", releaseNamespace);
  await expect(apps.readNamespacedDeployment({ name: "refusing-forgejo-arc", namespace: releaseNamespace })).rejects.toMatchObject({ code: 404 });
  await expect(batch.readNamespacedJob({ name: "refusing-forgejo-arc-before-uninstall", namespace: releaseNamespace })).rejects.toMatchObject({
    code: 404,
  });
  await expect(rbac.readClusterRole({ name: "refusing-forgejo-arc-before-uninstall" })).rejects.toMatchObject({ code: 404 });
}, 600_000);

test("with uninstall.runnerDeployments=delete, helm uninstall deletes the RunnerDeployments and waits until their Forgejo runners are gone", async () => {
  const releaseNamespace = await install("deleting", ["uninstall.runnerDeployments=delete"]);
  await createRunnerDeployment("removed");
  const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["removed"] });
  await eventually(
    "the job running on a registered runner",
    async () => (fake.jobs.get(job.id)?.status === "running" && forgejoRunners().length === 1 ? true : undefined),
    90_000,
  );
  expect(await actRunners()).toHaveLength(1);

  // Forgejo answers nothing about runners for a while (the finalizer reads a runner before deleting
  // it): the uninstall must wait for the finalizer's retries.
  fake.addFault({ status: 503, pathPrefix: "/orgs/acme/actions/runners/" });
  const unrefuse = setTimeout(() => fake.clearFaults(), 8_000);
  await uninstall("deleting", releaseNamespace).finally(() => clearTimeout(unrefuse));
  expect(fake.calls.filter((c) => c.status === 503 && /\/actions\/runners\/\d+$/.test(c.route)).length).toBeGreaterThan(0);

  // By the time helm returns, the hook has seen everything gone, while the controller still ran.
  await expect(objects.get("runnerdeployments", ns, "removed")).rejects.toMatchObject({ code: 404 });
  expect(await actRunners()).toEqual([]);
  expect(forgejoRunners()).toEqual([]);
  expect(
    (await core.listNamespacedPod({ namespace: ns, labelSelector: "app.kubernetes.io/component=listener" })).items.map((p) => p.metadata!.name),
  ).toEqual([]);
  await expect(apps.readNamespacedDeployment({ name: "deleting-forgejo-arc", namespace: releaseNamespace })).rejects.toMatchObject({ code: 404 });
}, 600_000);

test("the hook says which permission it lacks: delete mode under the refuse policy's rules", async () => {
  await createRunnerDeployment("guarded");
  const kubeconfig = await clusterServiceAccountKubeconfig(ns, "hook", beforeUninstallRules("refuse"));
  try {
    const failure = await promisify(execFile)(process.execPath, [BUNDLE, "before-uninstall", "--runner-deployments=delete", "--timeout=20s"], {
      env: { PATH: process.env.PATH ?? "", KUBECONFIG: kubeconfig },
      timeout: 60_000,
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(`forgejo-arc: deleting RunnerDeployment ${ns}/guarded:`);
    expect(failure?.stderr).toContain(`cannot delete resource "runnerdeployments"`);
    expect(failure?.stderr).toContain("needs delete on runnerdeployments");
    expect(await objects.get("runnerdeployments", ns, "guarded")).toBeDefined();
  } finally {
    await deleteClusterServiceAccount(ns, "hook");
    await objects.delete("runnerdeployments", ns, "guarded");
  }
}, 120_000);
