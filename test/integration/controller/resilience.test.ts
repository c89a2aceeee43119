// The controller killed mid-flight converges with no duplicate Jobs and no orphan Forgejo runners;
// two replicas elect one leader and fail over when it dies; a controller started over CRDs of
// another release says so.
import {
  ApiextensionsV1Api,
  AppsV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { CRD_SCHEMA_DIGEST_ANNOTATION } from "../../../src/api/well-known.ts";
import { CRD_SCHEMA_DIGESTS } from "../../../src/generated/crds.ts";
import { listenerRoleRules } from "../../../src/listener/rbac.ts";
import type { ActRunner } from "../../../src/generated/api.ts";
import type { FakeForgejo } from "../../fake-forgejo/fake-forgejo.ts";
import { TOKENS, seededFake } from "../../fixtures/forgejo.ts";
import { rd } from "../../fixtures/resources.ts";
import { createNamespace, customObjects, deleteNamespace, eventually, kubeConfig, metricSum, GC_TIMEOUT_MS } from "../helpers.ts";
import { startRole, type RoleProcess } from "../support/process.ts";
import { NO_PICKUP_ANNOTATION, startRunnerBridge } from "../support/runner-bridge.ts";
import { clusterServiceAccountKubeconfig, deleteClusterServiceAccount, serviceAccountKubeconfig } from "../support/service-account.ts";
import { controllerClusterRoleRules, controllerLeaderElectionRules } from "../../../src/controller/rbac.ts";
import { ForgejoClient } from "../../../src/forgejo/client.ts";
import { forgejoRunnerName, runnerJob, runnerSecret, runnerSecretName, runnerUUIDOf } from "../../../src/controller/runner-job.ts";
import { ar } from "../../fixtures/resources.ts";
import { POD_OPTIONS } from "../../fixtures/webhook-app.ts";
import { API_GROUP, API_VERSION } from "../../../src/api/schemas.ts";

const kc = kubeConfig();
const objects = customObjects(kc);
const core = kc.makeApiClient(CoreV1Api);
const batch = kc.makeApiClient(BatchV1Api);
let fake: FakeForgejo;
let forgejoUrl: string;
let ns: string;
let bridge: Awaited<ReturnType<typeof startRunnerBridge>>;
let controllerKubeconfig: string;
const processes: RoleProcess[] = [];

beforeAll(async () => {
  fake = seededFake();
  forgejoUrl = await fake.listen();
  ns = await createNamespace("resilience");
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "forgejo-token" }, stringData: { token: TOKENS.owner } } });
  bridge = await startRunnerBridge(fake, ns);
  controllerKubeconfig = await clusterServiceAccountKubeconfig(
    ns,
    "controller",
    controllerClusterRoleRules(),
    controllerLeaderElectionRules(),
  );
}, 60_000);

afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop("SIGKILL")));
  fake.clearFaults();
});

afterAll(async () => {
  await bridge?.stop();
  await deleteClusterServiceAccount(ns, "controller");
  await deleteNamespace(ns);
  await fake.close();
});

async function startController(extra: string[] = []): Promise<RoleProcess> {
  const controller = await startRole(
    "controller",
    ["--webhook-port", "0", "--pickup-check-interval", "1s", "--relist-interval", "1m", ...extra],
    {
      KUBECONFIG: controllerKubeconfig,
    },
  );
  processes.push(controller);
  return controller;
}

async function setUp(name: string): Promise<void> {
  const body = rd({
    spec: { forgejoServer: forgejoUrl, labels: `${name}:host`, tokenSecretRef: { namespace: ns }, retentionAfterFinish: "2s" } as never,
  });
  await objects.create("runnerdeployments", ns, { ...body, metadata: { name, namespace: ns } });
  processes.push(
    await startRole(
      "listener",
      [
        "--runner-deployment",
        name,
        "--namespace",
        ns,
        "--forgejo-server",
        forgejoUrl,
        "--organization",
        "acme",
        "--labels",
        `${name}:host`,
        "--poll-interval",
        "2s",
      ],
      { KUBECONFIG: await serviceAccountKubeconfig(ns, `l-${name}`, listenerRoleRules(name)), FORGEJO_TOKEN: TOKENS.owner },
    ),
  );
}

async function actRunners(name: string): Promise<ActRunner[]> {
  return ((await objects.list("actrunners", ns)) as { items: ActRunner[] }).items.filter(
    (r) => r.metadata?.labels?.["forgejo.actions.io/runner-deployment"] === name,
  );
}

const forgejoScope = { kind: "organization", organization: "acme" } as const;

/**
 * An ActRunner for a newly queued job (or `job`), made before the controller starts (so it is a
 * suspect), like the listener makes it; `spec` overrides its fields.
 */
async function createActRunnerFor(
  label: string,
  job = fake.enqueueJob({ repository: "acme/app", runs_on: [label] }),
  spec: Record<string, unknown> = {},
) {
  const name = `${label}-1`;
  const created = (await objects.create(
    "actrunners",
    ns,
    ar({
      metadata: { name, namespace: ns },
      spec: {
        forgejoServer: forgejoUrl,
        organization: "acme",
        labels: `${label}:host`,
        tokenSecretRef: { name: "forgejo-token", namespace: ns, key: "token" },
        forgejoJobID: job.id,
        jobHandle: job.handle,
        jobData: { ...job, status: "waiting" } as never,
        retentionAfterFinish: "1h",
        ...spec,
      } as never,
    }),
  )) as ActRunner;
  return { job, name, created, client: new ForgejoClient({ server: forgejoUrl, token: TOKENS.owner }) };
}

/** Waits until the ActRunner's status names its Forgejo runner. */
function recordedWithRunner(name: string, what: string): Promise<ActRunner> {
  return eventually(
    what,
    async () => {
      const current = (await objects.get("actrunners", ns, name)) as ActRunner;
      return current.status?.runnerId !== undefined ? current : undefined;
    },
    30_000,
    250,
  );
}

describe("controller resilience", () => {
  // What a pass killed after the Secret and a Job were written, but before its status write, leaves
  // behind — here with the Job made for a runner an even earlier pass lost, and that lost runner.
  // The ActRunner exists when the controller starts, so it is a suspect: the controller must adopt
  // the runner whose credentials are in the Secret, delete the other and replace the Job, not
  // register another runner.
  it("finishes an interrupted pass: adopts the runner in the Secret, replaces a Job made for a lost runner", async () => {
    const { name, created, client } = await createActRunnerFor("adopt");
    const lost = await client.registerRunner(forgejoScope, { name: forgejoRunnerName(created), ephemeral: true });
    const registered = await client.registerRunner(forgejoScope, { name: forgejoRunnerName(created), ephemeral: true });
    await core.createNamespacedSecret({ namespace: ns, body: runnerSecret(created, registered, POD_OPTIONS.job) });
    const staleJob = runnerJob(created, "00000000-0000-4000-8000-00000000dead", POD_OPTIONS.job);
    // The runner bridge must not try to claim the job with the dead uuid.
    staleJob.spec!.template.metadata!.annotations = { ...staleJob.spec!.template.metadata!.annotations, [NO_PICKUP_ANNOTATION]: "true" };
    await batch.createNamespacedJob({ namespace: ns, body: staleJob });

    await startController();
    const done = await recordedWithRunner(name, "the ActRunner recorded with the adopted runner");
    expect(done.status).toMatchObject({ runnerId: registered.id, runnerUUID: registered.uuid, kubernetesJobName: staleJob.metadata!.name });
    const job2 = await batch.readNamespacedJob({ name: staleJob.metadata!.name!, namespace: ns });
    expect(runnerUUIDOf(job2)).toBe(registered.uuid);
    expect([...fake.runners.values()].filter((r) => r.name === forgejoRunnerName(created)).map((r) => r.id)).toEqual([registered.id]);
    expect(fake.runners.has(lost.id)).toBe(false);
    expect(fake.callCount("POST")).toBe(2); // only the test's own registrations
  }, 90_000);

  // A runner Secret holding credentials of a runner Forgejo no longer has (a registration whose
  // runner was removed before its pass recorded it): runner Secrets are immutable, so the
  // controller must replace it, or the new runner's Job would start with dead credentials.
  it("replaces a runner Secret that holds a lost runner's credentials (runner Secrets are immutable)", async () => {
    const { name, created, client } = await createActRunnerFor("replace");
    const lost = await client.registerRunner(forgejoScope, { name: forgejoRunnerName(created), ephemeral: true });
    await client.deleteRunner(forgejoScope, lost.id);
    const left = await core.createNamespacedSecret({ namespace: ns, body: runnerSecret(created, lost, POD_OPTIONS.job) });
    expect(left.immutable).toBe(true);

    await startController();
    const done = await recordedWithRunner(name, "the ActRunner recorded with a new runner");
    expect(done.status?.runnerId).not.toBe(lost.id);
    const secret = await core.readNamespacedSecret({ name: left.metadata!.name!, namespace: ns });
    expect(secret.metadata?.uid).not.toBe(left.metadata?.uid);
    expect(secret.immutable).toBe(true);
    expect(Buffer.from(secret.data!.uuid!, "base64").toString()).toBe(done.status?.runnerUUID);
    expect(Buffer.from(secret.data!.token!, "base64").toString()).not.toBe(lost.token);
    const runnerJobNow = await batch.readNamespacedJob({ name: done.status!.kubernetesJobName!, namespace: ns });
    expect(runnerUUIDOf(runnerJobNow)).toBe(done.status?.runnerUUID);
  }, 90_000);

  // After Forgejo's database was restored, the id in the Secret names another runner of the same
  // name (registered before the backup): its uuid is not the Secret's, so it is not adopted.
  it("adopts no runner whose id and name are the Secret's but whose uuid is not (a restored Forgejo database)", async () => {
    const { name, created, client } = await createActRunnerFor("restored");
    const stored = await client.registerRunner(forgejoScope, { name: forgejoRunnerName(created), ephemeral: true });
    await core.createNamespacedSecret({ namespace: ns, body: runnerSecret(created, stored, POD_OPTIONS.job) });
    const other = fake.giveRunnerIdToAnother(stored.id, {
      name: forgejoRunnerName(created),
      description: fake.runners.get(stored.id)!.description,
    });

    await startController();
    const done = await recordedWithRunner(name, "the ActRunner recorded with a new runner");
    expect(done.status?.runnerId).not.toBe(stored.id);
    expect([...fake.runners.values()].some((r) => r.uuid === other.uuid)).toBe(false);
    const secret = await core.readNamespacedSecret({ name: runnerSecretName(created), namespace: ns });
    expect(Buffer.from(secret.data!.uuid!, "base64").toString()).toBe(done.status?.runnerUUID);
  }, 90_000);

  it("after a registration whose answer was lost, deletes the runner Forgejo made and registers another", async () => {
    await setUp("lost");
    fake.addFault({ lostAnswer: true, method: "POST", pathPrefix: "/orgs/acme/actions/runners", count: 1 });
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["lost"] });
    const controller = await startController();
    await eventually("the job done", async () => (fake.jobs.get(job.id)!.status === "success" ? true : undefined), 60_000, 250);
    // The ephemeral runner that ran the job is removed by Forgejo; the one whose answer was lost only by the controller.
    await eventually(
      "no runner of the ActRunner left in Forgejo",
      async () => ([...fake.runners.values()].some((r) => r.name.startsWith(`k8s-${ns}-lost`)) ? undefined : true),
      30_000,
      250,
    );
    // Logged once Forgejo's answer to the deletion is in, so maybe a moment after the fake forgot the runner.
    await eventually("the controller's log line of the deletion", async () =>
      controller.output.some((line) => line.includes("Deleted a runner left by an interrupted registration")) ? true : undefined,
    );
  }, 90_000);

  // Two RunnerDeployments' ActRunners for one job attempt; an earlier leader registered and recorded
  // a runner for one of them. The new leader must know that one serves the attempt from the list
  // its term begins with, and let the other yield, not register a second runner.
  it("after a restart, lets an ActRunner yield whose job attempt another one's recorded runner serves", async () => {
    const served = await createActRunnerFor("served");
    const other = await createActRunnerFor("other", served.job);
    const registered = await served.client.registerRunner(forgejoScope, { name: forgejoRunnerName(served.created), ephemeral: true });
    await core.createNamespacedSecret({ namespace: ns, body: runnerSecret(served.created, registered, POD_OPTIONS.job) });
    await objects.api.replaceNamespacedCustomObjectStatus({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns,
      plural: "actrunners",
      name: served.name,
      body: {
        ...served.created,
        status: { phase: "Pending", runnerId: registered.id, runnerUUID: registered.uuid, runnerName: forgejoRunnerName(served.created) },
      },
    });
    const postsBefore = fake.callCount("POST");

    await startController();
    const yielded = await eventually(
      "the other ActRunner yielded",
      async () => {
        const current = (await objects.get("actrunners", ns, other.name)) as ActRunner;
        return current.status?.reason === "DuplicateJob" ? current : undefined;
      },
      30_000,
      250,
    );
    expect(yielded.status?.message).toContain(`is served by ActRunner ${ns}/${served.name}`);
    expect(yielded.status?.runnerId).toBeUndefined();
    const servedJob = await eventually(
      "the served ActRunner's Job",
      () => batch.readNamespacedJob({ name: served.name, namespace: ns }),
      30_000,
    );
    expect(runnerUUIDOf(servedJob)).toBe(registered.uuid);
    expect(fake.callCount("POST")).toBe(postsBefore);
    expect([...fake.runners.values()].filter((r) => r.name === forgejoRunnerName(other.created))).toEqual([]);
  }, 90_000);

  it("after a restart, lets an ActRunner go at once whose token Secret went with its RunnerDeployment (no token can come back), saying so", async () => {
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "torn-down-token" }, stringData: { token: TOKENS.owner } },
    });
    // No RunnerDeployment owns it: as after `kubectl delete -f` of the RunnerDeployment and its Secret.
    const { name } = await createActRunnerFor("torn", undefined, {
      tokenSecretRef: { name: "torn-down-token", namespace: ns, key: "token" },
      jobTemplate: { metadata: { annotations: { [NO_PICKUP_ANNOTATION]: "true" } } },
    });
    const controller = await startController();
    const recorded = await recordedWithRunner(name, "the runner registered");
    await controller.stop("SIGKILL");
    await core.deleteNamespacedSecret({ name: "torn-down-token", namespace: ns });
    await objects.delete("actrunners", ns, name);
    // The new process never read the Secret; the cleanup timeout is its default, 10 minutes.
    const restarted = await startController();
    const listed = async () => ((await objects.list("actrunners", ns)) as { items: ActRunner[] }).items.map((r) => r.metadata!.name);
    expect(await listed()).toContain(name);
    await eventually("the ActRunner released", async () => ((await listed()).includes(name) ? undefined : true), 30_000, 250);
    const abandoned = await eventually("the RunnerCleanupAbandoned Event", async () =>
      (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` })).items.find(
        (e) => e.reason === "RunnerCleanupAbandoned",
      ),
    );
    expect(abandoned.message).toBe(
      `Gave up deleting Forgejo runner ${recorded.status!.runnerName}: token Secret ${ns}/torn-down-token not found (spec.tokenSecretRef), and its RunnerDeployment is gone, so no token can come back; the orphan sweep deletes the runner if a RunnerDeployment of the same Forgejo scope remains (--orphan-sweep-interval), else delete it in Forgejo`,
    );
    expect(fake.runners.has(recorded.status!.runnerId!)).toBe(true);
    // Counted although no RunnerDeployment is left to label it (the alert reads this counter).
    expect(metricSum((await restarted.get("/metrics")).text, "forgejo_arc_runner_cleanups_abandoned_total")).toBe(1);
  }, 90_000);

  it("converges after being killed again and again, with no duplicate Jobs and no orphan Forgejo runners", async () => {
    await setUp("crash");
    // The first registration answers late: the controller dies while Forgejo creates that runner.
    const slowRegistration = fake.addFault({ latencyMs: 2_500, method: "POST", pathPrefix: "/orgs/acme/actions/runners", count: 1 });
    const jobs = Array.from({ length: 8 }, () => fake.enqueueJob({ repository: "acme/app", runs_on: ["crash"] }));
    let controller = await startController(["--workers", "1"]); // exactly one registration in flight
    await eventually("the registration request", async () => (slowRegistration.count === 0 ? true : undefined), 30_000, 50);
    await new Promise((r) => setTimeout(r, 700));
    await controller.stop("SIGKILL");
    await new Promise((r) => setTimeout(r, 2_500)); // Forgejo finishes registering the runner nobody will know
    const halfRegistered = [...fake.runners.values()].filter((r) => r.name.startsWith(`k8s-${ns}-crash`));
    expect(halfRegistered).toHaveLength(1);
    for (let kill = 0; kill < 6; kill++) {
      controller = await startController();
      await new Promise((r) => setTimeout(r, 600 + Math.random() * 900));
      await controller.stop("SIGKILL");
    }
    await startController();
    await eventually(
      "every job done",
      async () => (jobs.every((j) => fake.jobs.get(j.id)!.status === "success") ? true : undefined),
      90_000,
      500,
    );
    await eventually(
      "every ActRunner deleted after retention",
      async () => ((await actRunners("crash")).length === 0 ? true : undefined),
      60_000,
      500,
    );
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "forgejo.actions.io/runner-deployment=crash" });
    const podsPerJob = new Map<string, number>();
    for (const pod of pods.items) {
      const job = pod.metadata?.labels?.["batch.kubernetes.io/job-name"] ?? "";
      podsPerJob.set(job, (podsPerJob.get(job) ?? 0) + 1);
    }
    expect([...podsPerJob.values()].every((count) => count === 1)).toBe(true);
    expect([...fake.runners.values()].filter((r) => r.name.startsWith(`k8s-${ns}-crash`))).toEqual([]);
    expect(fake.runners.has(halfRegistered[0]!.id)).toBe(false);
    // The half-registered runner was found by its name and deleted by a controller, not left to rot
    // (by whichever process: one killed between the DELETE and its log line leaves no line behind).
    expect(fake.runnersDeletedByApi).toContain(halfRegistered[0]!.id);
    expect(bridge.errors).toEqual([]);
    await eventually(
      "Jobs collected",
      async () =>
        (await batch.listNamespacedJob({ namespace: ns, labelSelector: "forgejo.actions.io/runner-deployment=crash" })).items.length === 0
          ? true
          : undefined,
      GC_TIMEOUT_MS,
    );
  }, 240_000);

  it("elects one leader of two replicas, and the other takes over when the leader dies", async () => {
    await setUp("leader");
    const args = ["--leader-elect", "true", "--leader-election-namespace", ns];
    const first = await startController([...args, "--identity", "replica-a"]);
    await first.waitForOutput("Started reconciling");
    const second = await startController([...args, "--identity", "replica-b"]);
    await second.waitForOutput("Synced caches");
    const coordination = kc.makeApiClient(CoordinationV1Api);
    expect((await coordination.readNamespacedLease({ name: "forgejo-arc-controller", namespace: ns })).spec?.holderIdentity).toBe(
      "replica-a",
    );
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["leader"] });
    await eventually("the job run by the leader", async () => (fake.jobs.get(job.id)!.status === "success" ? true : undefined), 60_000);
    expect(second.output.some((line) => line.includes("Started reconciling"))).toBe(false);

    await first.stop("SIGKILL");
    await second.waitForOutput("Started reconciling", 40_000);
    expect((await coordination.readNamespacedLease({ name: "forgejo-arc-controller", namespace: ns })).spec?.holderIdentity).toBe(
      "replica-b",
    );
    const after = fake.enqueueJob({ repository: "acme/app", runs_on: ["leader"] });
    await eventually(
      "the job run by the new leader",
      async () => (fake.jobs.get(after.id)!.status === "success" ? true : undefined),
      60_000,
    );
  }, 150_000);

  it("after an upgrade (another --listener-pod-template), rebuilds each listener once, saying that its spec is unchanged; a spec change says nothing of the sort", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const name = "upgraded";
    const body = rd({ spec: { forgejoServer: forgejoUrl, labels: `${name}:host`, tokenSecretRef: { namespace: ns } } as never });
    await objects.create("runnerdeployments", ns, { ...body, metadata: { name, namespace: ns } });
    const listenerUpdates = async () =>
      (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name},reason=ListenerUpdated` })).items
        .map((e) => e.message)
        .sort();
    const before = await startController();
    const first = await eventually("the listener Deployment", () =>
      apps.readNamespacedDeployment({ name: `${name}-listener`, namespace: ns }).catch(() => undefined),
    );
    expect(first.metadata?.annotations?.["forgejo.actions.io/runner-deployment-generation"]).toBe("1");
    await before.stop("SIGKILL");

    const template = { metadata: { annotations: { "forgejo-arc.test/release": "2" } } };
    await startController([`--listener-pod-template=${JSON.stringify(template)}`]);
    const upgraded = await eventually("the listener Deployment with the new pod template", async () => {
      const deployment = await apps.readNamespacedDeployment({ name: `${name}-listener`, namespace: ns });
      return deployment.spec?.template.metadata?.annotations?.["forgejo-arc.test/release"] === "2" ? deployment : undefined;
    });
    expect(upgraded.metadata?.generation).toBe((first.metadata?.generation ?? 0) + 1);
    const why =
      ": its spec is unchanged, so the controller's settings changed (a new version, the listener image or --listener-pod-template) or the token in Secret";
    expect(
      await eventually("the ListenerUpdated Event", async () => ((await listenerUpdates()).length > 0 ? listenerUpdates() : undefined)),
    ).toEqual([`Updated listener Deployment ${name}-listener${why} ${ns}/forgejo-token`]);

    await objects.api.patchNamespacedCustomObject(
      { group: API_GROUP, version: API_VERSION, namespace: ns, plural: "runnerdeployments", name, body: { spec: { pollInterval: "3s" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(
      await eventually("the ListenerUpdated Event of the spec change", async () =>
        (await listenerUpdates()).length > 1 ? listenerUpdates() : undefined,
      ),
    ).toEqual([`Updated listener Deployment ${name}-listener`, `Updated listener Deployment ${name}-listener${why} ${ns}/forgejo-token`]);
    await objects.delete("runnerdeployments", ns, name);
  });

  it("warns at start, naming the CRD and what to apply, when a CRD is not its release's, and exports it as not current", async () => {
    const crds = kc.makeApiClient(ApiextensionsV1Api);
    const actRunners = `actrunners.${API_GROUP}`;
    const annotate = (digest: string) =>
      crds.patchCustomResourceDefinition(
        { name: actRunners, body: { metadata: { annotations: { [CRD_SCHEMA_DIGEST_ANNOTATION]: digest } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    await annotate("0123456789abcdef"); // as the CRD of an older release, which Helm did not upgrade
    try {
      const controller = await startController();
      const warning = await controller.waitForOutput(`CRD ${actRunners} is not the one this controller was built with`, 30_000);
      expect(JSON.parse(warning)).toMatchObject({ level: "warn", crd: actRunners });
      expect(warning).toContain("kubectl apply --server-side -f chart/forgejo-arc/crds/");
      // Read under the controller's own ClusterRole: the other CRD is current, this one is not.
      const series = (await controller.get("/metrics")).text.split("\n").filter((line) => line.startsWith("forgejo_arc_crd_current{"));
      expect(series.filter((line) => line.includes(`crd="${actRunners}"`)).map((line) => line.split(" ").at(-1))).toEqual(["0"]);
      expect(metricSum(series.join("\n"), "forgejo_arc_crd_current", { crd: `runnerdeployments.${API_GROUP}` })).toBe(1);
    } finally {
      await annotate(CRD_SCHEMA_DIGESTS[actRunners]!);
    }
  }, 60_000);
});
