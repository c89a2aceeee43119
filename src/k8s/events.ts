// Kubernetes Events for notable transitions (kubectl describe shows them). Best effort: a failed
// Event is logged, never fails a reconcile.
import type { CoreV1Event, KubernetesObject } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import type { Logger } from "../observability/log.ts";
import type { RestClient } from "./rest.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorder {
  event(object: KubernetesObject, type: EventType, reason: string, message: string): void;
}

export function makeEventRecorder(
  rest: RestClient,
  component: string,
  logger: Logger,
  instance = process.env.POD_NAME ?? "",
): EventRecorder {
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
        message: message.slice(0, 1024),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: { component },
        reportingComponent: component,
        reportingInstance: instance,
      };
      rest
        .request("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, body)
        .catch((error: unknown) => logger.warn({ err: error, reason }, "Failed to record Event"));
    },
  };
}
