// Plays forgejo-runner toward the fake Forgejo for runner pods that kwok "runs": when a runner pod
// is Running, its job is claimed with the --uuid, --handle and --label values of the pod's own
// command line (so a pod built without --handle could never claim it); when the pod ends, the job
// ends with the pod's result, or cancelled when the pod was deleted (SIGTERM cancels a running job,
// forgejo.md). Like the runner, which reports with its own credentials, the end is reported only
// while the Forgejo runner exists: a deleted runner's report fails (`lostReports`) and the job stays
// running, as Forgejo shows it until its zombie reaper. A pod template annotation
// forgejo-arc.test/no-pickup: "true" keeps the job waiting.
import { CoreV1Api, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import { Informer } from "../../../src/k8s/informer.ts";
import { silentLogger } from "../../../src/observability/log.ts";
import type { FakeForgejo } from "../../fake-forgejo/fake-forgejo.ts";
import { kubeConfig } from "../helpers.ts";

export const NO_PICKUP_ANNOTATION = "forgejo-arc.test/no-pickup";

function flagValues(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag && args[i + 1] !== undefined ? [args[i + 1]!] : []));
}

/** Watches the runner pods of `namespace` in the cluster `kc` reaches (the tests' local cluster unless given). */
export async function startRunnerBridge(
  fake: FakeForgejo,
  namespace: string,
  kc: KubeConfig = kubeConfig(),
): Promise<{ stop(): Promise<void>; claims: string[]; errors: string[]; lostReports: string[] }> {
  const core = kc.makeApiClient(CoreV1Api);
  const selector = "app.kubernetes.io/component=runner";
  const informer = new Informer<V1Pod & KubernetesObject>(kc, {
    name: "runner-pods",
    path: `/api/v1/namespaces/${namespace}/pods`,
    labelSelector: selector,
    list: () => core.listNamespacedPod({ namespace, labelSelector: selector }) as Promise<KubernetesListObject<V1Pod & KubernetesObject>>,
    logger: silentLogger(),
  });
  const claimed = new Map<string, number>();
  const finished = new Set<string>();
  const claims: string[] = [];
  const errors: string[] = [];
  const lostReports: string[] = [];
  const onPod = (pod: V1Pod, deleted = false) => {
    const name = pod.metadata!.name!;
    const runner = pod.spec?.containers.find((c) => c.name === "runner");
    const args = runner?.args ?? [];
    try {
      // A pod seen only after it ended still ran one-job --handle: it claimed its job first.
      const ran = pod.status?.phase === "Running" || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
      if (ran && !claimed.has(name) && pod.metadata?.annotations?.[NO_PICKUP_ANNOTATION] !== "true") {
        const [handle] = flagValues(args, "--handle");
        const [uuid] = flagValues(args, "--uuid");
        const labels = flagValues(args, "--label").map((l) => l.split(":")[0]!);
        const job = [...fake.jobs.values()].find((j) => j.handle === handle && j.status === "waiting");
        if (!job || !uuid) return;
        fake.assignJob(job.id, { uuid }, handle!, labels);
        claimed.set(name, job.id);
        claims.push(`${name}:${job.id}`);
      }
      const jobId = claimed.get(name);
      const stopped = deleted || pod.metadata?.deletionTimestamp !== undefined;
      const ended = stopped || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
      if (ended && jobId !== undefined && !finished.has(name)) {
        finished.add(name);
        const job = fake.jobs.get(jobId);
        if (job?.status !== "running") return;
        const result = stopped ? "cancelled" : pod.status?.phase === "Succeeded" ? "success" : "failure";
        if (job.runnerId !== undefined && fake.runners.has(job.runnerId)) fake.finishJob(jobId, result);
        else lostReports.push(`${name}:${jobId}:${result}`);
      }
    } catch (error) {
      errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  informer.on("add", (pod) => onPod(pod));
  informer.on("update", (pod) => onPod(pod));
  informer.on("delete", (pod) => onPod(pod, true));
  await informer.start();
  return { stop: () => informer.stop(), claims, errors, lostReports };
}
