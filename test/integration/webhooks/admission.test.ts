// The API server calls the project's webhook server (URL mode, https://127.0.0.1) and enforces its
// answers: defaulting, webhook-only rules, and the server-side dry-run of the objects the controller makes.
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  SchedulingV1Api,
  setHeaderOptions,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import { issueCertificate } from "../../../scripts/cluster/cluster.ts";
import { urlModeWebhookConfigurations } from "../../../scripts/cluster/webhook-registration.ts";
import { dryRun, missingSecrets, resourceQuotas, secretMetadata } from "../../../src/k8s/dry-run.ts";
import { serve, type WebhookServer } from "../../../webhooks/serve.ts";
import { validateRunnerDeployment } from "../../../webhooks/runnerdeployment.ts";
import { sharedSchemaValidator } from "../../../webhooks/schema-validation.ts";
import { silentLogger } from "../../../src/observability/log.ts";
import { ar, rd } from "../../fixtures/resources.ts";
import { POD_OPTIONS, testApp } from "../../fixtures/webhook-app.ts";
import { httpsServer } from "../../fixtures/tls.ts";
import { makeApplier } from "../../../src/k8s/apply.ts";
import { listenerResources } from "../../../src/controller/listener-resources.ts";
import type { RunnerDeployment } from "../../../src/generated/api.ts";
import {
  TEST_NAMESPACE_LABEL,
  clusterState,
  createNamespace,
  customObjects,
  deleteNamespace,
  eventually,
  kubeConfig,
  kubectlDryRun,
  rejection,
} from "../helpers.ts";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const objects = customObjects(kc);
const registry = new Registry();
let server: WebhookServer;
let ns: string;
let configName: string;

beforeAll(async () => {
  ns = await createNamespace("webhooks");
  configName = `forgejo-arc-test-${ns}`;
  const state = clusterState();
  const tls = issueCertificate(state, `webhook-${ns}`, "/CN=forgejo-arc-webhook", [
    "subjectAltName=IP:127.0.0.1",
    "extendedKeyUsage=serverAuth",
  ]);
  // Wired as the controller wires them.
  server = await serve(testApp({ registry, dryRun: dryRun(kc), resourceQuotas: resourceQuotas(kc) }), {
    host: "127.0.0.1",
    port: 0,
    ...tls,
    logger: silentLogger(),
  });
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const config of urlModeWebhookConfigurations({
    name: configName,
    port: server.port,
    caBundlePem: readFileSync(state.caFile, "utf8"),
    namespaceLabels: { [TEST_NAMESPACE_LABEL]: ns },
  })) {
    await client.create(config as never);
  }
  // Registration takes effect asynchronously: wait until a denial comes from the webhook.
  await eventually("the webhooks to be called", async () => {
    const failure = await rejection(
      objects.create("runnerdeployments", ns, {
        ...rd({ spec: { tokenSecretRef: { namespace: "elsewhere" } } }),
        metadata: { name: "probe", namespace: ns },
      }),
    ).catch(() => undefined);
    return failure?.message.includes("tokenSecretRef.namespace") ? true : undefined;
  });
});

afterAll(async () => {
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  await admission.deleteMutatingWebhookConfiguration({ name: configName }).catch(() => undefined);
  await admission.deleteValidatingWebhookConfiguration({ name: configName }).catch(() => undefined);
  await deleteNamespace(ns);
  await server?.close();
});

/**
 * A dry-run create once `inForce` holds for its answer, asked again then: the webhook's dry-runs run
 * side by side, so a policy or quota may have come into force between two of them in that answer.
 */
async function dryRunCreateInForce(what: string, body: object, inForce: (stderr: string) => boolean) {
  await eventually(what, async () => (inForce((await kubectlDryRun("create", body)).stderr) ? true : undefined));
  return kubectlDryRun("create", body);
}

async function withNamespaceLabel(label: string, value: string, test: () => Promise<void>): Promise<void> {
  const patch = (labels: Record<string, string | null>) =>
    core.patchNamespace({ name: ns, body: { metadata: { labels } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  await patch({ [label]: value });
  try {
    await test();
  } finally {
    await patch({ [label]: null });
  }
}

/** Moves a fixture into the test namespace, its token Secret reference included (unless overridden). */
function inNs<T extends { spec: { tokenSecretRef: { namespace?: string } } }>(object: T, name: string): T {
  const namespace = object.spec.tokenSecretRef.namespace === "ci" ? ns : object.spec.tokenSecretRef.namespace;
  return {
    ...object,
    metadata: { name, namespace: ns },
    spec: { ...object.spec, tokenSecretRef: { ...object.spec.tokenSecretRef, namespace } },
  };
}

describe("admission webhooks called by the real API server", () => {
  it("defaults tokenSecretRef.namespace, which the CRD schema cannot", async () => {
    const created = (await objects.create(
      "runnerdeployments",
      ns,
      inNs(rd({ spec: { tokenSecretRef: { namespace: undefined }, labels: " a:host , a:host " } }), "defaulted"),
    )) as ReturnType<typeof rd>;
    expect(created.spec.tokenSecretRef.namespace).toBe(ns);
    expect(created.spec.labels).toBe("a:host");
  });

  it("denies a token Secret in another namespace, naming the field", async () => {
    const failure = await rejection(
      objects.create("runnerdeployments", ns, inNs(rd({ spec: { tokenSecretRef: { namespace: "kube-system" } } }), "cross")),
    );
    expect(failure.message).toContain(
      `spec.tokenSecretRef.namespace: must be the RunnerDeployment's own namespace "${ns}", got "kube-system"`,
    );
  });

  it("denies a typo that the CRD would prune silently", async () => {
    const failure = await rejection(objects.create("runnerdeployments", ns, inNs(rd({ spec: { pollInterva: "30s" } as never }), "typo")));
    expect(failure.message).toContain("spec.pollInterva: unknown field");
  });

  it("denies a bad label on an ActRunner", async () => {
    const failure = await rejection(objects.create("actrunners", ns, inNs(ar({ spec: { labels: "x:vm" } }), "bad-label")));
    expect(failure.message).toContain('spec.labels: label "x:vm"');
  });

  it("denies a runner template whose Pod the API server would refuse, with the API server's reason", async () => {
    const body = inNs(
      rd({
        spec: {
          runnerTemplate: { spec: { containers: [{ name: "runner", resources: { requests: { cpu: "2" }, limits: { cpu: "1" } } }] } },
        },
      }),
      "bad-template",
    );
    const failure = await rejection(objects.create("runnerdeployments", ns, body));
    expect(failure.message).toContain("spec.runnerTemplate: the API server would refuse the runner Pod made for each job");
    expect(failure.message).toContain("must be less than or equal to cpu limit");
  });

  it("dry-runs the pods with the controller's pod templates in: a default the cluster refuses is named as the controller's", async () => {
    const scheduling = kc.makeApiClient(SchedulingV1Api);
    const className = `forgejo-arc-test-${ns}`;
    const rules = (priorityClassName: string) => ({
      schema: sharedSchemaValidator(),
      dryRun: dryRun(kc),
      podOptions: {
        job: { ...POD_OPTIONS.job, podTemplate: { spec: { priorityClassName } } },
        listener: { ...POD_OPTIONS.listener, podTemplate: { spec: { priorityClassName } } },
      },
    });
    const body = inNs(rd({ spec: { labels: "x:host" } }), "with-defaults");
    const refused = await validateRunnerDeployment(body, ns, rules(className));
    const refusal = `no PriorityClass with name ${className} was found`;
    expect(refused.denials).toEqual([
      expect.stringMatching(
        /^spec\.runnerTemplate: the API server would refuse the runner Pod made for each job \(from spec\.labels, spec\.runnerImage, spec\.runnerTemplate and the controller's --runner-pod-template\): /,
      ),
      expect.stringMatching(
        /^spec\.listenerTemplate: the API server would refuse the listener Pod \(from spec\.listenerTemplate and the controller's --listener-pod-template\): /,
      ),
    ]);
    for (const denial of refused.denials) expect(denial).toContain(refusal);
    await scheduling.createPriorityClass({ body: { metadata: { name: className }, value: 1000 } });
    try {
      expect((await validateRunnerDeployment(body, ns, rules(className))).denials).toEqual([]);
    } finally {
      await scheduling.deletePriorityClass({ name: className });
    }
  });

  it("reads the image pull Secrets it checks as metadata only: their credentials never reach the webhook", async () => {
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "regcred" }, type: "Opaque", stringData: { password: "hunter2" } },
    });
    try {
      const read = await secretMetadata(kc)(ns, "regcred");
      expect(read).toMatchObject({ kind: "PartialObjectMetadata", metadata: { name: "regcred", namespace: ns } });
      expect(read).not.toHaveProperty("data");
      expect(JSON.stringify(read)).not.toContain(Buffer.from("hunter2").toString("base64"));
      expect(await secretMetadata(kc)(ns, "no-such-secret")).toBeUndefined();
      expect(await missingSecrets(kc)(ns, ["regcred", "no-such-secret"])).toEqual(["no-such-secret"]);
    } finally {
      await core.deleteNamespacedSecret({ namespace: ns, name: "regcred" });
    }
  });

  it("allows a valid template after its dry-run, and creates no Pod", async () => {
    const body = inNs(
      rd({ spec: { runnerTemplate: { spec: { containers: [{ name: "runner", resources: { limits: { cpu: "1" } } }] } } } }),
      "good-template",
    );
    await expect(objects.create("runnerdeployments", ns, body)).resolves.toBeDefined();
    const pods = await kc.makeApiClient((await import("@kubernetes/client-node")).CoreV1Api).listNamespacedPod({ namespace: ns });
    expect(pods.items).toHaveLength(0);
  });

  it("dry-runs the pods as the controller makes them: under PodSecurity restricted a listenerTemplate passes, a docker label's privileged sidecar does not", async () => {
    await withNamespaceLabel("pod-security.kubernetes.io/enforce", "restricted", async () => {
      const restricted = inNs(
        rd({
          spec: {
            labels: "x:host",
            listenerTemplate: { spec: { containers: [{ name: "listener", resources: { limits: { cpu: "1" } } }] } },
          },
        }),
        "restricted-host",
      );
      await expect(objects.create("runnerdeployments", ns, restricted)).resolves.toBeDefined();
      const failure = await rejection(
        objects.create("runnerdeployments", ns, inNs(rd({ spec: { labels: "docker:docker://node:20" } }), "restricted-docker")),
      );
      expect(failure.message).toContain("spec.runnerTemplate: the API server would refuse the runner Pod made for each job");
      expect(failure.message).toContain('violates PodSecurity "restricted:latest": privileged (container "docker"');
    });
  });

  it("passes on the API server's warnings about the pods: PodSecurity restricted in warn mode, a docker label", async () => {
    await withNamespaceLabel("pod-security.kubernetes.io/warn", "restricted", async () => {
      const { status, stderr } = await kubectlDryRun("create", inNs(rd({ spec: { labels: "docker:docker://node:20" } }), "warned-docker"));
      expect(status).toBe(0);
      expect(stderr).toContain("Warning: spec.runnerTemplate: the API server warns about the runner Pod made for each job");
      expect(stderr).toContain('would violate PodSecurity "restricted:latest": privileged (container "docker"');
    });
  });

  it("allows with a warning when a ResourceQuota has no room for the pods or the ActRunners now", async () => {
    await core.createNamespacedResourceQuota({
      namespace: ns,
      body: { metadata: { name: "no-pods" }, spec: { hard: { pods: "0", "count/actrunners.forgejo.actions.io": "0" } } },
    });
    try {
      const body = inNs(rd({ spec: { labels: "x:host" } }), "quota-full");
      // kubectl, to see the warnings; run apart from this process, which serves the webhooks it calls.
      const { status, stderr: warnings } = await dryRunCreateInForce("the quota to be in force", body, (stderr) =>
        stderr.includes("exceeded quota"),
      );
      expect(status).toBe(0);
      expect(warnings).toContain(
        "Warning: spec.runnerTemplate: no room in the namespace's ResourceQuota for the runner Pod made for each job",
      );
      expect(warnings).toContain("Warning: spec.listenerTemplate: no room in the namespace's ResourceQuota for the listener Pod");
      expect(warnings).toContain("Warning: metadata: no room in the namespace's ResourceQuota for the ActRunner made for each job now");
    } finally {
      await core.deleteNamespacedResourceQuota({ name: "no-pods", namespace: ns });
    }
  });

  it("counts a LimitRange's default limits in the compute-quota warning on spec.maxRunners: the pods as the dry-run admitted them", async () => {
    await core.createNamespacedLimitRange({
      namespace: ns,
      body: { metadata: { name: "defaults" }, spec: { limits: [{ type: "Container", _default: { memory: "2Gi" } }] } },
    });
    await core.createNamespacedResourceQuota({
      namespace: ns,
      body: { metadata: { name: "memory" }, spec: { hard: { "limits.memory": "8Gi" } } },
    });
    try {
      const body = inNs(rd({ spec: { labels: "x:host", maxRunners: 10 } }), "quota-defaults");
      const { status, stderr } = await dryRunCreateInForce("the LimitRange and quota to be in force", body, (text) =>
        text.includes('ResourceQuota "memory"'),
      );
      expect(status).toBe(0);
      // The runner pod as built sets no memory limit: only as admitted does it take the LimitRange's default.
      expect(stderr).toContain(
        'ResourceQuota "memory" allows limits.memory 8Gi in this namespace and each runner pod takes 2048Mi of memory: 3 fit after the listener\'s 256Mi of memory',
      );
    } finally {
      await core.deleteNamespacedResourceQuota({ name: "memory", namespace: ns });
      await core.deleteNamespacedLimitRange({ name: "defaults", namespace: ns });
    }
  });

  it("allows with a warning a template naming a ServiceAccount not created yet (a manifest may make it after the RunnerDeployment)", async () => {
    const body = inNs(rd({ spec: { labels: "x:host", runnerTemplate: { spec: { serviceAccountName: "made-later" } } } }), "sa-later");
    const { status, stderr } = await kubectlDryRun("create", body);
    expect(status).toBe(0);
    expect(stderr).toContain("Warning: spec.runnerTemplate: the runner Pod made for each job");
    expect(stderr).toContain('names a ServiceAccount that does not exist yet; the pod is made once it does: pods "sa-later-runner-');
    expect(stderr).toContain('serviceaccount "made-later" not found');
  });

  it("admits, with a warning, a listenerTemplate label with a key the listener Deployment selects its pod by: the controller's value is kept", async () => {
    const labels = { "app.kubernetes.io/component": "mine", team: "a" };
    const body = inNs(rd({ spec: { labels: "x:host", listenerTemplate: { metadata: { labels } } } }), "own-label");
    const { status, stderr } = await kubectlDryRun("create", body);
    expect(status).toBe(0);
    expect(stderr).toContain(
      'Warning: spec.listenerTemplate.metadata.labels["app.kubernetes.io/component"]: "mine" is not used: forgejo-arc sets this label on its pods itself',
    );
    expect(stderr).not.toContain("team");
  });

  it("denies what a label policy refuses of every object made for the RunnerDeployment, not only of the pods; their labels come from the RunnerDeployment", async () => {
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const name = `${ns}-team-label`;
    await admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name },
        spec: {
          failurePolicy: "Fail",
          matchConstraints: {
            resourceRules: [
              { apiGroups: ["batch"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["jobs"] },
              { apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["deployments"] },
              { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["secrets", "serviceaccounts"] },
              { apiGroups: ["rbac.authorization.k8s.io"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["roles"] },
              { apiGroups: ["forgejo.actions.io"], apiVersions: ["v1alpha1"], operations: ["CREATE", "UPDATE"], resources: ["actrunners"] },
            ],
          },
          validations: [
            {
              expression:
                "!has(object.spec) || !has(object.spec.template) || has(object.spec.template.metadata.labels) && 'team' in object.spec.template.metadata.labels",
              message: "pod templates must carry a team label",
            },
            {
              expression: "has(object.metadata.labels) && 'team' in object.metadata.labels",
              message: "objects must carry a team label",
            },
          ],
        },
      },
    });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name },
        spec: {
          policyName: name,
          validationActions: ["Deny"],
          matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } },
        },
      },
    });
    const unlabelled = inNs(rd({ spec: { labels: "x:host" } }), "unlabelled");
    try {
      // A dry-run create: a create refused by the webhook may have been stored before the policy was in force.
      const { stderr: failure } = await dryRunCreateInForce("the policy to be in force", unlabelled, (stderr) =>
        stderr.includes("ValidatingAdmissionPolicy"),
      );
      expect(failure).toContain("spec.runnerTemplate: the API server would refuse the runner Job made for each job");
      expect(failure).toContain("spec.listenerTemplate: the API server would refuse the listener Deployment");
      for (const object of [
        "the runner Secret made for each job",
        "the ActRunner made for each job",
        "the listener ServiceAccount",
        "the listener Role",
      ])
        expect(failure).toContain(`metadata: the API server would refuse ${object}: `);
      expect(failure).toContain("(the Secret carries the RunnerDeployment's metadata.labels)");
      expect(failure).toContain("pod templates must carry a team label");
      // The policy looks at Jobs and Deployments only: their Pods passed.
      expect(failure).not.toContain("runner Pod");
      const labelled = { metadata: { labels: { team: "a" } } };
      const templatesLabelled = inNs(rd({ spec: { labels: "x:host", runnerTemplate: labelled, listenerTemplate: labelled } }), "labelled");
      // The Job's and the Deployment's own labels come from the RunnerDeployment's.
      const { stderr } = await kubectlDryRun("create", templatesLabelled);
      expect(stderr).toContain("objects must carry a team label");
      expect(stderr).toContain("metadata: the API server would refuse the ActRunner made for each job");
      expect(stderr).toContain(
        "(the Job carries the RunnerDeployment's metadata.labels, its pod those of spec.runnerTemplate.metadata.labels)",
      );
      const admitted = { ...templatesLabelled, metadata: { ...templatesLabelled.metadata, labels: { team: "a" } } };
      await expect(objects.create("runnerdeployments", ns, admitted)).resolves.toBeDefined();
      // Removing the label later is checked like a spec change; an annotation is not checked.
      const patch = (metadata: object) =>
        objects.api.patchNamespacedCustomObject(
          {
            group: "forgejo.actions.io",
            version: "v1alpha1",
            namespace: ns,
            plural: "runnerdeployments",
            name: "labelled",
            body: { metadata },
          },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
      await expect(patch({ labels: { team: null } })).rejects.toThrow(/the listener Role: .*objects must carry a team label/);
      await expect(patch({ annotations: { note: "checked" } })).resolves.toBeDefined();
    } finally {
      await admission.deleteValidatingAdmissionPolicyBinding({ name });
      await admission.deleteValidatingAdmissionPolicy({ name });
      // The API server drops the policy a moment later; the tests after this one must not meet it.
      await eventually("the policy to be gone", async () => ((await kubectlDryRun("create", unlabelled)).status === 0 ? true : undefined));
    }
  });

  it("dry-runs the listener Deployment as the controller applies it: an update of the one that exists needs no room in a quota", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const grown = inNs(rd({ spec: { labels: "x:host" } }), "grown");
    const created = (await objects.create("runnerdeployments", ns, grown)) as RunnerDeployment;
    // The listener Deployment as the controller applies it (without replicas: nothing runs here).
    const listener = listenerResources(created, POD_OPTIONS.listener).deployment;
    await makeApplier(kc)({ ...listener, spec: { ...listener.spec!, replicas: 0 } } as KubernetesObject);
    await core.createNamespacedResourceQuota({
      namespace: ns,
      body: { metadata: { name: "one-deployment" }, spec: { hard: { "count/deployments.apps": "1" } } },
    });
    try {
      const another = inNs(rd({ spec: { labels: "y:host" } }), "another");
      const { status, stderr: warnings } = await dryRunCreateInForce("the quota to count the Deployment", another, (stderr) =>
        stderr.includes("exceeded quota"),
      );
      expect(status).toBe(0);
      expect(warnings).toContain("Warning: spec.listenerTemplate: no room in the namespace's ResourceQuota for the listener Deployment");
      const current = (await objects.get("runnerdeployments", ns, "grown")) as typeof grown;
      const update = await kubectlDryRun("replace", { ...current, spec: { ...current.spec, pollInterval: "20s" } });
      expect(update).toEqual({ status: 0, stderr: "" });
    } finally {
      await core.deleteNamespacedResourceQuota({ name: "one-deployment", namespace: ns });
      await apps.deleteNamespacedDeployment({ name: listener.metadata!.name!, namespace: ns });
    }
  });

  it("answers before the API server gives up on it when another webhook holds up the dry-run, naming what did not answer", async () => {
    // Another admission webhook on Pods that answers only after 12 s (failurePolicy Ignore, timeout
    // 15 s): the API server waits on it for every Pod in the namespace, the webhook's dry-runs too.
    const slow = await httpsServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        const uid = (JSON.parse(body) as { request: { uid: string } }).request.uid;
        const answer = setTimeout(() => {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid, allowed: true } }));
        }, 12_000);
        res.on("close", () => clearTimeout(answer));
      });
    });
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const name = `${ns}-slow-pods`;
    const label = "forgejo-arc.test/slow-pods";
    await admission.createValidatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [
          {
            name: "slow-pods.forgejo-arc.test",
            clientConfig: {
              url: `${slow.url}/`,
              caBundle: Buffer.from(slow.cert).toString("base64"),
            },
            rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }],
            namespaceSelector: { matchLabels: { [label]: "true" } },
            sideEffects: "None",
            admissionReviewVersions: ["v1"],
            failurePolicy: "Ignore",
            timeoutSeconds: 15,
          },
        ],
      },
    });
    const body = inNs(rd({ spec: { labels: "x:host" } }), "held-up");
    try {
      await withNamespaceLabel(label, "true", async () => {
        const { stderr } = await eventually(
          "the slow webhook to hold up the dry-run",
          async () => {
            const run = await kubectlDryRun("create", body);
            return run.status !== 0 ? run : undefined;
          },
          60_000,
        );
        expect(stderr).toContain(
          "forgejo-arc webhook failed: the API server did not answer the server-side dry-run of the runner Pod made for each job",
        );
        expect(stderr).toContain("the listener Pod (from spec.listenerTemplate) within 9s");
        expect(stderr).toContain(`intercepts Pods in namespace "${ns}"`);
        expect(stderr).not.toContain("context deadline exceeded");
      });
    } finally {
      await admission.deleteValidatingWebhookConfiguration({ name });
      await slow.close();
      // The API server drops the configuration a moment later; the tests after this one must not meet it.
      await eventually("the slow webhook to be gone", async () => ((await kubectlDryRun("create", body)).status === 0 ? true : undefined));
    }
  }, 120_000);

  it("lets a RunnerDeployment in a namespace being deleted lose its finalizer, though every pod dry-run there is refused", async () => {
    const doomed = `${ns}-doomed`;
    await core.createNamespace({ body: { metadata: { name: doomed, labels: { [TEST_NAMESPACE_LABEL]: ns } } } });
    const held = {
      ...rd({ spec: { labels: "x:host", tokenSecretRef: { namespace: doomed } } }),
      metadata: { name: "held", namespace: doomed, finalizers: ["forgejo-arc.test/hold"] },
    };
    await objects.create("runnerdeployments", doomed, held);
    await core.deleteNamespace({ name: doomed });
    const deleting = await eventually("the namespace's deletion to reach the RunnerDeployment", async () => {
      const current = (await objects.get("runnerdeployments", doomed, "held")) as typeof held & {
        metadata: { deletionTimestamp?: string };
      };
      return current.metadata.deletionTimestamp ? current : undefined;
    });
    await objects.replace("runnerdeployments", doomed, "held", { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } });
    await eventually("the namespace to be gone", async () =>
      (await core.readNamespace({ name: doomed }).catch(() => undefined)) ? undefined : true,
    );
  });

  it("was reached over TLS by the API server for each kind", async () => {
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/forgejo_arc_webhook_requests_total\{path="\/mutate\/runnerdeployments",result="patched"\} [1-9]/);
    expect(metrics).toMatch(/forgejo_arc_webhook_requests_total\{path="\/validate\/actrunners",result="denied"\} [1-9]/);
  });
});
