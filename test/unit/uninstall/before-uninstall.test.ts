import { nextStep, parseBeforeUninstallConfig, timedOutMessage, type Leftovers } from "../../../src/uninstall/before-uninstall.ts";

const nothing: Leftovers = { runnerDeployments: [], deletingRunnerDeployments: [], listenerPods: [], actRunners: [] };

describe("before-uninstall flags", () => {
  test("the policy is required and checked; the timeout defaults to 4m", () => {
    expect(parseBeforeUninstallConfig(["--runner-deployments", "delete"])).toEqual({
      runnerDeployments: "delete",
      timeoutMs: 240_000,
      pollIntervalMs: 2_000,
    });
    expect(parseBeforeUninstallConfig(["--runner-deployments=refuse", "--timeout=90s"]).timeoutMs).toBe(90_000);
    expect(() => parseBeforeUninstallConfig([])).toThrow('--runner-deployments: must be refuse or delete, got ""');
    expect(() => parseBeforeUninstallConfig(["--runner-deployments", "keep"])).toThrow('got "keep"');
    expect(() => parseBeforeUninstallConfig(["--runner-deployments", "refuse", "--timeout", "soon"])).toThrow(
      '--timeout: must be a positive duration such as "4m", got "soon"',
    );
    expect(() => parseBeforeUninstallConfig(["--runner-deployments", "refuse", "--timeout", "0s"])).toThrow("--timeout");
  });
});

describe("nextStep", () => {
  test("nothing left: the uninstall goes on, whatever the policy", () => {
    expect(nextStep("refuse", nothing)).toEqual({ kind: "done" });
    expect(nextStep("delete", nothing)).toEqual({ kind: "done" });
  });

  test("refuse names the RunnerDeployments (five at most) and says how to go on", () => {
    const names = ["a/1", "a/2", "b/3", "b/4", "c/5", "c/6", "c/7"];
    const step = nextStep("refuse", { ...nothing, runnerDeployments: names });
    expect(step.kind).toBe("refuse");
    const message = (step as { message: string }).message;
    expect(message).toContain("7 RunnerDeployment(s) still exist: a/1, a/2, b/3, b/4, c/5 and 2 more.");
    expect(message).toContain("kubectl delete runnerdeployments --all --all-namespaces");
    expect(message).toContain("uninstall.runnerDeployments=delete");
    expect(message).toContain("--no-hooks");
  });

  test("delete deletes the RunnerDeployments not yet being deleted", () => {
    expect(nextStep("delete", { ...nothing, runnerDeployments: ["a/1"], deletingRunnerDeployments: ["a/2"] })).toEqual({
      kind: "delete",
      runnerDeployments: ["a/1"],
    });
  });

  test("RunnerDeployments being deleted, listener pods and ActRunners are waited for, under both policies", () => {
    const left = {
      ...nothing,
      deletingRunnerDeployments: ["a/rd"],
      listenerPods: ["a/rd-listener-x"],
      actRunners: ["a/rd-1-1", "a/rd-2-1"],
    };
    for (const policy of ["refuse", "delete"] as const) {
      expect(nextStep(policy, left)).toEqual({
        kind: "wait",
        waitingFor:
          "1 RunnerDeployment(s) being deleted: a/rd; 1 listener pod(s): a/rd-listener-x; " +
          "2 ActRunner(s) (their finalizer deletes the Forgejo runner): a/rd-1-1, a/rd-2-1",
      });
    }
    expect(nextStep("refuse", { ...nothing, actRunners: ["b/x-1-1"] })).toMatchObject({ kind: "wait" });
  });

  test("a timeout says what it waited for, or that RunnerDeployments keep coming back", () => {
    expect(timedOutMessage({ kind: "wait", waitingFor: "1 listener pod(s): a/p" }, 240_000)).toMatch(
      /^Still waiting after 4m for 1 listener pod\(s\): a\/p\. .*RunnerCleanupAbandoned/,
    );
    expect(timedOutMessage({ kind: "delete", runnerDeployments: ["a/rd"] }, 240_000)).toContain(
      "RunnerDeployments still exist after 4m of deleting them: a/rd. Something creates them again",
    );
  });
});
