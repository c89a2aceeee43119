import { EVENT_MESSAGE_MAX_CHARS, eventMessage } from "../../../src/k8s/events.ts";

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
