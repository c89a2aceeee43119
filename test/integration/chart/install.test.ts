// The chart installed on the real cluster. Its controller pod and helm test pod land on the test
// executor's node and run there as host processes; the webhooks are in url mode at 127.0.0.1 (the
// ci values), so the API server only ever dials loopback. ct install does install → helm test →
// uninstall; a second install then shows the API server refusing bad RunnerDeployments through
// the chart's own webhook configuration, and the chart refusing a second installation beside it.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { ignoreNotFound } from "../../../src/k8s/client.ts";
import { freePort } from "../../../scripts/cluster/cluster.ts";
import { CHART_DIR, CT_CONFIG, helmAsync, runToolAsync } from "../../../scripts/chart/chart.ts";
import type { Executor } from "../../executor/executor.ts";
import { startTestExecutor, stopTestExecutor } from "../support/executor.ts";
import { rd } from "../../fixtures/resources.ts";
import { selfSignedCertificate } from "../../fixtures/tls.ts";
import {
  clusterState,
  createNamespace,
  customObjects,
  deleteNamespace,
  eventually,
  kubeConfig,
  kubectlDryRun,
  noRunnerResourcesLeft,
  rejection,
} from "../helpers.ts";

const CI_VALUES = join(CHART_DIR, "ci/url-mode-values.yaml");
const kc = kubeConfig();
let executor: Executor;

beforeAll(async () => {
  // ct's uninstall runs the chart's pre-delete hook, which waits for every RunnerDeployment and ActRunner in the cluster.
  await noRunnerResourcesLeft();
  executor = await startTestExecutor(kc);
}, 240_000);

afterAll(async () => {
  await stopTestExecutor(executor);
}, 90_000);

/** A release ct left behind (its uninstall failed), removed without hooks so that its webhooks stop intercepting later tests. */
async function removeLeftCtReleases(): Promise<string[]> {
  const releases = JSON.parse(await helmAsync(["list", "--all-namespaces", "--all", "--output", "json"], { kubeconfig: clusterState().kubeconfig })) as {
    name: string;
    namespace: string;
  }[];
  const left = releases.filter((r) => r.name.startsWith("forgejo-arc-") && r.namespace === r.name);
  for (const r of left)
    await helmAsync(["uninstall", r.name, "--namespace", r.namespace, "--no-hooks", "--wait", "--timeout", "60s"], { kubeconfig: clusterState().kubeconfig });
  return left.map((r) => `${r.namespace}/${r.name}`);
}

test("ct install: installs with the ci values, the helm test passes, and it uninstalls", async () => {
  const port = await freePort();
  let stdout: string;
  let leftReleases: string[];
  try {
    stdout = await runToolAsync("ct", ["install", "--config", CT_CONFIG, "--helm-extra-set-args", `--set=webhooks.url.port=${port}`], {
      kubeconfig: clusterState().kubeconfig,
      timeoutMs: 360_000,
    });
  } finally {
    leftReleases = await removeLeftCtReleases();
  }
  // ct reports success even when its uninstall failed: its release must be gone by its own uninstall.
  expect(leftReleases).toEqual([]);
  expect(stdout).toMatch(/TEST SUITE:\s+forgejo-arc-\S+-test-webhooks[\s\S]*Phase:\s+Succeeded/);
  expect(stdout).toContain("All charts installed successfully");
  // ct ends with the release pods' logs (print-logs), which the executor node serves as a kubelet would.
  expect(stdout).toMatch(/==> Logs of container forgejo-arc-\S+[\s\S]*"msg":"Starting controller"/);
  // The webhook server's lines (helm test sends it requests) name it without repeating a key.
  expect(stdout).toMatch(/"component":"controller",[^\n]*"server":"webhooks"/);
  expect(stdout).not.toMatch(/"component":[^\n]*"component":/);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const leftovers = (await admission.listValidatingWebhookConfiguration()).items.filter((c) =>
    c.webhooks?.some((w) => w.clientConfig.url?.includes(`:${port}/`)),
  );
  expect(leftovers).toEqual([]);
}, 420_000);

describe("installed with helm, the API server calls the chart's webhooks", () => {
  let releaseNamespace: string;
  let ns: string;
  const objects = customObjects(kc);
  const release = "arc";

  beforeAll(async () => {
    releaseNamespace = await createNamespace("chart-release");
    ns = await createNamespace("chart-user");
    const port = await freePort();
    await helmAsync(
      [
        "install",
        release,
        CHART_DIR,
        "--namespace",
        releaseNamespace,
        "--values",
        CI_VALUES,
        "--set",
        `webhooks.url.port=${port}`,
        "--set",
        "listener.imagePullSecrets[0].name=regcred",
        "--wait",
        "--timeout",
        "120s",
      ],
      { kubeconfig: clusterState().kubeconfig },
    );
  }, 180_000);

  afterAll(async () => {
    // RunnerDeployments first, as docs/install.md says: the chart's pre-delete hook refuses otherwise.
    await objects.delete("runnerdeployments", ns, "fine").catch(() => undefined);
    if (releaseNamespace) await helmAsync(["uninstall", release, "--namespace", releaseNamespace, "--wait", "--timeout", "60s"], { kubeconfig: clusterState().kubeconfig });
    await deleteNamespace(ns);
    await deleteNamespace(releaseNamespace);
  }, 90_000);

  test("a bad pollInterval is refused by the chart's webhook, naming the field", async () => {
    const { code, message } = await rejection(objects.create("runnerdeployments", ns, rd({ metadata: { name: "too-fast", namespace: ns }, spec: { pollInterval: "500ms", tokenSecretRef: { name: "t", namespace: ns } } })));
    expect(code).toBe(422);
    expect(message).toContain('admission webhook "default-runnerdeployments.forgejo.actions.io" denied the request');
    expect(message).toContain("spec.pollInterval");
  });

  test("a token Secret in another namespace is refused by the chart's webhook, naming the field", async () => {
    const { message } = await rejection(
      objects.create("runnerdeployments", ns, rd({ metadata: { name: "cross", namespace: ns }, spec: { tokenSecretRef: { name: "t", namespace: "kube-system" } } })),
    );
    expect(message).toMatch(/admission webhook "\S+\.forgejo\.actions\.io" denied the request/);
    expect(message).toContain("spec.tokenSecretRef.namespace");
  });

  test("a valid RunnerDeployment is admitted with the webhook's defaults", async () => {
    const created = (await objects.create(
      "runnerdeployments",
      ns,
      rd({ metadata: { name: "fine", namespace: ns }, spec: { tokenSecretRef: { name: "t", namespace: undefined, key: undefined }, pickupTimeout: undefined } }),
    )) as { spec: { tokenSecretRef: { namespace: string; key: string }; pickupTimeout: string } };
    expect(created.spec.tokenSecretRef).toEqual({ name: "t", namespace: ns, key: "token" });
    expect(created.spec.pickupTimeout).toBe("10m");
  });

  test("a RunnerDeployment sharing label names with another is admitted with the chart's webhook warning naming that one", async () => {
    const overlapping = rd({ metadata: { name: "overlapping", namespace: ns }, spec: { labels: "docker:host", tokenSecretRef: { name: "t", namespace: ns } } });
    // "fine" (the test above) reaches the controller's cache a moment after it was created.
    const result = await eventually("the overlap warning", async () => {
      const run = await kubectlDryRun("create", overlapping);
      expect(run.status).toBe(0);
      return run.stderr.includes("Warning: spec.labels: shares label names") ? run : undefined;
    });
    expect(result.stderr).toContain(`shares label names with RunnerDeployment ${ns}/fine (docker) on the same Forgejo server and scope`);
  });

  test("a maxRunners above a count quota of the namespace draws the chart's webhook warning (its ClusterRole lists quotas)", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: "three-jobs" }, spec: { hard: { "count/jobs.batch": "3" } } } });
    try {
      const capped = rd({ metadata: { name: "capped", namespace: ns }, spec: { labels: "capped:host", maxRunners: 5, tokenSecretRef: { name: "t", namespace: ns } } });
      const run = await kubectlDryRun("create", capped);
      expect(run.status).toBe(0);
      expect(run.stderr).toContain('Warning: spec.maxRunners lets 5 runners run at once, but ResourceQuota "three-jobs" allows 3 Jobs in this namespace');
      expect(run.stderr).toContain("set spec.maxRunners to at most 3");
      const within = await kubectlDryRun("create", { ...capped, spec: { ...capped.spec, maxRunners: 3 } });
      expect(within.stderr).not.toContain("spec.maxRunners");
    } finally {
      await core.deleteNamespacedResourceQuota({ name: "three-jobs", namespace: ns });
    }
  });

  test("a maxRunners whose runner pods ask for more cpu than a quota of the namespace gives draws the chart's webhook warning", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: "one-cpu" }, spec: { hard: { "requests.cpu": "1" } } } });
    try {
      // Runner pods request 100m cpu unless their template says otherwise, the listener's 10m.
      const capped = rd({ metadata: { name: "cpu-capped", namespace: ns }, spec: { labels: "cpu:host", maxRunners: 12, tokenSecretRef: { name: "t", namespace: ns } } });
      const run = await kubectlDryRun("create", capped);
      expect(run.status).toBe(0);
      expect(run.stderr).toContain(
        'Warning: spec.maxRunners lets 12 runners run at once, but ResourceQuota "one-cpu" allows requests.cpu 1 in this namespace and each runner pod takes 100m cpu: 9 fit',
      );
      const bigger = { ...capped.spec, runnerTemplate: { spec: { containers: [{ name: "runner", resources: { requests: { cpu: "300m" } } }] } } };
      expect((await kubectlDryRun("create", { ...capped, spec: { ...bigger, maxRunners: 4 } })).stderr).toContain("takes 300m cpu: 3 fit");
      expect((await kubectlDryRun("create", { ...capped, spec: { ...capped.spec, maxRunners: 9 } })).stderr).not.toContain("spec.maxRunners");
    } finally {
      await core.deleteNamespacedResourceQuota({ name: "one-cpu", namespace: ns });
    }
  });

  test("a namespace without the chart's listener.imagePullSecrets draws the chart's webhook warning; listener pods get them", async () => {
    const pulling = rd({ metadata: { name: "pulling", namespace: ns }, spec: { labels: "pulling:host", tokenSecretRef: { name: "t", namespace: ns } } });
    const missing = await kubectlDryRun("create", pulling);
    expect(missing.status).toBe(0);
    expect(missing.stderr).toContain(
      `Warning: spec.listenerTemplate: the controller gives listener pods the image pull Secret "regcred" (the chart's listener.imagePullSecrets), which does not exist in namespace "${ns}"`,
    );
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "regcred" }, type: "kubernetes.io/dockerconfigjson", stringData: { ".dockerconfigjson": '{"auths":{}}' } },
    });
    try {
      const present = await kubectlDryRun("create", pulling);
      expect(present.status).toBe(0);
      expect(present.stderr).not.toContain("regcred");
      await objects.create("runnerdeployments", ns, pulling);
      const apps = kc.makeApiClient(AppsV1Api);
      const pullSecrets = await eventually("the listener Deployment of pulling", async () =>
        ignoreNotFound(apps.readNamespacedDeployment({ name: "pulling-listener", namespace: ns })).then((d) => d?.spec?.template.spec?.imagePullSecrets),
      );
      expect(pullSecrets).toEqual([{ name: "regcred" }]);
    } finally {
      await objects.delete("runnerdeployments", ns, "pulling").catch(() => undefined);
      await core.deleteNamespacedSecret({ name: "regcred", namespace: ns });
    }
  });

  test("a second installation is refused before it creates anything, naming the installed release; that release still upgrades", async () => {
    const kubeconfig = clusterState().kubeconfig;
    const otherNamespace = await createNamespace("chart-second");
    const port = await freePort();
    /** helm install's error, or "installed". */
    const installBeside = (name: string) =>
      helmAsync(["install", name, CHART_DIR, "--namespace", otherNamespace, "--values", CI_VALUES, "--set", `webhooks.url.port=${port}`], {
        kubeconfig,
      }).then(
        () => "installed",
        (error: Error) => error.message,
      );
    try {
      const refused = await installBeside("second");
      expect(refused).toContain(`forgejo-arc is already installed in this cluster as release "arc" in namespace "${releaseNamespace}"`);
      expect(refused).toContain(`helm upgrade arc <chart> -n ${releaseNamespace}`);
      expect(await helmAsync(["list", "--namespace", otherNamespace, "--all", "--short"], { kubeconfig })).toBe("");
      const admission = kc.makeApiClient(AdmissionregistrationV1Api);
      const ofSecond = (await admission.listValidatingWebhookConfiguration({ labelSelector: "app.kubernetes.io/instance=second" })).items;
      expect(ofSecond).toEqual([]);
      // The same name in another namespace is another installation too.
      expect(await installBeside(release)).toContain(`already installed in this cluster as release "arc" in namespace "${releaseNamespace}"`);
      // A change of the pod template rolls the controller: its ports are the host's here, so the ci
      // values' Recreate strategy lets the new pod listen (RollingUpdate would wait for it for ever).
      const upgrade = ["upgrade", release, CHART_DIR, "--namespace", releaseNamespace, "--reuse-values", "--set-string", "podAnnotations.upgraded=yes"];
      await helmAsync([...upgrade, "--wait", "--timeout", "60s"], { kubeconfig });
      const controllerPods = await kc
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: releaseNamespace, labelSelector: "app.kubernetes.io/component=controller" });
      expect(controllerPods.items.map((p) => [p.metadata?.annotations?.upgraded, p.status?.phase])).toEqual([["yes", "Running"]]);
    } finally {
      for (const name of ["second", release])
        await helmAsync(["uninstall", name, "--namespace", otherNamespace, "--no-hooks", "--ignore-not-found"], { kubeconfig });
      await deleteNamespace(otherNamespace);
    }
  }, 120_000);

  test("helm test checks the running webhooks", async () => {
    const output = await helmAsync(["test", release, "--namespace", releaseNamespace, "--timeout", "60s"], { kubeconfig: clusterState().kubeconfig });
    expect(output).toMatch(/Phase:\s+Succeeded/);
  });

  test("serves the webhooks with a certificate of the user's own (webhooks.existingSecret and caBundle): the API server and helm test trust it", async () => {
    const kubeconfig = clusterState().kubeconfig;
    const own = selfSignedCertificate(mkdtempSync(join(tmpdir(), "chart-byo-")), "byo");
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: releaseNamespace,
      body: { metadata: { name: "byo-tls" }, type: "kubernetes.io/tls", stringData: { "tls.crt": own.cert, "tls.key": own.key } },
    });
    const byo = ["--reuse-values", "--set", "webhooks.existingSecret=byo-tls", "--set-file", `webhooks.caBundle=${own.certFile}`];
    await helmAsync(["upgrade", release, CHART_DIR, "--namespace", releaseNamespace, ...byo, "--wait", "--timeout", "90s"], { kubeconfig });
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const [validating] = (await admission.listValidatingWebhookConfiguration({ labelSelector: `app.kubernetes.io/instance=${release}` })).items;
    for (const webhook of validating!.webhooks!) expect(Buffer.from(webhook.clientConfig.caBundle!, "base64").toString()).toBe(own.cert.trim());
    // The chart's generated Secret is gone with the switch; the API server reaches the controller
    // that now serves the user's certificate.
    expect(await ignoreNotFound(kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: `${release}-forgejo-arc-webhook-tls`, namespace: releaseNamespace }))).toBeUndefined();
    const tooFast = rd({ metadata: { name: "too-fast-byo", namespace: ns }, spec: { pollInterval: "500ms", tokenSecretRef: { name: "t", namespace: ns } } });
    const { message } = await rejection(objects.create("runnerdeployments", ns, tooFast));
    expect(message).toContain('admission webhook "default-runnerdeployments.forgejo.actions.io" denied the request');
    const output = await helmAsync(["test", release, "--namespace", releaseNamespace, "--timeout", "60s"], { kubeconfig });
    expect(output).toMatch(/Phase:\s+Succeeded/);
  }, 180_000);
});
