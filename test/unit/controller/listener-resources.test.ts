import { matchesLabels } from "../../../src/controller/cache.ts";
import { CONFIG_HASH_ANNOTATION, SPEC_GENERATION_ANNOTATION, listenerResources } from "../../../src/controller/listener-resources.ts";
import { listenerRoleRules } from "../../../src/listener/rbac.ts";
import { rd } from "../../fixtures/resources.ts";

const OPTIONS = { image: "forgejo-arc:1", labelPropagationExclude: [] };
const owner = rd({ metadata: { uid: "uid-rd", generation: 1 } });

describe("listener resources", () => {
  const resources = listenerResources(owner, OPTIONS);

  it("binds exactly the listener Role to the listener's own ServiceAccount", () => {
    expect(resources.role.rules).toEqual(listenerRoleRules("builders"));
    expect(resources.roleBinding.subjects).toEqual([{ kind: "ServiceAccount", name: "builders-listener", namespace: "ci" }]);
    expect(resources.deployment.spec!.template.spec!.serviceAccountName).toBe("builders-listener");
  });

  it("owns everything by the RunnerDeployment, so deletion cascades", () => {
    for (const object of Object.values(resources)) {
      expect(object.metadata!.ownerReferences).toEqual([
        {
          apiVersion: "forgejo.actions.io/v1alpha1",
          kind: "RunnerDeployment",
          name: "builders",
          uid: "uid-rd",
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  it("labels its objects with the RunnerDeployment's labels but excluded prefixes; not the pod, and a relabel rolls nothing", () => {
    const labelled = (labels: Record<string, string>) =>
      listenerResources(rd({ metadata: { uid: "uid-rd", labels } }), { ...OPTIONS, labelPropagationExclude: ["argocd.argoproj.io/"] });
    const built = labelled({ team: "platform", "argocd.argoproj.io/instance": "runners", "app.kubernetes.io/component": "mine" });
    for (const object of Object.values(built)) {
      expect(object.metadata!.labels).toEqual({
        team: "platform",
        "app.kubernetes.io/name": "forgejo-arc",
        "app.kubernetes.io/component": "listener",
        "app.kubernetes.io/managed-by": "forgejo-arc",
        "forgejo.actions.io/runner-deployment": "builders",
      });
    }
    expect(built.deployment.spec!.template.metadata!.labels).not.toHaveProperty("team");
    expect(built.deployment.spec!.template).toEqual(labelled({ team: "other" }).deployment.spec!.template);
    expect(built.deployment.spec!.template.spec!.containers[0]!.args).toContain("--label-propagation-exclude=argocd.argoproj.io/");
  });

  it("keeps the labels its Deployment selects the pod by over a template's, and adds the template's others", () => {
    const built = listenerResources(
      rd({
        metadata: { uid: "u" },
        spec: { listenerTemplate: { metadata: { labels: { "app.kubernetes.io/component": "mine", team: "a" } } } },
      }),
      OPTIONS,
    ).deployment.spec!;
    expect(built.template.metadata!.labels).toMatchObject({ "app.kubernetes.io/component": "listener", team: "a" });
    expect(matchesLabels(built.selector.matchLabels, built.template.metadata!.labels)).toBe(true);
  });

  it("runs one listener replica, Recreate, with probes, resources and a restricted security context", () => {
    const spec = resources.deployment.spec!;
    expect(spec).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
    const container = spec.template.spec!.containers[0]!;
    expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(container.resources?.requests).toBeDefined();
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(spec.template.spec!.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
  });

  it.each([
    [{ organization: "acme" }, "--organization=acme"],
    [{ organization: undefined, repository: "acme/app" }, "--repository=acme/app"],
    [{ organization: undefined, user: true as const }, "--user=true"],
    [{ organization: undefined, instance: true as const }, "--instance=true"],
  ])("gives the listener the scope %j as %s", (scope, flag) => {
    const args = listenerResources(rd({ spec: scope }), OPTIONS).deployment.spec!.template.spec!.containers[0]!.args!;
    expect(args.filter((arg) => /^--(organization|repository|user|instance)=/.test(arg))).toEqual([flag]);
  });

  it("moves the listener off a failed node after 30 s, not the default 300 s; a listenerTemplate's tolerations add to these, or replace one of the same key and effect", () => {
    const notReady = { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 };
    const unreachable = { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 };
    expect(resources.deployment.spec!.template.spec!.tolerations).toEqual([notReady, unreachable]);
    const dedicated = { key: "system", operator: "Exists", effect: "NoSchedule" };
    const patient = { ...unreachable, tolerationSeconds: 120 };
    const custom = listenerResources(rd({ spec: { listenerTemplate: { spec: { tolerations: [dedicated, patient] } } } }), OPTIONS);
    expect(custom.deployment.spec!.template.spec!.tolerations).toEqual([notReady, patient, dedicated]);
  });

  it("passes the token only through a secretKeyRef", () => {
    const env = resources.deployment.spec!.template.spec!.containers[0]!.env!;
    expect(env.find((e) => e.name === "FORGEJO_TOKEN")).toEqual({
      name: "FORGEJO_TOKEN",
      valueFrom: { secretKeyRef: { name: "forgejo-token", key: "token" } },
    });
    expect(env.every((e) => e.name !== "FORGEJO_TOKEN" || e.value === undefined)).toBe(true);
  });

  it("rolls the listener when the spec changes, not otherwise", () => {
    const hash = (r: ReturnType<typeof rd>) =>
      listenerResources(r, OPTIONS).deployment.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    expect(hash(owner)).toBe(hash(rd({ metadata: { uid: "uid-rd", generation: 1 } })));
    expect(hash(owner)).not.toBe(hash(rd({ metadata: { uid: "uid-rd" }, spec: { pollInterval: "30s" } })));
    expect(hash(owner)).not.toBe(
      hash(rd({ metadata: { uid: "uid-rd" }, spec: { listenerTemplate: { metadata: { labels: { a: "b" } } } } })),
    );
  });

  it("records on the Deployment, outside its pod, the RunnerDeployment generation it was built for", () => {
    const built = (generation?: number) => listenerResources(rd({ metadata: { uid: "uid-rd", generation } }), OPTIONS).deployment;
    expect(built(7).metadata!.annotations![SPEC_GENERATION_ANNOTATION]).toBe("7");
    expect(built(undefined).metadata!.annotations).not.toHaveProperty(SPEC_GENERATION_ANNOTATION);
    expect(built(7).spec!.template).toEqual(built(8).spec!.template);
  });

  it("rolls the listener when the token in its Secret changes, as its env holds the token of when its pod started", () => {
    const hash = (tokenDigest?: string) =>
      listenerResources(owner, OPTIONS, tokenDigest).deployment.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    expect(hash("digest-a")).toBe(hash("digest-a"));
    expect(hash("digest-a")).not.toBe(hash("digest-b"));
    expect(hash("digest-a")).not.toBe(hash(undefined));
  });

  it("merges the listenerTemplate onto the default pod", () => {
    const custom = listenerResources(
      rd({
        metadata: { uid: "u" },
        spec: {
          listenerTemplate: {
            spec: { nodeSelector: { pool: "sys" }, containers: [{ name: "listener", resources: { limits: { memory: "128Mi" } } }] },
          },
        },
      }),
      OPTIONS,
    );
    const pod = custom.deployment.spec!.template.spec!;
    expect(pod.nodeSelector).toEqual({ pool: "sys" });
    expect(pod.containers[0]!.resources).toEqual({ limits: { memory: "128Mi" } });
    expect(pod.containers[0]!.args?.[0]).toBe("listener");
  });

  it("merges the controller's pod template under the listenerTemplate, and rolls the listener when it changes", () => {
    const clusterDefaults = {
      metadata: { annotations: { "example.com/owner": "platform" } },
      spec: { nodeSelector: { pool: "system" }, priorityClassName: "system-listeners" },
    };
    const build = (podTemplate?: object, listenerTemplate?: object) =>
      listenerResources(rd({ metadata: { uid: "u" }, spec: { listenerTemplate } }), { ...OPTIONS, podTemplate }).deployment.spec!.template;
    const pod = build(clusterDefaults, { spec: { nodeSelector: { pool: "edge" } } });
    expect(pod.spec!.nodeSelector).toEqual({ pool: "edge" });
    expect(pod.spec!.priorityClassName).toBe("system-listeners");
    expect(pod.metadata!.annotations).toMatchObject({ "example.com/owner": "platform" });
    expect(pod.spec!.tolerations?.map((t) => t.key)).toEqual(["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]);
    expect(build(clusterDefaults).spec!.nodeSelector).toEqual({ pool: "system" });
    const hash = (template: ReturnType<typeof build>) => template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    expect(hash(build(clusterDefaults))).not.toBe(hash(build()));
    expect(hash(build(clusterDefaults))).toBe(hash(build(structuredClone(clusterDefaults))));
  });

  it("gives the listener pod the controller's image pull Secrets, and a listenerTemplate's beside them", () => {
    const pullSecrets = (listenerTemplate?: object) =>
      listenerResources(rd({ metadata: { uid: "u" }, spec: { listenerTemplate } }), { ...OPTIONS, imagePullSecrets: ["regcred"] })
        .deployment.spec!.template.spec!.imagePullSecrets;
    expect(pullSecrets()).toEqual([{ name: "regcred" }]);
    expect(pullSecrets({ spec: { imagePullSecrets: [{ name: "team-mirror" }] } })).toEqual([{ name: "regcred" }, { name: "team-mirror" }]);
    expect(resources.deployment.spec!.template.spec!).not.toHaveProperty("imagePullSecrets");
  });

  it("logs at info unless the listenerTemplate sets LOG_LEVEL (docs/install.md#troubleshooting)", () => {
    const env = (listenerTemplate?: object) =>
      listenerResources(
        rd({ metadata: { uid: "u" }, spec: { listenerTemplate } }),
        OPTIONS,
      ).deployment.spec!.template.spec!.containers[0]!.env!.filter((e) => e.name === "LOG_LEVEL");
    expect(env()).toEqual([{ name: "LOG_LEVEL", value: "info" }]);
    expect(env({ spec: { containers: [{ name: "listener", env: [{ name: "LOG_LEVEL", value: "debug" }] }] } })).toEqual([
      { name: "LOG_LEVEL", value: "debug" },
    ]);
  });
});
