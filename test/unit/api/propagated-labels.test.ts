import { DEFAULT_LABEL_PROPAGATION_EXCLUDE, propagatedLabels } from "../../../src/api/propagated-labels.ts";

describe("labels passed on from a RunnerDeployment", () => {
  const labels = {
    team: "platform",
    "example.com/cost-center": "ci",
    "app.kubernetes.io/instance": "runners",
    "argocd.argoproj.io/instance": "runners",
    "kustomize.toolkit.fluxcd.io/name": "ci",
    "helm.toolkit.fluxcd.io/namespace": "flux-system",
    "kapp.k14s.io/app": "1700000000",
    "objectset.rio.cattle.io/hash": "abc",
    "forgejo.actions.io/runner-deployment": "other",
  };

  it("passes on every label but GitOps tools' tracking labels and the operator's own, by default", () => {
    expect(propagatedLabels(labels, DEFAULT_LABEL_PROPAGATION_EXCLUDE)).toEqual({ team: "platform", "example.com/cost-center": "ci" });
  });

  it("leaves out the operator's own keys even with nothing excluded", () => {
    const { "forgejo.actions.io/runner-deployment": own, ...others } = labels;
    expect(own).toBeDefined();
    expect(propagatedLabels(labels, [])).toEqual(others);
  });

  it("leaves out a key that starts with a given prefix, whole key or group", () => {
    expect(propagatedLabels(labels, ["team", "example.com/"])).not.toHaveProperty("team");
    expect(propagatedLabels(labels, ["team", "example.com/"])).not.toHaveProperty("example.com/cost-center");
    expect(propagatedLabels(undefined, [])).toEqual({});
  });
});
