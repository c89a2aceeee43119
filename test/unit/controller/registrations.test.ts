import { jest } from "@jest/globals";
import { ForgejoError } from "../../../src/forgejo/errors.ts";
import type { ForgejoRunner } from "../../../src/forgejo/types.ts";
import { Registrations } from "../../../src/controller/registrations.ts";

const runner = (id: number, name: string): ForgejoRunner =>
  ({ id, uuid: `u${id}`, name, status: "offline", ephemeral: true }) as ForgejoRunner;

function countingList(runners: ForgejoRunner[]) {
  const list = jest.fn(async () => runners);
  return list;
}

describe("Registrations", () => {
  it("makes every ActRunner unrecorded at the start of a term a suspect, and no other", () => {
    const registrations = new Registrations();
    registrations.beginTerm(["a", "b"]);
    expect(registrations.isSuspect("a")).toBe(true);
    expect(registrations.isSuspect("b")).toBe(true);
    expect(registrations.isSuspect("c")).toBe(false);
  });

  it("lists a scope once for all the suspects of a term", async () => {
    const registrations = new Registrations();
    registrations.beginTerm(["a", "b", "c"]);
    const list = countingList([runner(1, "k8s-ns-a")]);
    await Promise.all(["a", "b", "c"].map((uid) => registrations.runnersFor(uid, "scope", list)));
    expect(list).toHaveBeenCalledTimes(1);
    await registrations.runnersFor("a", "other-scope", list);
    expect(list).toHaveBeenCalledTimes(2);
  });

  it("lists again for a suspect made after the last listing", async () => {
    const registrations = new Registrations();
    registrations.beginTerm(["a"]);
    const list = countingList([]);
    await registrations.runnersFor("a", "scope", list);
    registrations.registrationFailed("late", new ForgejoError("timeout", "register_runner", "timed out"));
    await registrations.runnersFor("late", "scope", list);
    expect(list).toHaveBeenCalledTimes(2);
  });

  it("does not keep a failed listing", async () => {
    const registrations = new Registrations();
    registrations.beginTerm(["a"]);
    const failing = jest.fn(async (): Promise<ForgejoRunner[]> => {
      throw new ForgejoError("unreachable", "list_runners", "down");
    });
    await expect(registrations.runnersFor("a", "scope", failing)).rejects.toThrow("down");
    const list = countingList([runner(2, "k8s-ns-a")]);
    await expect(registrations.runnersFor("a", "scope", list)).resolves.toEqual([runner(2, "k8s-ns-a")]);
  });

  it("suspects a registration only when Forgejo may have made the runner", () => {
    const registrations = new Registrations();
    registrations.beginTerm([]);
    const refusals = ["unauthorized", "forbidden", "not_found", "rate_limited", "rejected"] as const;
    for (const kind of refusals) registrations.registrationFailed(kind, new ForgejoError(kind, "register_runner", kind, 400));
    for (const kind of ["unreachable", "timeout", "server_error", "malformed"] as const)
      registrations.registrationFailed(kind, new ForgejoError(kind, "register_runner", kind));
    expect(refusals.filter((uid) => registrations.isSuspect(uid))).toEqual([]);
    expect(["unreachable", "timeout", "server_error", "malformed"].filter((uid) => registrations.isSuspect(uid))).toHaveLength(4);
  });

  it("keeps credentials until the status names the runner, and forgets with a new term", () => {
    const registrations = new Registrations();
    registrations.beginTerm([]);
    registrations.registered("a", { id: 1, uuid: "u", token: "t" });
    expect(registrations.unrecordedFor("a")).toEqual({ credentials: { id: 1, uuid: "u", token: "t" }, stored: false });
    registrations.registered("a", { id: 1, uuid: "u", token: "t" }, true);
    expect(registrations.unrecordedFor("a")?.stored).toBe(true);
    registrations.forget("a");
    expect(registrations.unrecordedFor("a")).toBeUndefined();
    registrations.registered("b", { id: 2, uuid: "u", token: "t" });
    registrations.beginTerm(["b"]);
    expect(registrations.unrecordedFor("b")).toBeUndefined();
    expect(registrations.isSuspect("b")).toBe(true);
    registrations.cleared("b");
    expect(registrations.isSuspect("b")).toBe(false);
  });
});
