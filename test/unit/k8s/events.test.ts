import pino from "pino";
import { EVENT_MESSAGE_MAX_CHARS, eventMessage, makeEventRecorder } from "../../../src/k8s/events.ts";
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
});
