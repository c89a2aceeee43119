import { ApiException } from "@kubernetes/client-node";
import pino from "pino";
import { EVENT_MESSAGE_MAX_CHARS, REPEAT_WINDOW_MS, eventMessage, makeEventRecorder } from "../../../src/k8s/events.ts";
import type { RestClient } from "../../../src/k8s/rest.ts";

describe("Event messages", () => {
  it("are kept whole up to the limit", () => {
    const message = "m".repeat(EVENT_MESSAGE_MAX_CHARS);
    expect(eventMessage(message)).toBe(message);
  });

  it("lose their middle beyond it, keeping what happened and the quoted log's last line", () => {
    const message = `The runner pod failed: runner container Error with exit code 1: ${"x".repeat(2000)}\ncannot fetch task: unauthenticated`;
    const kept = eventMessage(message);
    expect(kept).toHaveLength(EVENT_MESSAGE_MAX_CHARS);
    expect(kept.startsWith("The runner pod failed: runner container Error with exit code 1: ")).toBe(true);
    expect(kept.endsWith("\ncannot fetch task: unauthenticated")).toBe(true);
    expect(kept).toContain("…");
  });
});

describe("the Event recorder", () => {
  /** A client whose writes are answered only when `answer` is called (the n-th write: answer(n)). */
  function slowClient() {
    const answers: ((ok: boolean) => void)[] = [];
    const rest = {
      request: () => new Promise((resolve, reject) => answers.push((ok) => (ok ? resolve({}) : reject(new Error("refused"))))),
      close: () => undefined,
    } as unknown as RestClient;
    return { rest, answer: (index: number, ok = true) => answers[index]!(ok) };
  }
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "ci", uid: "u" } };

  it("flush waits for every Event written so far, answered or refused", async () => {
    const { rest, answer } = slowClient();
    const recorder = makeEventRecorder(rest, "test", pino({ level: "silent" }));
    recorder.event(pod, "Normal", "First", "one");
    recorder.event(pod, "Warning", "Second", "two");
    let flushed = false;
    const flushing = recorder.flush(60_000).then(() => (flushed = true));
    await new Promise((resolve) => setImmediate(resolve)); // the writes go out a microtask later
    answer(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toBe(false);
    answer(1, false);
    await flushing;
    expect(flushed).toBe(true);
  });

  it("flush gives up after its bound on a write that is never answered", async () => {
    const { rest } = slowClient();
    const recorder = makeEventRecorder(rest, "test", pino({ level: "silent" }));
    recorder.event(pod, "Normal", "Stuck", "stuck");
    const started = performance.now();
    await recorder.flush(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  describe("a repeated Event", () => {
    /** A client that answers at once and records each write; PATCHes of the paths in `gone` answer 404. */
    function recordingClient() {
      const writes: { method: string; path: string; count?: number }[] = [];
      const gone = new Set<string>();
      const rest = {
        request: (method: string, path: string, body: { count?: number; metadata?: { name?: string } }) => {
          writes.push({ method, path: method === "POST" ? `${path}/${body.metadata?.name}` : path, count: body.count });
          if (method === "PATCH" && gone.has(path)) return Promise.reject(new ApiException(404, "NotFound", {}, {}));
          return Promise.resolve({});
        },
        close: () => undefined,
      } as unknown as RestClient;
      /** The writes as "POST 1" or "PATCH 3"; `same` when every one concerns the Event of the first. */
      const shown = () => writes.map((w) => `${w.method} ${w.count}`);
      return { rest, writes, gone, shown };
    }
    let clock = Date.parse("2026-11-29T12:00:00Z");
    const recorderOn = (rest: RestClient) => makeEventRecorder(rest, "test", pino({ level: "silent" }), "", () => new Date(clock));

    it("raises the count of the one written for the same object, type, reason and message, also in a burst", async () => {
      const { rest, writes, shown } = recordingClient();
      const recorder = recorderOn(rest);
      for (let i = 0; i < 3; i++) recorder.event(pod, "Warning", "Unreachable", "Forgejo did not answer");
      await recorder.flush(1_000);
      clock += 60_000;
      recorder.event(pod, "Warning", "Unreachable", "Forgejo did not answer");
      await recorder.flush(1_000);
      expect(shown()).toEqual(["POST 1", "PATCH 3", "PATCH 3", "PATCH 4"]);
      expect(new Set(writes.map((w) => w.path)).size).toBe(1);
    });

    it("is written anew for another object, type, reason or message, and after the repeat window", async () => {
      const { rest, shown } = recordingClient();
      const recorder = recorderOn(rest);
      const other = { ...pod, metadata: { ...pod.metadata, name: "q", uid: "v" } };
      recorder.event(pod, "Warning", "Unreachable", "one");
      recorder.event(other, "Warning", "Unreachable", "one");
      recorder.event(pod, "Normal", "Unreachable", "one");
      recorder.event(pod, "Warning", "Timeout", "one");
      recorder.event(pod, "Warning", "Unreachable", "two");
      await recorder.flush(1_000);
      clock += REPEAT_WINDOW_MS;
      recorder.event(pod, "Warning", "Unreachable", "one");
      await recorder.flush(1_000);
      expect(shown()).toEqual(Array(6).fill("POST 1"));
    });

    it("is written anew when the first is gone (expired after the API server's --event-ttl, or deleted), and that one's count raised", async () => {
      const { rest, writes, gone, shown } = recordingClient();
      const recorder = recorderOn(rest);
      recorder.event(pod, "Warning", "Unreachable", "one");
      await recorder.flush(1_000);
      gone.add(writes[0]!.path);
      recorder.event(pod, "Warning", "Unreachable", "one");
      recorder.event(pod, "Warning", "Unreachable", "one");
      await recorder.flush(1_000);
      expect(shown()).toEqual(["POST 1", "PATCH 3", "POST 1", "PATCH 2"]);
      expect(writes[3]!.path).toBe(writes[2]!.path);
      expect(writes[2]!.path).not.toBe(writes[0]!.path);
    });

    it("is written anew after a refused write", async () => {
      const { rest, shown } = recordingClient();
      const request = rest.request.bind(rest);
      let refuse = true;
      rest.request = ((...args: Parameters<RestClient["request"]>) => {
        if (refuse) {
          refuse = false;
          return Promise.reject(new ApiException(500, "boom", {}, {}));
        }
        return request(...args);
      }) as RestClient["request"];
      const recorder = recorderOn(rest);
      recorder.event(pod, "Warning", "Unreachable", "one");
      recorder.event(pod, "Warning", "Unreachable", "one");
      await recorder.flush(1_000);
      expect(shown()).toEqual(["POST 1"]);
    });
  });
});
