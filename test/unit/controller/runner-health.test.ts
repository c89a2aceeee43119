import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { FAILURES_IN_A_ROW, NOT_RUNNER_FAILURES, runnersHealthy } from "../../../src/controller/runner-health.ts";
import type { ActRunner } from "../../../src/generated/api.ts";
import { ar } from "../../fixtures/resources.ts";

/** An ActRunner that ended at minute `minute` with this phase and reason (unfinished without a minute). */
function ended(name: string, phase: "Succeeded" | "Failed" | "Running", reason: string, minute?: number): ActRunner {
  const completedAt = minute === undefined ? undefined : new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();
  return ar({ metadata: { name }, status: { phase, reason, message: `${name} ${reason}`, completedAt } });
}

describe("RunnersHealthy", () => {
  it("says nothing until a runner ended on its own account, so the condition stays as it was", () => {
    expect(runnersHealthy([])).toBeUndefined();
    expect(runnersHealthy([ended("a", "Running", "PodRunning"), ended("b", "Failed", "JobVanished", 1)])).toBeUndefined();
  });

  it("is False with the last runner's reason when the latest three failed in a row, naming it and quoting why", () => {
    const condition = runnersHealthy([
      ended("ok", "Succeeded", "Completed", 1),
      ended("f1", "Failed", "RunnerFailed", 2),
      ended("f2", "Failed", "OOMKilled", 3),
      ended("f3", "Failed", "OOMKilled", 5),
      ended("still-running", "Running", "PodRunning"),
    ]);
    expect(condition).toEqual({
      type: "RunnersHealthy",
      status: "False",
      reason: "OOMKilled",
      message: "Its latest 3 runners failed; the last, ActRunner f3, OOMKilled: f3 OOMKilled",
    });
  });

  it("is True once one of the latest three succeeded, or while fewer than three ended", () => {
    const failedTwice = [ended("f1", "Failed", "RunnerFailed", 2), ended("f2", "Failed", "PickupTimeout", 3)];
    expect(runnersHealthy(failedTwice)?.status).toBe("True");
    expect(runnersHealthy([...failedTwice, ended("f0", "Failed", "Evicted", 1)])?.status).toBe("False");
    expect(runnersHealthy([...failedTwice, ended("f0", "Failed", "Evicted", 1), ended("ok", "Succeeded", "Completed", 4)])).toEqual({
      type: "RunnersHealthy",
      status: "True",
      reason: "NotFailing",
      message: `Fewer than ${FAILURES_IN_A_ROW} of its latest runners failed in a row`,
    });
  });

  it("does not count ends that are no fault of the runners: a cancelled job, a deleted Job or Secret, a duplicate", () => {
    const failures = [1, 2, 3].map((m) => ended(`f${m}`, "Failed", "RunnerFailed", m));
    const outside = [...NOT_RUNNER_FAILURES].map((reason, i) => ended(`o${i}`, "Failed", reason, 10 + i));
    expect(runnersHealthy([...failures, ...outside])).toMatchObject({ status: "False", message: expect.stringContaining("ActRunner f3") });
    expect(runnersHealthy([...failures.slice(1), ...outside])?.status).toBe("True");
  });

  it("cuts a long failure message", () => {
    const long = ar({ metadata: { name: "f" }, status: { phase: "Failed", reason: "RunnerFailed", message: "x".repeat(2000) } });
    const all = [1, 2, 3].map((m) => ({
      ...long,
      status: { ...long.status!, completedAt: new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString() },
    }));
    const message = runnersHealthy(all)!.message;
    expect(message.length).toBeLessThan(500);
    expect(message.endsWith("…")).toBe(true);
  });

  it("leaves out the same ends as the ForgejoArcRunnersFailing alert", () => {
    const rules = readFileSync(resolve(import.meta.dirname, "../../../chart/forgejo-arc/files/prometheus-rules.yaml"), "utf8");
    const excluded = [...rules.matchAll(/reason!~"([^"]+)"/g)].map((m) => m[1]!.split("|").sort());
    expect(excluded.length).toBeGreaterThan(0);
    for (const reasons of excluded) expect(reasons).toEqual([...NOT_RUNNER_FAILURES].sort());
  });
});
