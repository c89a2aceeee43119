// The test executor plays the kubelet of its node: these check what the other suites take for granted.
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { EXECUTOR_NODE, EXECUTOR_POD_TEMPLATE, type Executor } from "../../executor/executor.ts";
import { startTestExecutor, stopTestExecutor } from "../support/executor.ts";
import { createNamespace, deleteNamespace, eventually, kubeConfig } from "../helpers.ts";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
let ns: string;
let executor: Executor | undefined;

beforeAll(async () => {
  ns = await createNamespace("executor");
  executor = await startTestExecutor(kc);
});

afterAll(async () => {
  await core.deleteCollectionNamespacedPod({ namespace: ns }).catch(() => undefined);
  await stopTestExecutor(executor, ns);
  await deleteNamespace(ns);
});

async function podWhen(name: string, what: string, holds: (pod: V1Pod) => boolean): Promise<V1Pod> {
  return eventually(what, async () => {
    const pod = await core.readNamespacedPod({ name, namespace: ns });
    return holds(pod) ? pod : undefined;
  });
}

describe("the test executor", () => {
  it("holds a pod whose Secret is missing in CreateContainerConfigError, worded as a kubelet's, and runs it once the Secret exists", async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "waits-for-secret" },
        spec: {
          ...EXECUTOR_POD_TEMPLATE.spec,
          restartPolicy: "Never",
          containers: [
            {
              name: "main",
              image: "forgejo-arc:test",
              args: ["version"],
              env: [{ name: "FROM_SECRET", valueFrom: { secretKeyRef: { name: "later", key: "value" } } }],
            },
          ],
        },
      },
    });
    const waiting = await podWhen(
      "waits-for-secret",
      "the pod waiting for its Secret",
      (pod) => pod.status?.containerStatuses?.[0]?.state?.waiting?.reason === "CreateContainerConfigError",
    );
    expect(waiting.spec?.nodeName).toBe(EXECUTOR_NODE);
    expect(waiting.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe('secret "later" not found');

    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "later" }, stringData: { value: "here" } } });
    const done = await podWhen("waits-for-secret", "the pod run once its Secret exists", (pod) => pod.status?.phase === "Succeeded");
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
  }, 60_000);
});
