// The control plane is complete: Jobs run on the kwok node (controller-manager, scheduler and kwok
// all take part), owners' deletion cascades (garbage collector), and RBAC holds for a bound token.
import { BatchV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1Job } from "@kubernetes/client-node";
import {
  clusterState,
  createNamespace,
  customObjects,
  deleteNamespace,
  eventually,
  kubeConfig,
  rejection,
  GC_TIMEOUT_MS,
} from "../helpers.ts";
import { ar, rd } from "../../fixtures/resources.ts";

const kc = kubeConfig();
const batch = kc.makeApiClient(BatchV1Api);
const core = kc.makeApiClient(CoreV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);

function job(name: string, annotations: Record<string, string> = {}): V1Job {
  return {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { annotations },
        spec: { restartPolicy: "Never", containers: [{ name: "main", image: "example.invalid/never-pulled:1" }] },
      },
    },
  };
}

async function finishedCondition(namespace: string, name: string): Promise<string | undefined> {
  const current = await batch.readNamespacedJobStatus({ name, namespace });
  return current.status?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")?.type;
}

describe("the local cluster", () => {
  let ns: string;
  beforeAll(async () => {
    ns = await createNamespace("workloads");
  });
  afterAll(() => deleteNamespace(ns));

  it("runs a Job to Complete on a kwok node", async () => {
    await batch.createNamespacedJob({ namespace: ns, body: job("succeeds") });
    expect(await eventually("Job succeeds to finish", () => finishedCondition(ns, "succeeds"))).toBe("Complete");
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "batch.kubernetes.io/job-name=succeeds" });
    expect(pods.items[0]?.spec?.nodeName).toBe("kwok-node-0");
    expect(pods.items[0]?.status?.podIP).toBe("127.0.0.1");
  });

  it("ends a Job Failed when its pod template asks kwok to fail", async () => {
    await batch.createNamespacedJob({ namespace: ns, body: job("fails", { "forgejo-arc.test/result": "failed" }) });
    expect(await eventually("Job fails to finish", () => finishedCondition(ns, "fails"))).toBe("Failed");
  });

  it("honours a per-pod run time", async () => {
    const started = Date.now();
    await batch.createNamespacedJob({ namespace: ns, body: job("slow", { "forgejo-arc.test/run-for": "6s" }) });
    await eventually("Job slow to finish", () => finishedCondition(ns, "slow"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(6_000);
  });

  it("deletes dependents when their owner is deleted (garbage collector)", async () => {
    const objects = customObjects(kc);
    const owner = (await objects.create("runnerdeployments", ns, { ...rd(), metadata: { name: "owner", namespace: ns } })) as {
      metadata: { uid: string };
    };
    const ownerReferences = [
      {
        apiVersion: "forgejo.actions.io/v1alpha1",
        kind: "RunnerDeployment",
        name: "owner",
        uid: owner.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
    await objects.create("actrunners", ns, { ...ar(), metadata: { name: "dependent", namespace: ns, ownerReferences } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "dependent", ownerReferences }, data: { a: "b" } } });
    await objects.delete("runnerdeployments", ns, "owner");
    await eventually(
      "dependents to be collected",
      async () => {
        const runners = (await objects.list("actrunners", ns)) as { items: unknown[] };
        const maps = await core.listNamespacedConfigMap({ namespace: ns, fieldSelector: "metadata.name=dependent" });
        return runners.items.length === 0 && maps.items.length === 0 ? true : undefined;
      },
      GC_TIMEOUT_MS,
    );
  }, 120_000);

  it("refuses a ServiceAccount token what its narrow Role does not grant", async () => {
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "narrow" } } });
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: "narrow" },
        rules: [{ apiGroups: ["forgejo.actions.io"], resources: ["actrunners"], verbs: ["create", "get"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "narrow" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "narrow" },
        subjects: [{ kind: "ServiceAccount", name: "narrow", namespace: ns }],
      },
    });
    const token = await core.createNamespacedServiceAccountToken({
      name: "narrow",
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const state = clusterState();
    const narrow = new KubeConfig();
    narrow.loadFromOptions({
      clusters: [{ name: "local", server: state.server, caFile: state.caFile }],
      users: [{ name: "narrow", token: token.status!.token }],
      contexts: [{ name: "narrow", cluster: "local", user: "narrow" }],
      currentContext: "narrow",
    });
    const asNarrow = customObjects(narrow);
    await expect(asNarrow.create("actrunners", ns, { ...ar(), metadata: { name: "allowed", namespace: ns } })).resolves.toBeDefined();
    const deleteFailure = await rejection(asNarrow.delete("actrunners", ns, "allowed"));
    expect(deleteFailure.code).toBe(403);
    expect(deleteFailure.message).toContain(`User "system:serviceaccount:${ns}:narrow" cannot delete resource "actrunners"`);
    const secretsFailure = await rejection(narrow.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns }));
    expect(secretsFailure.code).toBe(403);
  });
});
