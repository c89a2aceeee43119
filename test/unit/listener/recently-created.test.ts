import { RECENTLY_CREATED_TTL_MS, RecentlyCreated } from "../../../src/listener/recently-created.ts";

describe("the listener's recently created ActRunners", () => {
  it("lists a name from before its create is answered until the cache shows it, whichever comes first", () => {
    const recent = new RecentlyCreated();
    recent.creating("rd-1-1", 0);
    expect(recent.names(10)).toEqual(["rd-1-1"]);
    // The watch delivered the new ActRunner before the create's answer: nothing is left behind.
    recent.forget("rd-1-1");
    expect(recent.names(20)).toEqual([]);
  });

  it("drops a name after the TTL, so an ActRunner deleted before the cache saw it does not count for ever", () => {
    const recent = new RecentlyCreated();
    recent.creating("rd-1-1", 0);
    recent.creating("rd-2-1", 30_000);
    expect(recent.names(RECENTLY_CREATED_TTL_MS - 1)).toEqual(["rd-1-1", "rd-2-1"]);
    expect(recent.names(RECENTLY_CREATED_TTL_MS)).toEqual(["rd-2-1"]);
    expect(recent.names(30_000 + RECENTLY_CREATED_TTL_MS)).toEqual([]);
  });
});
