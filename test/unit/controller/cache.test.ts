import { matchesLabels } from "../../../src/controller/cache.ts";

describe("matchesLabels", () => {
  const pod = { "app.kubernetes.io/component": "listener", "forgejo.actions.io/runner-deployment": "a-very-long-name-3f9c2a" };

  it("selects an object carrying every label of the selector", () => {
    expect(matchesLabels({ "app.kubernetes.io/component": "listener" }, pod)).toBe(true);
    expect(matchesLabels(pod, pod)).toBe(true);
  });

  it("does not select an object missing a label or carrying another value", () => {
    expect(matchesLabels({ ...pod, extra: "x" }, pod)).toBe(false);
    expect(matchesLabels({ "app.kubernetes.io/component": "runner" }, pod)).toBe(false);
    expect(matchesLabels({ "app.kubernetes.io/component": "listener" }, undefined)).toBe(false);
  });

  it("selects nothing with an empty or missing selector", () => {
    expect(matchesLabels({}, pod)).toBe(false);
    expect(matchesLabels(undefined, pod)).toBe(false);
  });
});
