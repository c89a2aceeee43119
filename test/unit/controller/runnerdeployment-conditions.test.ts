import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { runnerDeploymentConditions } from "../../../src/controller/runnerdeployment.ts";
import { rd } from "../../fixtures/resources.ts";

const available = { status: { availableReplicas: 1 } } as V1Deployment;
const byType = (list: ReturnType<typeof runnerDeploymentConditions>) => Object.fromEntries(list.map((c) => [c.type, c]));

describe("RunnerDeployment conditions", () => {
  it("is Ready when the token is accepted, Forgejo answers and the listener is available", () => {
    const c = byType(
      runnerDeploymentConditions(
        rd({ status: { lastPollTime: "2026-01-01T00:00:00Z", forgejoVersion: "15.0.1" } }),
        { ok: true },
        available,
        undefined,
      ),
    );
    expect(c.Ready).toMatchObject({ status: "True" });
    expect(c.TokenValid).toMatchObject({ status: "True", reason: "Accepted" });
    expect(c.ForgejoReachable).toMatchObject({ status: "True", reason: "Polled" });
  });

  it.each([
    ["the Secret is missing", { ok: false as const, reason: "SecretNotFound" as const, message: "m" }, {}, "TokenValid", "SecretNotFound"],
    ["the key is missing", { ok: false as const, reason: "KeyNotFound" as const, message: "m" }, {}, "TokenValid", "KeyNotFound"],
    [
      "Forgejo answered 401",
      { ok: true as const },
      { lastPollError: { kind: "unauthorized", message: "401", time: "t" } },
      "TokenValid",
      "Unauthorized",
    ],
    [
      "Forgejo answered 403",
      { ok: true as const },
      { lastPollError: { kind: "forbidden", message: "needs read:organization", time: "t" } },
      "TokenValid",
      "Forbidden",
    ],
    [
      "Forgejo is unreachable",
      { ok: true as const },
      { lastPollError: { kind: "unreachable", message: "ECONNREFUSED", time: "t" } },
      "ForgejoReachable",
      "Unreachable",
    ],
    [
      "Forgejo limits the rate of requests (429)",
      { ok: true as const },
      { lastPollError: { kind: "rate_limited", message: "answered 429", time: "t" } },
      "ForgejoReachable",
      "RateLimited",
    ],
    [
      "Forgejo is too old",
      { ok: true as const },
      { lastPollError: { kind: "unsupported", message: "too old", time: "t" } },
      "ForgejoReachable",
      "UnsupportedVersion",
    ],
  ])("is not Ready when %s", (_title, token, status, type, reason) => {
    const c = byType(runnerDeploymentConditions(rd({ status: { lastPollTime: "t", ...status } as never }), token, available, undefined));
    expect(c[type]).toMatchObject({ status: "False", reason });
    expect(c.Ready).toMatchObject({ status: "False", reason });
  });

  it("names the listener pod's waiting reason when it is not available", () => {
    const pod = {
      metadata: { name: "l-1" },
      status: {
        containerStatuses: [
          { name: "listener", state: { waiting: { reason: "CreateContainerConfigError", message: 'secret "t" not found' } } },
        ],
      },
    } as V1Pod;
    const c = byType(runnerDeploymentConditions(rd(), { ok: true }, { status: {} } as V1Deployment, pod));
    expect(c.ListenerAvailable).toMatchObject({
      status: "False",
      reason: "CreateContainerConfigError",
      message: 'Listener pod l-1: CreateContainerConfigError: secret "t" not found',
    });
  });
});
