// The listener as a real process against the real API server and the fake Forgejo, running with a
// ServiceAccount token bound to exactly the Role the controller gives listeners.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, FlowcontrolApiserverV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { httpsGet } from "../../../scripts/cluster/cluster.ts";
import { API_GROUP, API_VERSION } from "../../../src/api/schemas.ts";
import type { ActRunner, RunnerDeployment } from "../../../src/generated/api.ts";
import type { FakeForgejo } from "../../fake-forgejo/fake-forgejo.ts";
import { TOKENS, seededFake } from "../../fixtures/forgejo.ts";
import { rd } from "../../fixtures/resources.ts";
import { httpsServer, selfSignedCertificate } from "../../fixtures/tls.ts";
import { clusterState, createNamespace, customObjects, deleteNamespace, eventually, kubeConfig, metricSum } from "../helpers.ts";
import type { RoleProcess } from "../support/process.ts";
import { startListenerProcess } from "../support/listener-process.ts";
import { actRunnerName, newActRunner } from "../../../src/listener/plan.ts";

const objects = customObjects();
const flowControl = kubeConfig().makeApiClient(FlowcontrolApiserverV1Api);
let fake: FakeForgejo;
let forgejoUrl: string;
let ns: string;
/** The FlowSchema under which the API server counts this suite's listeners' LISTs (cluster-wide, deleted after the suite). */
let listenerLists: string;

beforeAll(async () => {
  fake = seededFake();
  forgejoUrl = await fake.listen();
  ns = await createNamespace("listener");
  listenerLists = await countListenerLists();
});
const started: RoleProcess[] = [];
afterEach(async () => {
  // A failed test must not leave listeners polling or faults injected for the next one.
  await Promise.all(started.splice(0).map((p) => p.stop("SIGKILL")));
  fake.clearFaults();
});
afterAll(async () => {
  await fake.close();
  if (listenerLists) await flowControl.deleteFlowSchema({ name: listenerLists }).catch(() => undefined);
  await deleteNamespace(ns);
});

async function runnerDeployment(name: string, spec: Partial<RunnerDeployment["spec"]> = {}, namespace = ns): Promise<RunnerDeployment> {
  const body = rd({ spec: { forgejoServer: forgejoUrl, labels: `${name}:host`, tokenSecretRef: { namespace }, ...spec } as never });
  return (await objects.create("runnerdeployments", namespace, { ...body, metadata: { name, namespace } })) as RunnerDeployment;
}

/** A listener process for RunnerDeployment `rdName`, whose runner label is `<rdName>:host` unless `labels` says otherwise. */
async function startListener(rdName: string, extraArgs: string[] = [], namespace = ns, labels?: string): Promise<RoleProcess> {
  const listener = await startListenerProcess({ namespace, rdName, forgejoUrl, token: TOKENS.owner, extraArgs, labels });
  started.push(listener);
  await listener.waitForOutput("Started listener");
  return listener;
}

async function actRunnersOf(rdName: string, namespace = ns): Promise<ActRunner[]> {
  const list = (await objects.list("actrunners", namespace)) as { items: ActRunner[] };
  return list.items.filter((r) => r.metadata?.labels?.["forgejo.actions.io/runner-deployment"] === rdName);
}

async function rdStatus(name: string, namespace = ns): Promise<NonNullable<RunnerDeployment["status"]>> {
  return ((await objects.get("runnerdeployments", namespace, name)) as RunnerDeployment).status ?? {};
}

function enqueue(count: number, runs_on: string[], repository = "acme/app") {
  return Array.from({ length: count }, (_, i) => fake.enqueueJob({ repository, runs_on, name: `job-${i}` }));
}

/**
 * A FlowSchema that matches only LIST requests for ActRunners and RunnerDeployments made by this
 * suite's ServiceAccounts (its listeners), so the API server counts exactly those under its name —
 * other clients' LISTs (the namespace controller deleting earlier suites' namespaces, controllers)
 * do not. Resolves once the API server has taken it in.
 */
async function countListenerLists(): Promise<string> {
  const name = `${ns}-listener-lists`;
  await flowControl.createFlowSchema({
    body: {
      metadata: { name },
      spec: {
        priorityLevelConfiguration: { name: "workload-low" },
        matchingPrecedence: 1000,
        distinguisherMethod: { type: "ByUser" },
        rules: [
          {
            subjects: [{ kind: "Group", group: { name: `system:serviceaccounts:${ns}` } }],
            resourceRules: [{ verbs: ["list"], apiGroups: [API_GROUP], resources: ["actrunners", "runnerdeployments"], namespaces: ["*"] }],
          },
        ],
      },
    },
  });
  await eventually("the FlowSchema taken in", async () =>
    (await flowControl.readFlowSchema({ name })).status?.conditions?.some((c) => c.type === "Dangling") ? true : undefined,
  );
  return name;
}

/** LIST requests the API server dispatched under FlowSchema `flowSchema`, from its metrics. */
async function listsCounted(flowSchema: string): Promise<number> {
  const state = clusterState();
  const metrics = await httpsGet(`${state.server}/metrics`, state);
  if (metrics.status !== 200) throw new Error(`GET /metrics on the API server answered ${metrics.status}`);
  return metricSum(metrics.body.toString(), "apiserver_flowcontrol_dispatched_requests_total", { flow_schema: flowSchema });
}

describe("listener", () => {
  it("creates one ActRunner per matching waiting job with the right fields, and reports status", async () => {
    const owner = await runnerDeployment("fields", {
      runnerTemplate: { metadata: { labels: { team: "a" } } },
      caBundleConfigMapRef: { name: "forgejo-ca" },
    });
    const jobs = enqueue(3, ["fields"]);
    const other = fake.enqueueJob({ repository: "acme/app", runs_on: ["fields", "gpu"] });
    const listsAtStart = await listsCounted(listenerLists);
    const listener = await startListener("fields");
    // The FlowSchema sees this listener: its two informers' first LISTs (actrunners, runnerdeployments).
    await eventually("the listener's first LISTs counted", async () =>
      (await listsCounted(listenerLists)) - listsAtStart >= 2 ? true : undefined,
    );
    const runners = await eventually("3 ActRunners", async () => {
      const list = await actRunnersOf("fields");
      return list.length === 3 ? list : undefined;
    });
    expect(runners.map((r) => r.metadata!.name).sort()).toEqual(jobs.map((j) => `fields-${j.id}-1`).sort());
    const first = runners.find((r) => r.spec.forgejoJobID === jobs[0]!.id)!;
    expect(first.metadata!.ownerReferences).toEqual([
      { apiVersion: "forgejo.actions.io/v1alpha1", kind: "RunnerDeployment", name: "fields", uid: owner.metadata!.uid, controller: true },
    ]);
    // Created with the controller's finalizer, so the controller spends no write adding it.
    expect(first.metadata!.finalizers).toEqual(["forgejo.actions.io/runner-cleanup"]);
    expect(first.metadata!.labels).toMatchObject({
      "forgejo.actions.io/job-id": String(jobs[0]!.id),
      "forgejo.actions.io/job-handle": jobs[0]!.handle,
      "forgejo.actions.io/repository-id": String(jobs[0]!.repo_id),
    });
    expect(first.spec).toMatchObject({
      forgejoJobID: jobs[0]!.id,
      jobHandle: jobs[0]!.handle,
      forgejoServer: forgejoUrl,
      organization: "acme",
      labels: "fields:host",
      tokenSecretRef: { name: "forgejo-token", namespace: ns, key: "token" },
      jobData: { id: jobs[0]!.id, handle: jobs[0]!.handle, runs_on: ["fields"], status: "waiting", task_id: 0, attempt: 1 },
      jobTemplate: { metadata: { labels: { team: "a" } } },
      caBundleConfigMapRef: { name: "forgejo-ca" },
    });
    expect(runners.some((r) => r.spec.forgejoJobID === other.id)).toBe(false);
    const status = await eventually("status with waitingJobs", async () => {
      const s = await rdStatus("fields");
      return s.waitingJobs === 3 && s.forgejoVersion ? s : undefined;
    });
    expect(Date.now() - Date.parse(status.lastPollTime!)).toBeLessThan(10_000);
    expect(status.forgejoVersion).toBe("15.0.1+gitea-1.22.0");

    // Health and metrics are served.
    expect((await listener.get("/healthz")).status).toBe(200);
    // Ready from the first successful poll on, which counts once its status patch is answered: the
    // status can be read a moment before the listener has that answer.
    await eventually("the listener ready", async () => ((await listener.get("/readyz")).status === 200 ? true : undefined), 5_000, 100);
    const metrics = (await listener.get("/metrics")).text;
    // Every series names the RunnerDeployment the listener serves.
    const rdSeries = { runner_deployment_namespace: ns, runner_deployment: "fields" };
    expect(metricSum(metrics, "forgejo_arc_listener_actrunners_created_total", rdSeries)).toBe(3);
    expect(
      metricSum(metrics, "forgejo_arc_forgejo_requests_total", { ...rdSeries, operation: "list_jobs", outcome: "200" }),
    ).toBeGreaterThan(0);

    // Steady state: one Forgejo request per poll, no Kubernetes LIST by the listener.
    const pollsBefore = metricSum((await listener.get("/metrics")).text, "forgejo_arc_listener_polls_total", { result: "success" });
    fake.resetCalls();
    const listsBefore = await listsCounted(listenerLists);
    await new Promise((r) => setTimeout(r, 7_000));
    const pollsAfter = metricSum((await listener.get("/metrics")).text, "forgejo_arc_listener_polls_total", { result: "success" });
    const polls = pollsAfter - pollsBefore;
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(Math.abs(fake.calls.length - polls)).toBeLessThanOrEqual(1);
    expect(fake.calls.every((c) => c.method === "GET" && c.route.endsWith("/actions/runners/jobs"))).toBe(true);
    expect((await listsCounted(listenerLists)) - listsBefore).toBe(0);

    // SIGTERM ends it cleanly within a few seconds.
    const exit = await listener.stop("SIGTERM");
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(5_000);
  }, 90_000);

  it("makes no duplicates when killed mid-poll and restarted, nor with two listeners at once", async () => {
    await runnerDeployment("restart");
    const jobs = enqueue(40, ["restart"]);
    const first = await startListener("restart");
    await eventually("the first ActRunner", async () => ((await actRunnersOf("restart")).length > 0 ? true : undefined), 20_000, 20);
    await first.stop("SIGKILL");
    const before = (await actRunnersOf("restart")).length;
    const [second, third] = await Promise.all([startListener("restart"), startListener("restart")]);
    const runners = await eventually("40 ActRunners", async () => {
      const list = await actRunnersOf("restart");
      return list.length >= 40 ? list : undefined;
    });
    await new Promise((r) => setTimeout(r, 3_000)); // more polls by both listeners
    const final = await actRunnersOf("restart");
    expect(final).toHaveLength(40);
    expect(new Set(final.map((r) => r.spec.forgejoJobID)).size).toBe(40);
    expect(new Set(runners.map((r) => r.spec.forgejoJobID))).toEqual(new Set(jobs.map((j) => j.id)));
    expect(before).toBeLessThan(40); // the kill happened before the work was done
    await Promise.all([second.stop(), third.stop()]);
  }, 90_000);

  it("never exceeds maxRunners, and fills freed capacity", async () => {
    await runnerDeployment("capped", { maxRunners: 2 });
    enqueue(5, ["capped"], "acme/lib");
    const listener = await startListener("capped");
    await eventually("2 ActRunners", async () => ((await actRunnersOf("capped")).length === 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 4_500));
    const capped = await actRunnersOf("capped");
    expect(capped).toHaveLength(2);
    const done = capped[0]!;
    await objects.api.patchNamespacedCustomObjectStatus(
      {
        group: "forgejo.actions.io",
        version: "v1alpha1",
        namespace: ns,
        plural: "actrunners",
        name: done.metadata!.name!,
        body: { status: { phase: "Succeeded" } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually("a third ActRunner", async () => ((await actRunnersOf("capped")).length === 3 ? true : undefined));
    await new Promise((r) => setTimeout(r, 4_500));
    expect(await actRunnersOf("capped")).toHaveLength(3);
    expect(metricSum((await listener.get("/metrics")).text, "forgejo_arc_listener_jobs_over_capacity")).toBe(2);
    await listener.stop();
  }, 90_000);

  it("creates no ActRunners while spec.suspend is true, still reporting the waiting jobs, and creates them once it is false, without a restart", async () => {
    await runnerDeployment("paused", { suspend: true });
    enqueue(2, ["paused"], "acme/lib");
    const listener = await startListener("paused");
    await eventually("2 waiting jobs reported", async () => ((await rdStatus("paused")).waitingJobs === 2 ? true : undefined));
    // Two more polls (2 s interval) after the first: none of them creates an ActRunner.
    await new Promise((r) => setTimeout(r, 4_500));
    expect(await actRunnersOf("paused")).toEqual([]);
    expect(metricSum((await listener.get("/metrics")).text, "forgejo_arc_listener_jobs_over_capacity")).toBe(0);
    await objects.api.patchNamespacedCustomObject(
      {
        group: API_GROUP,
        version: API_VERSION,
        namespace: ns,
        plural: "runnerdeployments",
        name: "paused",
        body: { spec: { suspend: false } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually("2 ActRunners", async () => ((await actRunnersOf("paused")).length === 2 ? true : undefined));
    expect(listener.child.exitCode).toBeNull();
    await listener.stop();
  }, 60_000);

  it("makes a deleted ActRunner again while its job waits, and does not count it against maxRunners once it is gone", async () => {
    await runnerDeployment("redo", { maxRunners: 3 });
    enqueue(3, ["redo"], "acme/lib");
    const listener = await startListener("redo");
    const made = await eventually("3 ActRunners", async () => {
      const runners = await actRunnersOf("redo");
      return runners.length === 3 ? runners : undefined;
    });
    const firstUids = new Map(made.map((r) => [r.metadata!.name!, r.metadata!.uid!]));
    // Deleted from outside (kubectl delete); no controller runs here, so the finalizer goes by hand.
    for (const name of firstUids.keys()) {
      await objects.api.patchNamespacedCustomObject(
        { group: API_GROUP, version: API_VERSION, namespace: ns, plural: "actrunners", name, body: { metadata: { finalizers: null } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await objects.delete("actrunners", ns, name);
    }
    const remade = await eventually(
      "the 3 ActRunners made again",
      async () => {
        const runners = await actRunnersOf("redo");
        const again = runners.filter((r) => firstUids.has(r.metadata!.name!) && firstUids.get(r.metadata!.name!) !== r.metadata!.uid);
        return again.length === 3 ? runners : undefined;
      },
      20_000,
    );
    expect(remade).toHaveLength(3);
    await listener.stop();
  }, 60_000);

  it("trusts a rotated CA bundle in its --ca-file without a restart (a mounted ConfigMap changes in place)", async () => {
    const server = await httpsServer(fake.app());
    try {
      const httpsUrl = server.url;
      const caFile = join(server.dir, "ca.crt");
      writeFileSync(caFile, selfSignedCertificate(server.dir, "other").cert);
      await runnerDeployment("rotated", { forgejoServer: httpsUrl });
      const listener = await startListenerProcess({
        namespace: ns,
        rdName: "rotated",
        forgejoUrl: httpsUrl,
        token: TOKENS.owner,
        extraArgs: ["--ca-file", caFile, "--max-backoff", "4s"],
      });
      started.push(listener);
      const error = await eventually("a poll refused for the certificate", async () => (await rdStatus("rotated")).lastPollError);
      expect(error.message).toContain("certificate");
      writeFileSync(caFile, server.cert);
      const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["rotated"] });
      await eventually("the ActRunner once the bundle changed", async () =>
        (await actRunnersOf("rotated")).some((r) => r.spec.forgejoJobID === job.id) ? true : undefined,
      );
      await listener.waitForOutput("The CA bundle changed");
      await eventually("lastPollError cleared", async () => ((await rdStatus("rotated")).lastPollError ? undefined : true));
    } finally {
      await server.close();
    }
  }, 60_000);

  it("backs off through a Forgejo outage without exiting, reports it, and catches up afterwards", async () => {
    await runnerDeployment("outage");
    const listener = await startListener("outage", ["--max-backoff", "8s"]);
    await eventually("a first successful poll", async () => ((await rdStatus("outage")).lastPollTime ? true : undefined));
    fake.addFault({ status: 503, pathPrefix: "/orgs/acme/actions/runners/jobs" });
    const error = await eventually("lastPollError", async () => (await rdStatus("outage")).lastPollError);
    expect(error).toMatchObject({ kind: "server_error", message: expect.stringContaining("answered 503") });
    const jobs = enqueue(3, ["outage"]);
    fake.resetCalls();
    await new Promise((r) => setTimeout(r, 12_000));
    // Without backoff 6 polls of 3 attempts each would have run; with it, at most 4 polls.
    expect(fake.calls.length).toBeLessThanOrEqual(12);
    expect(listener.child.exitCode).toBeNull();
    expect((await listener.get("/healthz")).status).toBe(200);
    expect((await listener.get("/readyz")).status).toBe(503);
    fake.clearFaults();
    const runners = await eventually(
      "ActRunners after recovery",
      async () => {
        const list = await actRunnersOf("outage");
        return list.length === 3 ? list : undefined;
      },
      30_000,
    );
    expect(new Set(runners.map((r) => r.spec.forgejoJobID))).toEqual(new Set(jobs.map((j) => j.id)));
    await eventually("lastPollError cleared", async () => ((await rdStatus("outage")).lastPollError ? undefined : true));
    await listener.stop();
  }, 90_000);

  it("stays ready and on its interval while the API server refuses its ActRunners (a ResourceQuota), reporting that and vanished jobs, and creates them once there is room", async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const quoted = await createNamespace("listener-quota");
    try {
      const quota = "two-actrunners";
      await core.createNamespacedResourceQuota({
        namespace: quoted,
        body: { metadata: { name: quota }, spec: { hard: { "count/actrunners.forgejo.actions.io": "2" } } },
      });
      await runnerDeployment("quota", {}, quoted);
      const [first, second, third] = enqueue(3, ["quota"]);
      const listener = await startListener("quota", [], quoted);
      const refused = await eventually("two ActRunners, the third refused", async () => {
        const status = await rdStatus("quota", quoted);
        const made = await actRunnersOf("quota", quoted);
        return made.length === 2 && status.lastPollError?.message.includes(`exceeded quota: ${quota}`) ? status : undefined;
      });
      expect(refused.lastPollError).toMatchObject({
        kind: "kubernetes",
        message: expect.stringMatching(new RegExp(`^creating ActRunner ${quoted}/quota-${third!.id}-1: `)),
      });
      expect(refused.waitingJobs).toBe(3);
      expect((await actRunnersOf("quota", quoted)).map((r) => r.spec.forgejoJobID).sort()).toEqual([first!.id, second!.id].sort());
      expect((await listener.get("/readyz")).status).toBe(200);
      // Its polls go on at the 2 s interval, not backing off, and still report a cancelled job's ActRunner.
      fake.resetCalls();
      fake.cancelJob(first!.id);
      const vanished = await eventually("the cancelled job's ActRunner reported", async () => {
        const status = await rdStatus("quota", quoted);
        return status.vanishedActRunners?.length ? status : undefined;
      });
      expect(vanished.vanishedActRunners).toEqual([`quota-${first!.id}-1`]);
      expect(vanished.lastPollError?.message).toContain(`exceeded quota: ${quota}`);
      await new Promise((r) => setTimeout(r, 8_000));
      const polls = fake.callCount("GET", "/api/v1/orgs/acme/actions/runners/jobs");
      // Backing off (4 s, 8 s, …) would have polled at most 3 times in these ≥ 8 s.
      expect(polls).toBeGreaterThanOrEqual(4);
      expect((await listener.get("/readyz")).status).toBe(200);
      await core.deleteNamespacedResourceQuota({ name: quota, namespace: quoted });
      await eventually("the third ActRunner once there is room", async () =>
        (await actRunnersOf("quota", quoted)).some((r) => r.spec.forgejoJobID === third!.id) ? true : undefined,
      );
      await eventually("lastPollError cleared", async () => ((await rdStatus("quota", quoted)).lastPollError ? undefined : true));
      await listener.stop();
    } finally {
      await deleteNamespace(quoted);
    }
  }, 90_000);

  it("gives a job an ActRunner at once when one of a restored Forgejo database holds its job id and attempt (another handle)", async () => {
    const owner = await runnerDeployment("restored");
    const [waiting] = enqueue(1, ["restored"]);
    // Made for the same job id and attempt before Forgejo's database was restored, finished, kept for its retention.
    const earlier = newActRunner(owner, { ...waiting!, handle: "handle-before-restore" }, actRunnerName("restored", waiting!.id, 1), {
      forgejoServer: forgejoUrl,
      labels: "restored:host",
      namespace: ns,
      labelPropagationExclude: [],
    });
    earlier.metadata!.finalizers = [];
    await objects.create("actrunners", ns, earlier);
    await objects.api.patchNamespacedCustomObjectStatus(
      {
        group: API_GROUP,
        version: API_VERSION,
        namespace: ns,
        plural: "actrunners",
        name: earlier.metadata!.name!,
        body: { status: { phase: "Succeeded", reason: "Completed", completedAt: new Date().toISOString() } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const listener = await startListener("restored");
    const own = actRunnerName("restored", waiting!.id, 1, 1, waiting!.handle);
    const made = await eventually("the waiting job's own ActRunner", async () =>
      (await actRunnersOf("restored")).find((r) => r.metadata!.name === own),
    );
    expect(made.spec.jobHandle).toBe(waiting!.handle);
    expect((await actRunnersOf("restored")).map((r) => r.metadata!.name).sort()).toEqual([earlier.metadata!.name, own].sort());
    await listener.stop();
  }, 60_000);

  it("after its labels changed, leaves alone an ActRunner made for a label it no longer lists: its job is not gone", async () => {
    await runnerDeployment("relabel");
    const [old] = enqueue(1, ["relabel"]);
    const first = await startListener("relabel");
    await eventually("the ActRunner for the old label", async () => ((await actRunnersOf("relabel")).length === 1 ? true : undefined));
    await first.stop();
    // The RunnerDeployment's labels changed: the controller rolls the listener, which lists jobs with the new ones.
    const [cancelled] = enqueue(1, ["relabel-new"]);
    const relabelled = await startListener("relabel", [], ns, "relabel-new:host");
    await eventually("the ActRunner for the new label", async () => ((await actRunnersOf("relabel")).length === 2 ? true : undefined));
    fake.cancelJob(cancelled!.id);
    const vanished = await eventually("the cancelled job's ActRunner reported", async () => {
      const list = (await rdStatus("relabel")).vanishedActRunners;
      return list?.length ? list : undefined;
    });
    // The old label's job still waits in Forgejo, though this listener's listing no longer shows it.
    expect(vanished).toEqual([`relabel-${cancelled!.id}-1`]);
    expect(vanished).not.toContain(`relabel-${old!.id}-1`);
    await relabelled.stop();
  }, 60_000);

  it("reports ActRunners whose job was cancelled or re-run as vanished and whose job a runner took as started, replacing an earlier listener's lists", async () => {
    await runnerDeployment("vanish");
    // Lists an earlier listener process left: the first poll replaces them even when it finds none.
    await objects.api.patchNamespacedCustomObjectStatus(
      {
        group: API_GROUP,
        version: API_VERSION,
        namespace: ns,
        plural: "runnerdeployments",
        name: "vanish",
        body: { status: { vanishedActRunners: ["vanish-stale-1"], startedActRunners: ["vanish-stale-1"] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const [cancelled, rerun, kept] = enqueue(3, ["vanish"]);
    const listener = await startListener("vanish");
    await eventually("3 ActRunners", async () => ((await actRunnersOf("vanish")).length === 3 ? true : undefined));
    await eventually("the earlier listener's lists replaced", async () => {
      const status = await rdStatus("vanish");
      return status.lastPollTime && status.vanishedActRunners?.length === 0 && status.startedActRunners?.length === 0 ? true : undefined;
    });
    fake.cancelJob(cancelled!.id);
    fake.rerunJob(rerun!.id);
    const vanished = await eventually("vanishedActRunners", async () => {
      const list = (await rdStatus("vanish")).vanishedActRunners;
      return list?.length === 2 ? list : undefined;
    });
    expect(vanished).toEqual([`vanish-${cancelled!.id}-1`, `vanish-${rerun!.id}-1`].sort());
    expect(vanished).not.toContain(`vanish-${kept!.id}-1`);
    // A runner takes the kept job: its ActRunner is reported started.
    const registered = await fetch(`${forgejoUrl}/api/v1/orgs/acme/actions/runners`, {
      method: "POST",
      headers: { authorization: `token ${TOKENS.owner}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "vanish-runner", ephemeral: true }),
    });
    const runner = (await registered.json()) as { uuid: string };
    fake.assignJob(kept!.id, { uuid: runner.uuid }, kept!.handle!, ["vanish"]);
    const started = await eventually("startedActRunners", async () => {
      const list = (await rdStatus("vanish")).startedActRunners;
      return list?.length === 1 ? list : undefined;
    });
    expect(started).toEqual([`vanish-${kept!.id}-1`]);
    // The re-run attempt gets its own ActRunner.
    await eventually("the re-run's ActRunner", async () =>
      (await actRunnersOf("vanish")).some((r) => r.metadata!.name === `vanish-${rerun!.id}-2`) ? true : undefined,
    );
    await listener.stop();
  }, 60_000);
});
