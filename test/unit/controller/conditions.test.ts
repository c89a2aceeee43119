import { setCondition, transitions } from "../../../src/controller/conditions.ts";

describe("conditions", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const t1 = new Date("2026-01-01T00:05:00Z");

  it("keeps lastTransitionTime while the status stays, and records observedGeneration", () => {
    const first = setCondition([], { type: "Ready", status: "True", reason: "Ready", message: "a" }, 1, t0);
    const same = setCondition(first, { type: "Ready", status: "True", reason: "Ready", message: "b" }, 2, t1);
    expect(same).toEqual([
      { type: "Ready", status: "True", reason: "Ready", message: "b", lastTransitionTime: t0.toISOString(), observedGeneration: 2 },
    ]);
    const flipped = setCondition(same, { type: "Ready", status: "False", reason: "X", message: "c" }, 2, t1);
    expect(flipped[0]!.lastTransitionTime).toBe(t1.toISOString());
  });

  it("lists transitions, new conditions included", () => {
    const before = setCondition([], { type: "A", status: "True", reason: "r", message: "" }, 1, t0);
    let after = setCondition(before, { type: "A", status: "False", reason: "r", message: "" }, 1, t1);
    after = setCondition(after, { type: "B", status: "True", reason: "r", message: "" }, 1, t1);
    expect(transitions(before, after).map((c) => c.type)).toEqual(["A", "B"]);
    expect(transitions(after, after)).toEqual([]);
  });
});
