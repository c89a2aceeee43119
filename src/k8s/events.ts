// Kubernetes Events for notable transitions (kubectl describe shows them). Best effort: a failed
// Event is logged, never fails a reconcile. An Event the same as one recorded for the same object
// within REPEAT_WINDOW_MS raises that one's count instead of adding another object, as client-go's
// recorder does: a flapping condition (a Forgejo that fails every other poll) would otherwise
// leave hundreds of Events per RunnerDeployment in etcd each hour.
import type { CoreV1Event, KubernetesObject } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import type { Logger } from "../observability/log.ts";
import { apiErrorCode } from "./client.ts";
import type { RestClient } from "./rest.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorder {
  event(object: KubernetesObject, type: EventType, reason: string, message: string): void;
  /** Resolves once every Event recorded so far was written or failed, or after `withinMs` (before the client closes at shutdown). */
  flush(withinMs: number): Promise<void>;
}

/** A repeat within this time of the last one raises its count (kubectl describe: "x5 over 3m"). */
export const REPEAT_WINDOW_MS = 10 * 60_000;
/** Events remembered for repeats, the least recently recorded forgotten first. */
const REMEMBERED_EVENTS = 1_000;

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
  now: () => Date = () => new Date(),
): EventRecorder {
  const pending = new Set<Promise<void>>();
  /**
   * By object, type, reason and message: how often it was recorded, the Event written for it (its
   * count is the occurrences since `before`), when it was last recorded, and the write in flight
   * (true once the Event exists).
   */
  const recent = new Map<string, { occurrences: number; path: string; before: number; last: number; written: Promise<boolean> }>();

  /** Raises the count of the Event at `path`; false when it is gone (expired, deleted). */
  const raise = async (path: string, count: number, at: Date): Promise<boolean> => {
    try {
      await rest.request("PATCH", path, { count, lastTimestamp: at }, "application/merge-patch+json");
      return true;
    } catch (error) {
      if (apiErrorCode(error) === 404) return false;
      throw error;
    }
  };

  return {
    event(object, type, reason, message) {
      const namespace = object.metadata?.namespace ?? "default";
      const at = now();
      const body: CoreV1Event = {
        metadata: { name: `${object.metadata?.name}.${at.getTime().toString(16)}${randomBytes(2).toString("hex")}`, namespace },
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
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
        source: { component },
        reportingComponent: component,
        reportingInstance: instance,
      };
      const events = `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
      const key = [object.metadata?.uid ?? `${namespace}/${object.kind}/${object.metadata?.name}`, type, reason, body.message].join("\n");
      const previous = recent.get(key);
      recent.delete(key); // re-inserted last: the least recently recorded is forgotten first
      const entry =
        previous && at.getTime() - previous.last < REPEAT_WINDOW_MS
          ? previous
          : { occurrences: 0, path: "", before: 0, last: 0, written: Promise.resolve(false) };
      const occurrence = ++entry.occurrences;
      entry.last = at.getTime();
      // After the write before it, so that a burst raises one Event's count instead of creating several.
      entry.written = entry.written.then(async (exists) => {
        try {
          if (exists && (await raise(entry.path, entry.occurrences - entry.before, at))) return true;
          await rest.request("POST", events, body);
          entry.path = `${events}/${body.metadata!.name}`;
          entry.before = occurrence - 1;
          return true;
        } catch (error) {
          logger.warn({ err: error, reason }, "Failed to record Event");
          return false;
        }
      });
      recent.set(key, entry);
      if (recent.size > REMEMBERED_EVENTS) recent.delete(recent.keys().next().value!);
      const write: Promise<void> = entry.written.then(() => undefined).finally(() => pending.delete(write));
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
