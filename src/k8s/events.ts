// Kubernetes Events for notable transitions (kubectl describe shows them). Best effort: a failed
// Event is logged, never fails a reconcile.
import type { CoreV1Event, KubernetesObject } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import type { Logger } from "../observability/log.ts";
import type { RestClient } from "./rest.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorder {
  event(object: KubernetesObject, type: EventType, reason: string, message: string): void;
  /** Resolves once every Event recorded so far was written or failed, or after `withinMs` (before the client closes at shutdown). */
  flush(withinMs: number): Promise<void>;
}

/** Event messages are kept to this length: events.k8s.io/v1 takes a note of at most 1 kB. */
export const EVENT_MESSAGE_MAX_CHARS = 1024;

/** A message cut to EVENT_MESSAGE_MAX_CHARS in the middle: its start says what happened, its end often why (a quoted log's last line). */
export function eventMessage(message: string): string {
  if (message.length <= EVENT_MESSAGE_MAX_CHARS) return message;
  const half = (EVENT_MESSAGE_MAX_CHARS - 1) / 2;
  return `${message.slice(0, Math.floor(half))}…${message.slice(-Math.ceil(half))}`;
}

export function makeEventRecorder(
  rest: RestClient,
  component: string,
  logger: Logger,
  instance = process.env.POD_NAME ?? "",
): EventRecorder {
  const pending = new Set<Promise<void>>();
  return {
    event(object, type, reason, message) {
      const namespace = object.metadata?.namespace ?? "default";
      const now = new Date();
      const body: CoreV1Event = {
        metadata: { name: `${object.metadata?.name}.${now.getTime().toString(16)}${randomBytes(2).toString("hex")}`, namespace },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name: object.metadata?.name,
          namespace,
          uid: object.metadata?.uid,
          resourceVersion: object.metadata?.resourceVersion,
        },
        type,
        reason,
        message: eventMessage(message),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: { component },
        reportingComponent: component,
        reportingInstance: instance,
      };
      const write = rest
        .request("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, body)
        .then(
          () => undefined,
          (error: unknown) => logger.warn({ err: error, reason }, "Failed to record Event"),
        )
        .finally(() => pending.delete(write));
      pending.add(write);
    },
    async flush(withinMs) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)));
      await Promise.race([Promise.all(pending), deadline]);
      clearTimeout(timer);
    },
  };
}
