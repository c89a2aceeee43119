// Reads of a runner Job's pods. The controller watches no runner pods (cache.ts): it reads them,
// their Job's FailedCreate Events and a runner's log only when they add something to an
// ActRunner's status (actrunner.ts says when).
import type { CoreV1Api, CoreV1Event, CoreV1EventList, V1Job, V1Pod, V1PodList } from "@kubernetes/client-node";
import { RUNNER_CONTAINER } from "../api/defaults.ts";
import { LABELS } from "../api/well-known.ts";
import { answerWithin } from "../k8s/client.ts";
import type { RestClient } from "../k8s/rest.ts";
import { LOG_TAIL_MAX_LINES, logTail } from "./job-status.ts";

/** How long a runner's log is waited for: an API server that cannot reach the kubelet may take long to say so. */
const LOG_READ_TIMEOUT_MS = 5_000;

/** The Job's pods, by the label the Job controller gives them. */
export async function runnerPods(rest: RestClient, job: V1Job): Promise<V1Pod[]> {
  const selector = encodeURIComponent(`batch.kubernetes.io/controller-uid=${job.metadata!.uid}`);
  const list = await rest.request<V1PodList>(
    "GET",
    `/api/v1/namespaces/${encodeURIComponent(job.metadata!.namespace!)}/pods?labelSelector=${selector}`,
  );
  return list.items;
}

/** The pods of an ActRunner's runner Job that have not ended, by the operator's label: also once the Job is gone. */
export async function unendedRunnerPods(rest: RestClient, namespace: string, runnerObjectName: string): Promise<V1Pod[]> {
  const selector = encodeURIComponent(`${LABELS.actRunner}=${runnerObjectName}`);
  const list = await rest.request<V1PodList>("GET", `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?labelSelector=${selector}`);
  return list.items.filter((pod) => pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed");
}

/** The message of the Job's latest FailedCreate Event (a pod refused by a quota or Pod Security admission), if any. */
export async function podCreationError(rest: RestClient, job: V1Job): Promise<string | undefined> {
  const selector = encodeURIComponent(`involvedObject.uid=${job.metadata!.uid},reason=FailedCreate`);
  const list = await rest.request<CoreV1EventList>(
    "GET",
    `/api/v1/namespaces/${encodeURIComponent(job.metadata!.namespace!)}/events?fieldSelector=${selector}`,
  );
  const time = (e: CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? 0).getTime();
  return list.items.sort((a, b) => time(b) - time(a))[0]?.message;
}

/**
 * The last lines of the log of the Job's running `runner` container (logTail's cut), or undefined
 * when none runs or its log is empty. Fails when the log cannot be read within LOG_READ_TIMEOUT_MS.
 */
export async function runnerLogTail(rest: RestClient, core: CoreV1Api, job: V1Job): Promise<string | undefined> {
  const running = (await runnerPods(rest, job)).find((pod) =>
    pod.status?.containerStatuses?.some((c) => c.name === RUNNER_CONTAINER && c.state?.running),
  );
  if (!running) return undefined;
  const log = await answerWithin(
    core.readNamespacedPodLog({
      name: running.metadata!.name!,
      namespace: running.metadata!.namespace!,
      container: RUNNER_CONTAINER,
      tailLines: LOG_TAIL_MAX_LINES,
      limitBytes: 16_384,
    }),
    LOG_READ_TIMEOUT_MS,
    `the log of pod ${running.metadata!.name}`,
  );
  return logTail(log) || undefined;
}
