// The chart's invariants, checked on `helm template` output, and its default values accepted by the
// real API server (server-side dry-run: nothing is stored, so the Service-mode webhook
// configuration of the defaults never reaches the API server's webhook client).
import { X509Certificate } from "node:crypto";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import type { V1Deployment, V1Job, V1MutatingWebhookConfiguration, V1Pod, V1PolicyRule, V1ValidatingWebhookConfiguration } from "@kubernetes/client-node";
import { kubectl } from "../../../scripts/cluster/cluster.ts";
import { CHART_DIR, render, renderYaml, type RenderedObject } from "../../../scripts/chart/chart.ts";
import {
  controllerClusterRoleRules,
  controllerClusterScopedRules,
  controllerLeaderElectionRules,
  controllerNamespacedRules,
} from "../../../src/controller/rbac.ts";
import { parseControllerConfig, podOptionsOf } from "../../../src/controller/config.ts";
import { beforeUninstallRules } from "../../../src/uninstall/rbac.ts";
import { WEBHOOK_PATHS } from "../../../webhooks/app.ts";
import { matchesLabels } from "../../../src/controller/cache.ts";
import { LISTENER_PORT, listenerResources } from "../../../src/controller/listener-resources.ts";
import { rd } from "../../fixtures/resources.ts";
import { selfSignedCertificate } from "../../fixtures/tls.ts";
import { POD_OPTIONS } from "../../fixtures/webhook-app.ts";
import { DEFAULT_LABEL_PROPAGATION_EXCLUDE } from "../../../src/api/propagated-labels.ts";
import { clusterState, createNamespace, deleteNamespace } from "../helpers.ts";

const isBeforeUninstall = (o: RenderedObject) => o.metadata.labels?.["app.kubernetes.io/component"] === "before-uninstall";
/** The one object of `kind`: the controller's, or with `ofHook` the pre-delete hook's. */
const one = <T>(objects: RenderedObject[], kind: string, ofHook = false): T => {
  const found = objects.filter((o) => o.kind === kind && isBeforeUninstall(o) === ofHook);
  if (found.length !== 1) throw new Error(`expected one ${kind}${ofHook ? " of the hook" : ""}, rendered ${found.length}`);
  return found[0] as unknown as T;
};
const secretData = (objects: RenderedObject[]) => one<{ data: Record<string, string> }>(objects, "Secret").data;
const pem = (base64: string) => new X509Certificate(Buffer.from(base64, "base64"));
const allWebhooks = (objects: RenderedObject[]) => [
  ...one<V1MutatingWebhookConfiguration>(objects, "MutatingWebhookConfiguration").webhooks!,
  ...one<V1ValidatingWebhookConfiguration>(objects, "ValidatingWebhookConfiguration").webhooks!,
];
const controllerContainer = (objects: RenderedObject[]) => one<V1Deployment>(objects, "Deployment").spec!.template.spec!.containers[0]!;
/** A values file holding `values`. */
const valuesFile = (values: object): string => {
  const file = join(mkdtempSync(join(tmpdir(), "chart-")), "values.yaml");
  writeFileSync(file, JSON.stringify(values));
  return file;
};
const renderError = (set: Record<string, string | number | boolean>, valuesFiles: string[] = []): string => {
  try {
    renderYaml({ set, valuesFiles });
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  throw new Error(`rendering with ${JSON.stringify(set)} succeeded`);
};

describe("chart defaults", () => {
  const objects = render({ release: "arc", namespace: "ops" });

  test("the ClusterRole grants exactly controllerClusterRoleRules()", () => {
    const role = one<{ rules: V1PolicyRule[] }>(objects, "ClusterRole");
    expect(role.rules).toEqual(controllerClusterRoleRules());
    const binding = one<{ subjects: { name: string; namespace: string }[] }>(objects, "ClusterRoleBinding");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "arc-forgejo-arc", namespace: "ops" }]);
  });

  test("leader election may touch Leases only in the release namespace", () => {
    const role = one<{ metadata: { namespace: string }; rules: V1PolicyRule[] }>(objects, "Role");
    expect(role.metadata.namespace).toBe("ops");
    expect(role.rules).toEqual(controllerLeaderElectionRules());
    expect(one<{ rules: V1PolicyRule[] }>(objects, "ClusterRole").rules.some((r) => r.resources?.includes("leases"))).toBe(false);
    expect(one<{ roleRef: { name: string } }>(objects, "RoleBinding").roleRef.name).toBe("arc-forgejo-arc-leader-election");
  });

  test("two replicas elect a leader and are spread, with a PodDisruptionBudget", () => {
    const deployment = one<V1Deployment>(objects, "Deployment");
    expect(deployment.spec!.replicas).toBe(2);
    const args = controllerContainer(objects).args!;
    expect(args[0]).toBe("controller");
    expect(args).toEqual(expect.arrayContaining(["--leader-elect=true", "--leader-election-id=arc-forgejo-arc", "--webhook-port=9443"]));
    expect(args).toContain("--listener-image=ghcr.io/forgejo-arc/forgejo-arc:0.1.0");
    expect(deployment.spec!.template.spec!.topologySpreadConstraints?.[0]?.topologyKey).toBe("kubernetes.io/hostname");
    expect(one<{ spec: { minAvailable: number } }>(objects, "PodDisruptionBudget").spec.minAvailable).toBe(1);
  });

  test("passes controller.labelPropagationExclude as one flag: by default the controller's own default, a list of yours, or none", () => {
    const flag = (rendered: RenderedObject[]) => controllerContainer(rendered).args!.filter((a) => a.startsWith("--label-propagation-exclude="));
    expect(flag(objects)).toEqual([`--label-propagation-exclude=${DEFAULT_LABEL_PROPAGATION_EXCLUDE.join(",")}`]);
    const excluding = (list: string[]) => render({ valuesFiles: [valuesFile({ controller: { labelPropagationExclude: list } })] });
    expect(flag(excluding(["example.com/", "app.kubernetes.io/instance"]))).toEqual([
      "--label-propagation-exclude=example.com/,app.kubernetes.io/instance",
    ]);
    expect(flag(excluding([]))).toEqual(["--label-propagation-exclude="]);
    // One flag of comma-separated prefixes: a prefix holding a comma would be two.
    expect(() => excluding(["a,b"])).toThrow(/labelPropagationExclude/);
  });

  test("the controller keeps a crash's last log lines (a configuration error at start) as its termination message", () => {
    expect(controllerContainer(objects).terminationMessagePolicy).toBe("FallbackToLogsOnError");
  });

  test("the controller pod is restricted: non-root, read-only root, no capabilities, RuntimeDefault seccomp", () => {
    const pod = one<V1Deployment>(objects, "Deployment").spec!.template.spec!;
    const container = controllerContainer(objects);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(container.resources?.limits?.memory).toBeDefined();
  });

  test("every webhook goes to the Service, has no side effects, and skips kube-system and the release namespace", () => {
    const paths = allWebhooks(objects).map((w) => w.clientConfig.service?.path);
    expect(paths.sort()).toEqual(Object.values(WEBHOOK_PATHS).sort());
    for (const webhook of allWebhooks(objects)) {
      expect(webhook.clientConfig.url).toBeUndefined();
      expect(webhook.clientConfig.service).toMatchObject({ name: "arc-forgejo-arc-webhook", namespace: "ops", port: 443 });
      expect(webhook.sideEffects).toBe("None");
      expect(webhook.failurePolicy).toBe("Fail");
      expect(webhook.timeoutSeconds).toBe(10);
      expect(webhook.namespaceSelector?.matchExpressions).toEqual([
        { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", "ops"] },
      ]);
    }
  });

  test("the generated CA in every caBundle signed the serving certificate, valid for the Service's DNS names", () => {
    const data = secretData(objects);
    const ca = pem(data["ca.crt"]!);
    const serving = pem(data["tls.crt"]!);
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.checkHost("arc-forgejo-arc-webhook.ops.svc")).toBe("arc-forgejo-arc-webhook.ops.svc");
    for (const webhook of allWebhooks(objects)) expect(webhook.clientConfig.caBundle).toBe(data["ca.crt"]);
    const volumes = one<V1Deployment>(objects, "Deployment").spec!.template.spec!.volumes!;
    expect(volumes.find((v) => v.name === "webhook-certs")?.secret?.secretName).toBe("arc-forgejo-arc-webhook-tls");
  });

  test("optional objects stay off by default; the helm test pod checks the webhooks with the CA", () => {
    expect(objects.filter((o) => ["ServiceMonitor", "PodMonitor", "PrometheusRule", "NetworkPolicy", "Certificate", "Issuer"].includes(o.kind))).toEqual([]);
    const testPod = one<{ metadata: { annotations: Record<string, string> }; spec: { containers: { args: string[] }[] } }>(objects, "Pod");
    expect(testPod.metadata.annotations["helm.sh/hook"]).toBe("test");
    expect(testPod.spec.containers[0]!.args).toEqual([
      "check-webhooks",
      "--url=https://arc-forgejo-arc-webhook.ops.svc:443",
      "--ca-file=/etc/forgejo-arc/webhook-ca/ca.crt",
      "--namespace=ops",
    ]);
  });
});

describe("the before-uninstall hook", () => {
  const hookJob = (objects: RenderedObject[]) => one<V1Job & RenderedObject>(objects, "Job", true);

  test("by default, helm uninstall first runs a Job that refuses while RunnerDeployments exist, under exactly beforeUninstallRules(\"refuse\")", () => {
    const objects = render({ release: "arc", namespace: "ops" });
    const job = hookJob(objects);
    expect(job.metadata.annotations).toEqual({
      "helm.sh/hook": "pre-delete",
      "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
    });
    const pod = job.spec!.template.spec!;
    expect(job.spec!.backoffLimit).toBe(0);
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.serviceAccountName).toBe("arc-forgejo-arc-before-uninstall");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    const container = pod.containers[0]!;
    expect(container.image).toBe("ghcr.io/forgejo-arc/forgejo-arc:0.1.0");
    expect(container.args).toEqual(["before-uninstall", "--runner-deployments=refuse", "--timeout=4m"]);
    expect(container.terminationMessagePolicy).toBe("FallbackToLogsOnError");
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    // Plain release objects, not hooks: they exist while the hook runs and go with the release.
    expect(one<{ rules: V1PolicyRule[] }>(objects, "ClusterRole", true).rules).toEqual(beforeUninstallRules("refuse"));
    expect(one<{ subjects: object[] }>(objects, "ClusterRoleBinding", true).subjects).toEqual([
      { kind: "ServiceAccount", name: "arc-forgejo-arc-before-uninstall", namespace: "ops" },
    ]);
    for (const kind of ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"])
      expect(one<RenderedObject>(objects, kind, true).metadata.annotations?.["helm.sh/hook"]).toBeUndefined();
  });

  test("uninstall.runnerDeployments=delete may delete RunnerDeployments; keep renders no hook", () => {
    const deleting = render({ set: { "uninstall.runnerDeployments": "delete", "uninstall.timeout": "9m" } });
    expect(hookJob(deleting).spec!.template.spec!.containers[0]!.args).toEqual(["before-uninstall", "--runner-deployments=delete", "--timeout=9m"]);
    expect(one<{ rules: V1PolicyRule[] }>(deleting, "ClusterRole", true).rules).toEqual(beforeUninstallRules("delete"));
    expect(render({ set: { "uninstall.runnerDeployments": "keep" } }).filter(isBeforeUninstall)).toEqual([]);
  });

  test("without rbac.create the hook runs as the controller's ServiceAccount", () => {
    const objects = render({ release: "arc", set: { "rbac.create": false } });
    expect(objects.filter((o) => isBeforeUninstall(o) && o.kind !== "Job")).toEqual([]);
    expect(hookJob(objects).spec!.template.spec!.serviceAccountName).toBe("arc-forgejo-arc");
  });
});

describe("chart options", () => {
  test("controller.watchNamespaces: a Role and RoleBinding with the namespaced rules in each, the ClusterRole only the cluster-scoped ones, and the flag", () => {
    const objects = render({ release: "arc", namespace: "ops", valuesFiles: [valuesFile({ controller: { watchNamespaces: ["ci", "team-a"] } })] });
    expect(one<{ rules: V1PolicyRule[] }>(objects, "ClusterRole").rules).toEqual(controllerClusterScopedRules());
    type Bound = { metadata: { name: string; namespace: string }; rules?: V1PolicyRule[]; roleRef?: { name: string }; subjects?: object[] };
    const inWatched = (kind: string) =>
      objects.filter((o) => o.kind === kind && o.metadata.namespace !== "ops" && !isBeforeUninstall(o)) as unknown as Bound[];
    const roles = inWatched("Role");
    expect(roles.map((r) => [r.metadata.namespace, r.metadata.name])).toEqual([
      ["ci", "arc-forgejo-arc"],
      ["team-a", "arc-forgejo-arc"],
    ]);
    for (const role of roles) expect(role.rules).toEqual(controllerNamespacedRules());
    const bindings = inWatched("RoleBinding");
    expect(bindings.map((b) => [b.metadata.namespace, b.roleRef!.name])).toEqual([
      ["ci", "arc-forgejo-arc"],
      ["team-a", "arc-forgejo-arc"],
    ]);
    for (const binding of bindings) expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "arc-forgejo-arc", namespace: "ops" }]);
    expect(controllerContainer(objects).args).toContain("--watch-namespaces=ci,team-a");
    expect(controllerContainer(render({})).args!.some((a) => a.startsWith("--watch-namespaces"))).toBe(false);
    for (const wrong of [["Team_A"], ["ci", "ci"]])
      expect(() => render({ valuesFiles: [valuesFile({ controller: { watchNamespaces: wrong } })] })).toThrow(/watchNamespaces/);
  });

  test("commonLabels go on every object the chart makes and on its pods; a key the chart sets is refused, naming it", () => {
    const everything = {
      commonLabels: { team: "platform", "example.com/cost-center": "42" },
      metrics: {
        serviceMonitor: { enabled: true },
        podMonitor: { enabled: true },
        prometheusRule: { enabled: true },
        grafanaDashboard: { enabled: true },
      },
      networkPolicy: { enabled: true },
    };
    const rendered = render({ valuesFiles: [valuesFile(everything)] });
    const podTemplates = rendered.flatMap((o) => {
      const template = (o as { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } }).spec?.template;
      return template ? [template] : [];
    });
    expect(rendered.length).toBeGreaterThan(16);
    expect(podTemplates).toHaveLength(2); // the controller's and the uninstall hook's
    for (const labels of [...rendered.map((o) => o.metadata.labels), ...podTemplates.map((t) => t.metadata?.labels)])
      expect(labels).toMatchObject({ team: "platform", "example.com/cost-center": "42" });
    const refused = renderError({ "commonLabels.app\\.kubernetes\\.io/name": "mine" });
    expect(refused).toContain('commonLabels: "app.kubernetes.io/name" is a key the chart sets itself');
  });

  test("url mode calls the host and port directly, and the certificate is valid for that IP", () => {
    const objects = render({ set: { "webhooks.mode": "url", "webhooks.url.port": 31443 } });
    for (const webhook of allWebhooks(objects)) {
      expect(webhook.clientConfig.service).toBeUndefined();
      expect(webhook.clientConfig.url).toMatch(/^https:\/\/127\.0\.0\.1:31443\/(mutate|validate)\//);
    }
    expect(controllerContainer(objects).args).toContain("--webhook-port=31443");
    expect(pem(secretData(objects)["tls.crt"]!).checkIP("127.0.0.1")).toBe("127.0.0.1");
  });

  test("with cert-manager, a Certificate fills the Secret and the CA injector the caBundle", () => {
    const objects = render({ release: "arc", namespace: "ops", set: { "certManager.enabled": true } });
    expect(objects.some((o) => o.kind === "Secret")).toBe(false);
    const certificate = one<{ spec: { secretName: string; dnsNames: string[]; issuerRef: { name: string } } }>(objects, "Certificate");
    expect(certificate.spec.secretName).toBe("arc-forgejo-arc-webhook-tls");
    expect(certificate.spec.dnsNames).toContain("arc-forgejo-arc-webhook.ops.svc");
    expect(certificate.spec.issuerRef.name).toBe(one<RenderedObject>(objects, "Issuer").metadata.name);
    for (const kind of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
      expect(one<RenderedObject>(objects, kind).metadata.annotations?.["cert-manager.io/inject-ca-from"]).toBe(
        "ops/arc-forgejo-arc-webhook",
      );
    }
    for (const webhook of allWebhooks(objects)) expect(webhook.clientConfig.caBundle).toBeUndefined();
  });

  test("a certificate of the user's own: nothing rendered for TLS, the same output at every render, its CA in both webhook configurations and the helm test", () => {
    const ca = selfSignedCertificate(mkdtempSync(join(tmpdir(), "chart-ca-")), "byo").cert;
    const byo = valuesFile({ webhooks: { existingSecret: "byo-tls", caBundle: ca } });
    const objects = render({ release: "arc", namespace: "ops", valuesFiles: [byo] });
    expect(objects.filter((o) => ["Secret", "Certificate", "Issuer"].includes(o.kind))).toEqual([]);
    for (const webhook of allWebhooks(objects)) expect(Buffer.from(webhook.clientConfig.caBundle!, "base64").toString()).toBe(ca.trim());
    const volumes = one<V1Deployment>(objects, "Deployment").spec!.template.spec!.volumes!;
    expect(volumes.find((v) => v.name === "webhook-certs")?.secret?.secretName).toBe("byo-tls");
    const helmTest = objects.find((o) => o.kind === "Pod")! as unknown as V1Pod;
    expect(helmTest.spec!.containers[0]!.env).toEqual([{ name: "FORGEJO_ARC_WEBHOOK_CA", value: ca.trim() }]);
    expect(helmTest.spec!.containers[0]!.args!.some((arg) => arg.startsWith("--ca-file"))).toBe(false);
    expect(helmTest.spec!.volumes).toBeUndefined();
    // What the option is for: an offline render (Argo CD's) of the default generates another pair each time.
    expect(renderYaml({ release: "arc", namespace: "ops", valuesFiles: [byo] })).toBe(renderYaml({ release: "arc", namespace: "ops", valuesFiles: [byo] }));
    expect(secretData(render({ release: "arc", namespace: "ops" }))["ca.crt"]).not.toBe(secretData(render({ release: "arc", namespace: "ops" }))["ca.crt"]);

    expect(renderError({ "webhooks.existingSecret": "byo-tls" })).toContain(
      'webhooks.existingSecret "byo-tls": set webhooks.caBundle to the PEM of the CA that signed its certificate',
    );
    expect(renderError({}, [valuesFile({ webhooks: { caBundle: ca } })])).toContain("webhooks.caBundle is used only with webhooks.existingSecret");
    expect(renderError({ "certManager.enabled": true }, [byo])).toContain("webhooks.existingSecret and certManager.enabled: choose one");
    expect(renderError({ "webhooks.existingSecret": "byo-tls", "webhooks.caBundle": "LS0tLS1CRUdJTg" })).toMatch(/webhooks\/caBundle/);
  });

  test("an existing issuer is used instead of the self-signed one", () => {
    const objects = render({ set: { "certManager.enabled": true, "certManager.issuerRef.name": "corp", "certManager.issuerRef.kind": "ClusterIssuer" } });
    expect(objects.some((o) => o.kind === "Issuer")).toBe(false);
    expect(one<{ spec: { issuerRef: object } }>(objects, "Certificate").spec.issuerRef).toEqual({ name: "corp", kind: "ClusterIssuer" });
  });

  test("ServiceMonitor and NetworkPolicy render when enabled", () => {
    const objects = render({ set: { "metrics.serviceMonitor.enabled": true, "networkPolicy.enabled": true } });
    expect(one<{ spec: { endpoints: { port: string }[] } }>(objects, "ServiceMonitor").spec.endpoints[0]!.port).toBe("metrics");
    const policy = one<{ spec: { ingress: { ports: { port: string }[] }[] } }>(objects, "NetworkPolicy");
    expect(policy.spec.ingress.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual(["webhook", "http"]);
  });

  test("the PodMonitor selects the listener pods the controller makes, in every namespace, on their metrics port", () => {
    const objects = render({ set: { "metrics.podMonitor.enabled": true, "metrics.podMonitor.labels.release": "kube-prometheus" } });
    const monitor = one<{
      metadata: { labels: Record<string, string> };
      spec: { namespaceSelector: object; selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[] };
    }>(objects, "PodMonitor");
    expect(monitor.metadata.labels.release).toBe("kube-prometheus");
    expect(monitor.spec.namespaceSelector).toEqual({ any: true });
    const listener = listenerResources(rd({ metadata: { name: "builds", namespace: "team-a" } }), POD_OPTIONS.listener).deployment;
    const pod = listener.spec!.template;
    expect(matchesLabels(monitor.spec.selector.matchLabels, pod.metadata!.labels)).toBe(true);
    expect(monitor.spec.podMetricsEndpoints).toEqual([{ port: "http", path: "/metrics", interval: "30s" }]);
    expect(pod.spec!.containers[0]!.ports).toContainEqual(expect.objectContaining({ name: "http", containerPort: LISTENER_PORT }));
  });

  test("controller.extraEnv reaches the controller, e.g. a Forgejo proxy from a Secret (docs/configuration.md)", () => {
    const objects = render({
      set: {
        "controller.extraEnv[0].name": "HTTPS_PROXY",
        "controller.extraEnv[0].valueFrom.secretKeyRef.name": "forgejo-proxy",
        "controller.extraEnv[0].valueFrom.secretKeyRef.key": "url",
        "controller.extraEnv[1].name": "NO_PROXY",
        "controller.extraEnv[1].value": ".svc",
      },
    });
    expect(controllerContainer(objects).env).toEqual(
      expect.arrayContaining([
        { name: "HTTPS_PROXY", valueFrom: { secretKeyRef: { name: "forgejo-proxy", key: "url" } } },
        { name: "NO_PROXY", value: ".svc" },
      ]),
    );
  });

  test("runner.podTemplate and listener.podTemplate reach the controller as flags it reads back intact; none by default", () => {
    const runner = {
      metadata: { labels: { "cost-center": "ci: shared" }, annotations: { note: 'say "hi" & bye' } },
      spec: { nodeSelector: { pool: "ci" }, tolerations: [{ key: "ci", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 30 }] },
    };
    const listener = { spec: { priorityClassName: "system" } };
    const args = controllerContainer(render({ valuesFiles: [valuesFile({ runner: { podTemplate: runner }, listener: { podTemplate: listener } })] })).args!;
    const options = podOptionsOf(parseControllerConfig(args.slice(1), {}));
    expect(options.job.podTemplate).toEqual(runner);
    expect(options.listener.podTemplate).toEqual(listener);
    expect(controllerContainer(render({})).args!.filter((arg) => arg.includes("pod-template"))).toEqual([]);
    expect(renderError({ "runner.podTemplate.nodeSelector.pool": "ci" })).toContain("additional properties 'nodeSelector' not allowed");
  });

  test("one replica without leader election has no PodDisruptionBudget, and is updated by Recreate so that two never reconcile at once", () => {
    const alone = { replicaCount: 1, "leaderElection.enabled": false };
    const objects = render({ set: alone });
    expect(objects.some((o) => o.kind === "PodDisruptionBudget")).toBe(false);
    expect(controllerContainer(objects).args).toContain("--leader-elect=false");
    const strategyOf = (rendered: RenderedObject[]) => one<V1Deployment>(rendered, "Deployment").spec!.strategy;
    expect(strategyOf(objects)).toEqual({ type: "Recreate" });
    expect(strategyOf(render({ set: { ...alone, "strategy.type": "Recreate" } }))).toEqual({ type: "Recreate" });
    expect(renderError({ ...alone, "strategy.type": "RollingUpdate" })).toContain(
      "strategy: RollingUpdate would run the new controller pod beside the old one during an update, and without leader election both reconcile",
    );
    expect(renderError({ ...alone, "strategy.rollingUpdate.maxSurge": 0 })).toContain("set strategy.type=Recreate");
    expect(strategyOf(render({}))).toBeUndefined();
  });

  test("a misspelt value fails with its name; so do invalid combinations", () => {
    expect(renderError({ "controller.wrokers": 3 })).toContain("additional properties 'wrokers' not allowed");
    expect(renderError({ "webhooks.mode": "ingress" })).toMatch(/webhooks\/mode[\s\S]*value must be one of/);
    expect(renderError({ "controller.jobTimeout": "3 hours" })).toContain("/controller/jobTimeout");
    expect(renderError({ "leaderElection.enabled": false })).toContain("needs leaderElection.enabled=true");
    expect(renderError({ "uninstall.runnerDeployments": "orphan" })).toMatch(/uninstall\/runnerDeployments[\s\S]*value must be one of/);
  });

  test("Chart.yaml names a kubeVersion the local cluster satisfies and the appVersion of package.json", async () => {
    const { readFileSync } = await import("node:fs");
    const chart = parse(readFileSync(join(CHART_DIR, "Chart.yaml"), "utf8")) as { kubeVersion: string; appVersion: string };
    const pkg = JSON.parse(readFileSync(join(CHART_DIR, "../../package.json"), "utf8")) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
    expect(chart.kubeVersion).toMatch(/^>=1\.\d+/);
  });
});

describe("the API server accepts the default values", () => {
  let ns: string;
  beforeAll(async () => {
    ns = await createNamespace("chart-dry-run");
  });
  afterAll(async () => {
    await deleteNamespace(ns);
  });

  test("server-side dry-run of every rendered object", () => {
    const file = join(mkdtempSync(join(tmpdir(), "chart-")), "rendered.yaml");
    writeFileSync(file, renderYaml({ release: "dry", namespace: ns }));
    const output = kubectl(clusterState(), ["apply", "--dry-run=server", "-n", ns, "-f", file]);
    for (const kind of [
      "serviceaccount",
      "secret",
      "clusterrole.rbac.authorization.k8s.io",
      "clusterrolebinding.rbac.authorization.k8s.io",
      "role.rbac.authorization.k8s.io",
      "rolebinding.rbac.authorization.k8s.io",
      "service",
      "deployment.apps",
      "poddisruptionbudget.policy",
      "mutatingwebhookconfiguration.admissionregistration.k8s.io",
      "validatingwebhookconfiguration.admissionregistration.k8s.io",
      "pod",
    ]) {
      expect(output).toMatch(new RegExp(`^${kind.replace(/\./g, "\\.")}/\\S+ created \\(server dry run\\)$`, "m"));
    }
  });
});
