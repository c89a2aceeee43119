import { ForgejoError } from "../../../src/forgejo/errors.ts";
import { NotSentError, UnansweredServers } from "../../../src/forgejo/unanswered-servers.ts";

const SERVER = "https://code.example.com";
const TARGET = "POST /api/v1/orgs/acme/actions/runners";
const timeout = new ForgejoError("timeout", "register_runner", `${TARGET} on ${SERVER}: no answer within 10000 ms`);

function servers() {
  let now = Date.parse("2026-11-29T12:00:00Z");
  const changes: { server: string; answering: boolean; until?: Date }[] = [];
  const unanswered = new UnansweredServers({ quietMs: 10_000, maxQuietMs: 30_000, now: () => now, onChange: (c) => changes.push(c) });
  const notSent = (): NotSentError => {
    try {
      unanswered.admit(SERVER, "register_runner", TARGET);
    } catch (error) {
      if (error instanceof NotSentError) return error;
      throw error;
    }
    throw new Error("the call was admitted");
  };
  return { unanswered, changes, notSent, advance: (ms: number) => (now += ms) };
}

describe("UnansweredServers", () => {
  it("lets calls through while the server answers, and fails them at once for the quiet period after one went unanswered", () => {
    const { unanswered, changes, notSent, advance } = servers();
    expect(unanswered.admit(SERVER, "register_runner", TARGET)).toBe(false);
    unanswered.settled(SERVER, false, timeout);
    expect(changes).toEqual([{ server: SERVER, answering: false, until: new Date("2026-11-29T12:00:10Z"), cause: timeout }]);
    advance(4_000);
    const error = notSent();
    expect(error).toBeInstanceOf(ForgejoError);
    expect(error.kind).toBe("timeout");
    expect(error.operation).toBe("register_runner");
    expect(error.retryAfterMs).toBe(6_000);
    expect(error.message).toBe(
      `${TARGET} on ${SERVER}: not sent: ${SERVER} has answered no call since 2026-11-29T12:00:00.000Z (${timeout.message}); its calls fail at once until a trial call gets an answer`,
    );
    // Other servers are not affected.
    expect(unanswered.admit("https://other.example.com", "register_runner", TARGET)).toBe(false);
  });

  it("sends one trial call after the quiet period; an answer to it lets every call through again", () => {
    const { unanswered, changes, notSent, advance } = servers();
    unanswered.settled(SERVER, false, timeout);
    advance(10_000);
    expect(unanswered.admit(SERVER, "get_runner", TARGET)).toBe(true);
    // While the trial is out, the others still fail at once, and leave their delay to the caller's backoff.
    expect(notSent().retryAfterMs).toBeUndefined();
    unanswered.settled(SERVER, true);
    expect(changes.map((c) => c.answering)).toEqual([false, true]);
    expect(unanswered.admit(SERVER, "register_runner", TARGET)).toBe(false);
  });

  it("doubles the quiet period, up to its maximum, while trial calls go unanswered, and keeps when the silence began", () => {
    const { unanswered, changes, notSent, advance } = servers();
    unanswered.settled(SERVER, false, timeout);
    for (const quietMs of [20_000, 30_000, 30_000]) {
      advance(100_000);
      expect(unanswered.admit(SERVER, "register_runner", TARGET)).toBe(true);
      unanswered.settled(SERVER, true, timeout);
      expect(notSent().retryAfterMs).toBe(quietMs);
    }
    expect(notSent().message).toContain("since 2026-11-29T12:00:00.000Z");
    expect(changes).toHaveLength(1);
  });

  it("does not extend the quiet period for a call sent before it began that goes unanswered too", () => {
    const { unanswered, notSent, advance } = servers();
    unanswered.settled(SERVER, false, timeout);
    advance(3_000);
    unanswered.settled(SERVER, false, timeout);
    expect(notSent().retryAfterMs).toBe(7_000);
  });

  it("ends the silence on any answer, an error status or a quick refusal included", () => {
    const { unanswered, changes } = servers();
    unanswered.settled(SERVER, false, timeout);
    unanswered.settled(SERVER, false);
    expect(changes.map((c) => c.answering)).toEqual([false, true]);
    expect(unanswered.admit(SERVER, "register_runner", TARGET)).toBe(false);
  });

  it("ends the silence when the server is heard from elsewhere (the listener's polls pass again)", () => {
    const { unanswered, changes } = servers();
    unanswered.heardFrom(SERVER);
    expect(changes).toEqual([]);
    unanswered.settled(SERVER, false, timeout);
    unanswered.heardFrom(SERVER);
    expect(changes.map((c) => c.answering)).toEqual([false, true]);
    expect(unanswered.admit(SERVER, "register_runner", TARGET)).toBe(false);
  });
});
