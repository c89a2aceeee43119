// The controller with --watch-namespaces, under the rights the chart gives it then: the namespaced
// rules as a Role in the namespace it serves, only the cluster-scoped ones cluster-wide. It runs the
// whole chain there (its own listener through the test executor) and leaves another namespace alone.
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { ActRunner, RunnerDeployment } from "../../../src/generated/api.ts";
import { controllerClusterScopedRules, controllerLeaderElectionRules, controllerNamespacedRules } from "../../../src/controller/rbac.ts";
import type { FakeForgejo } from "../../fake-forgejo/fake-forgejo.ts";
import { TOKENS, seededFake } from "../../fixtures/forgejo.ts";
import { rd } from "../../fixtures/resources.ts";
import { EXECUTOR_POD_TEMPLATE, type Executor } from "../../executor/executor.ts";
import { createNamespace, customObjects, deleteNamespace, eventually, kubeConfig } from "../helpers.ts";
import { startTestExecutor, stopTestExecutor } from "../support/executor.ts";
import { startRole, type RoleProcess } from "../support/process.ts";
import { startRunnerBridge } from "../support/runner-bridge.ts";
import { clusterServiceAccountKubeconfig, deleteClusterServiceAccount } from "../support/service-account.ts";

const kc = kubeConfig();
const objects = customObjects(kc);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
let fake: FakeForgejo;
let forgejoUrl: string;
let served: string;
let other: string;
let controller: RoleProcess;
let bridge: Awaited<ReturnType<typeof startRunnerBridge>>;
let executor: Executor;

beforeAll(async () => {
  fake = seededFake();
  forgejoUrl = await fake.listen();
  served = await createNamespace("served");
  other = await createNamespace("unserved");
  for (const namespace of [served, other])
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: "forgejo-token" }, stringData: { token: TOKENS.owner } } });
  bridge = await startRunnerBridge(fake, served);
  executor = await startTestExecutor(kc);
  // As the chart renders controller.watchNamespaces: [served] (leader election off, its Role unused).
  const kubeconfig = await clusterServiceAccountKubeconfig(served, "controller", controllerClusterScopedRules(), [
    ...controllerNamespacedRules(),
    ...controllerLeaderElectionRules(),
  ]);
  controller = await startRole("controller", ["--webhook-port", "0", "--orphan-sweep-interval", "2s", `--watch-namespaces=${served}`], {
    KUBECONFIG: kubeconfig,
  });
  await controller.waitForOutput("Started reconciling");
}, 60_000);

afterAll(async () => {
  await controller?.stop("SIGKILL");
  await bridge?.stop();
  await deleteNamespace(served);
  await deleteNamespace(other);
  await stopTestExecutor(executor, served);
  await deleteClusterServiceAccount(served, "controller");
  await fake.close();
}, 120_000);

async function createRunnerDeployment(namespace: string, name: string): Promise<void> {
  const body = rd({
    spec: {
      forgejoServer: forgejoUrl,
      labels: `${name}:host`,
      tokenSecretRef: { namespace },
      retentionAfterFinish: "1h",
      listenerTemplate: EXECUTOR_POD_TEMPLATE,
    } as never,
  });
  await objects.create("runnerdeployments", namespace, { ...body, metadata: { name, namespace } });
}

describe("a controller serving one namespace (--watch-namespaces)", () => {
  it("runs a job there with only a Role in that namespace, and leaves a RunnerDeployment in another namespace alone", async () => {
    await createRunnerDeployment(other, "elsewhere");
    await createRunnerDeployment(served, "here");
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["here"] });
    const ran = await eventually(
      "the job's ActRunner Succeeded, run by the controller's own listener",
      async () => {
        const list = (await objects.list("actrunners", served)) as { items: ActRunner[] };
        return list.items.find((r) => r.spec.forgejoJobID === job.id && r.status?.phase === "Succeeded");
      },
      90_000,
    );
    expect(ran.metadata?.finalizers).toEqual(["forgejo.actions.io/runner-cleanup"]);
    expect(fake.jobs.get(job.id)!.status).toBe("success");
    const here = (await objects.get("runnerdeployments", served, "here")) as RunnerDeployment;
    expect(here.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "True" });

    // The other namespace's RunnerDeployment, made first, was never reconciled: no status, no listener.
    const elsewhere = (await objects.get("runnerdeployments", other, "elsewhere")) as RunnerDeployment;
    expect(elsewhere.status).toBeUndefined();
    expect((await apps.listNamespacedDeployment({ namespace: other })).items).toEqual([]);
    expect(controller.output.filter((line) => line.includes(`${other}/elsewhere`))).toEqual([]);
  }, 150_000);
});
