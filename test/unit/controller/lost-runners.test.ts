import { jest } from "@jest/globals";
import { LostRunners } from "../../../src/controller/lost-runners.ts";

const GRACE_MS = 120_000;

function forgejoSays(registered: boolean) {
  return jest.fn(async () => registered);
}

describe("LostRunners", () => {
  it("says nothing of an ActRunner whose job is not reported ended, and asks Forgejo nothing", async () => {
    const lost = new LostRunners(GRACE_MS);
    const ask = forgejoSays(false);
    expect(await lost.check("a", false, 0, ask)).toEqual({ lost: false });
    expect(await lost.check("a", false, 10 * GRACE_MS, ask)).toEqual({ lost: false });
    expect(ask).not.toHaveBeenCalled();
  });

  it("waits out the grace from when the report was first seen before it asks Forgejo", async () => {
    const lost = new LostRunners(GRACE_MS);
    const ask = forgejoSays(false);
    expect(await lost.check("a", true, 1_000, ask)).toEqual({ lost: false, lookAgainInMs: GRACE_MS + 100 });
    expect(await lost.check("a", true, 61_000, ask)).toEqual({ lost: false, lookAgainInMs: GRACE_MS - 60_000 + 100 });
    expect(ask).not.toHaveBeenCalled();
    expect(await lost.check("a", true, 1_000 + GRACE_MS, ask)).toEqual({ lost: true });
    expect(ask).toHaveBeenCalledTimes(1);
  });

  it("starts the clock again while Forgejo still has the runner (its job has not ended for it yet)", async () => {
    const lost = new LostRunners(GRACE_MS);
    const registered = forgejoSays(true);
    await lost.check("a", true, 0, registered);
    expect(await lost.check("a", true, GRACE_MS + 5_000, registered)).toEqual({ lost: false, lookAgainInMs: GRACE_MS });
    // Gone a moment later: still not lost before a whole grace from that answer.
    const gone = forgejoSays(false);
    expect(await lost.check("a", true, GRACE_MS + 6_000, gone)).toEqual({ lost: false, lookAgainInMs: GRACE_MS - 1_000 + 100 });
    expect(gone).not.toHaveBeenCalled();
    expect(await lost.check("a", true, 2 * GRACE_MS + 5_000, gone)).toEqual({ lost: true });
  });

  it("starts over when the report goes away (a re-run listed again) or the ActRunner is forgotten", async () => {
    const lost = new LostRunners(GRACE_MS);
    const ask = forgejoSays(false);
    await lost.check("a", true, 0, ask);
    await lost.check("a", false, 1_000, ask);
    expect(await lost.check("a", true, GRACE_MS, ask)).toEqual({ lost: false, lookAgainInMs: GRACE_MS + 100 });
    lost.forget("a");
    expect(await lost.check("a", true, 2 * GRACE_MS, ask)).toEqual({ lost: false, lookAgainInMs: GRACE_MS + 100 });
    expect(ask).not.toHaveBeenCalled();
  });

  it("keeps each ActRunner's clock apart", async () => {
    const lost = new LostRunners(GRACE_MS);
    const ask = forgejoSays(false);
    await lost.check("a", true, 0, ask);
    expect(await lost.check("b", true, GRACE_MS, ask)).toEqual({ lost: false, lookAgainInMs: GRACE_MS + 100 });
    expect(await lost.check("a", true, GRACE_MS, ask)).toEqual({ lost: true });
  });
});
