import type { V1PodSpec, V1ResourceQuota } from "@kubernetes/client-node";
import { countLimit, checkQuotas, quantity, type QuotaPods } from "../../../webhooks/quota.ts";
import type { Verdict } from "../../../webhooks/admission.ts";

function quota(name: string, hard: Record<string, string>, spec: Partial<NonNullable<V1ResourceQuota["spec"]>> = {}): V1ResourceQuota {
  return { metadata: { name }, spec: { hard, ...spec } };
}

function warnings(maxRunners: number | undefined, quotas: V1ResourceQuota[], pods?: QuotaPods): string[] {
  const verdict: Verdict = { denials: [], warnings: [] };
  checkQuotas(maxRunners, quotas, verdict, pods);
  expect(verdict.denials).toEqual([]);
  return verdict.warnings;
}

describe("spec.maxRunners against the namespace's count quotas", () => {
  it("reads a count quota's limit, a whole number however written, and nothing else", () => {
    expect(countLimit("10")).toBe(10);
    expect(countLimit(" 2k ")).toBe(2000);
    expect(countLimit("500m")).toBeUndefined();
    expect(countLimit("1Ki")).toBe(1024);
    expect(countLimit("many")).toBeUndefined();
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

describe("spec.maxRunners against the namespace's compute-resource quotas", () => {
  const container = (name: string, requests: Record<string, string>, limits: Record<string, string> = {}) => ({
    name,
    resources: { requests, limits },
  });
  const listener: V1PodSpec = { containers: [container("listener", { cpu: "10m", memory: "64Mi" }, { memory: "256Mi" })] };
  // A runner with a Docker sidecar (a native sidecar: it runs beside the runner) and a short init container.
  const runner: V1PodSpec = {
    initContainers: [
      { ...container("docker", { cpu: "500m", memory: "1Gi" }, { memory: "2Gi" }), restartPolicy: "Always" },
      container("setup", { cpu: "3" }),
    ],
    containers: [container("runner", { cpu: "1500m", memory: "512Mi" }, { memory: "1Gi" })],
  };
  const pods = { runner, listener };

  it("reads Kubernetes quantities", () => {
    expect([quantity("500m"), quantity("1.5Gi"), quantity("2"), quantity("2e3"), quantity("1k"), quantity("0.5")]).toEqual([
      0.5,
      1.5 * 2 ** 30,
      2,
      2000,
      1000,
      0.5,
    ]);
    expect(quantity("lots")).toBeUndefined();
  });

  it("warns when the runner pods the cap allows ask for more than a quota gives, counting the listener's pod and the pod as the quota does", () => {
    // A runner pod counts 3.5 cpu: its init container runs beside the sidecar (3 + 0.5), more than the runner and the sidecar (1.5 + 0.5).
    const found = warnings(5, [quota("team", { "requests.cpu": "8" })], pods);
    expect(found).toEqual([
      'spec.maxRunners lets 5 runners run at once, but ResourceQuota "team" allows requests.cpu 8 in this namespace and each runner pod takes 3500m cpu: ' +
        "2 fit after the listener's 10m cpu; the runners beyond that wait for room, and those that wait past spec.pickupTimeout fail; " +
        "set spec.maxRunners to at most 2, or raise the quota",
    ]);
    expect(warnings(2, [quota("team", { "requests.cpu": "8" })], pods)).toEqual([]);
    // Memory: limits of 3Gi a pod; plain "memory" is the requests' (1.5Gi a pod).
    expect(warnings(3, [quota("mem", { "limits.memory": "8Gi" })], pods)[0]).toContain(
      "allows limits.memory 8Gi in this namespace and each runner pod takes 3072Mi of memory: 2 fit after the listener's 256Mi of memory",
    );
    expect(warnings(5, [quota("mem", { memory: "8Gi" })], pods)).toEqual([]);
    expect(warnings(undefined, [quota("mem", { memory: "8Gi" })], pods)[0]).toMatch(
      /^spec.maxRunners is not set, so runners are not capped, .* 5 fit/,
    );
  });

  it("passes over resources the runner pod sets nothing for (a LimitRange may), and says to raise a quota with no room", () => {
    expect(warnings(5, [quota("gpu", { "requests.nvidia.com/gpu": "1", "limits.ephemeral-storage": "1Gi" })], pods)).toEqual([]);
    expect(warnings(1, [quota("small", { "requests.cpu": "1" })], pods)[0]).toMatch(/: 0 fit after .*; raise the quota$/);
  });
});
