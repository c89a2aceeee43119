import { WorkQueue } from "../../../src/controller/queue.ts";

describe("work queue", () => {
  it("holds a key once however often it is added", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    q.add("ns/a");
    q.add("ns/b");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("ns/a");
    expect(await q.get()).toBe("ns/b");
  });

  it("never hands a key to two workers; added while processing, it comes back once after done", async () => {
    const q = new WorkQueue();
    q.add("k");
    const key = await q.get();
    q.add("k");
    q.add("k");
    expect(q.length).toBe(0);
    q.done(key!);
    expect(q.length).toBe(1);
  });

  it("backs off a failing key exponentially with a cap, and forgets on success", () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([1, 2, 3, 4, 5, 6].map(() => q.addRateLimited("k"))).toEqual([100, 200, 400, 800, 1000, 1000]);
    q.forget("k");
    expect(q.addRateLimited("k")).toBe(100);
    q.shutDown();
  });

  it("waits at least as long as asked (a Retry-After), up to the cap", () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect(q.addRateLimited("k", 500)).toBe(500);
    expect(q.addRateLimited("k", 50)).toBe(200);
    expect(q.addRateLimited("k", 60_000)).toBe(1000);
    q.shutDown();
  });

  it("adds after a delay, keeping the earlier of two delays", async () => {
    const q = new WorkQueue();
    q.addAfter("k", 30);
    q.addAfter("k", 5_000);
    const started = Date.now();
    expect(await q.get()).toBe("k");
    expect(Date.now() - started).toBeLessThan(1_000);
    q.shutDown();
  });

  it("wakes waiting workers with undefined on shut down", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
  });
});
