import type { V1ResourceQuota } from "@kubernetes/client-node";
import { countLimit, checkQuotas } from "../../../webhooks/quota.ts";
import type { Verdict } from "../../../webhooks/admission.ts";

function quota(name: string, hard: Record<string, string>, spec: Partial<NonNullable<V1ResourceQuota["spec"]>> = {}): V1ResourceQuota {
  return { metadata: { name }, spec: { hard, ...spec } };
}

function warnings(maxRunners: number | undefined, quotas: V1ResourceQuota[]): string[] {
  const verdict: Verdict = { denials: [], warnings: [] };
  checkQuotas(maxRunners, quotas, verdict);
  expect(verdict.denials).toEqual([]);
  return verdict.warnings;
}

describe("spec.maxRunners against the namespace's count quotas", () => {
  it("reads a count quota's limit, plain or with a decimal suffix, and nothing else", () => {
    expect(countLimit("10")).toBe(10);
    expect(countLimit(" 2k ")).toBe(2000);
    expect(countLimit("500m")).toBeUndefined();
    expect(countLimit("1Ki")).toBeUndefined();
  });

  it("warns when the cap lets more runners run than a quota on pods allows, counting the listener's pod", () => {
    expect(warnings(10, [quota("team", { pods: "10", "requests.cpu": "20" })])).toEqual([
      'spec.maxRunners lets 10 runners run at once, but ResourceQuota "team" allows 10 pods in this namespace, one of them the listener\'s, one for each runner: the runners beyond that wait for room; set spec.maxRunners to at most 9',
    ]);
    expect(warnings(9, [quota("team", { pods: "10" })])).toEqual([]);
  });

  it("warns about Jobs, Secrets and ActRunners, whose finished ones count too, and about no cap at all", () => {
    expect(warnings(undefined, [quota("counts", { "count/jobs.batch": "5" })])).toEqual([
      'spec.maxRunners is not set, so runners are not capped, but ResourceQuota "counts" allows 5 Jobs in this namespace (finished ones count until spec.retentionAfterFinish has passed), one for each runner: the runners beyond that wait for room; set spec.maxRunners to at most 5',
    ]);
    const many = warnings(6, [
      quota("counts", { "count/secrets": "5", "count/actrunners.forgejo.actions.io": "4", "count/deployments.apps": "1" }),
    ]);
    expect(many).toHaveLength(2);
    expect(many[0]).toContain("allows 5 Secrets in this namespace (finished ones count");
    expect(many[1]).toContain("allows 4 ActRunners in this namespace");
    expect(warnings(4, [quota("counts", { "count/actrunners.forgejo.actions.io": "4" })])).toEqual([]);
  });

  it("says to raise a quota that leaves no room for a runner", () => {
    expect(warnings(1, [quota("tiny", { "count/pods": "1" })])[0]).toMatch(
      /allows 1 pods in this namespace, one of them the listener's, .*; raise the quota$/,
    );
  });

  it("leaves out quotas limited to some pods, which may not count the runners'", () => {
    expect(warnings(10, [quota("best-effort", { pods: "2" }, { scopes: ["BestEffort"] })])).toEqual([]);
    const selector = { matchExpressions: [{ scopeName: "PriorityClass", operator: "In", values: ["high"] }] };
    expect(warnings(10, [quota("high", { pods: "2" }, { scopeSelector: selector })])).toEqual([]);
  });
});
