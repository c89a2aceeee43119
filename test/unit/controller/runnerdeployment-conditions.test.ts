import { ApiException, type KubernetesObject, type V1Deployment, type V1Pod } from "@kubernetes/client-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { AR, ClusterCache, RD } from "../../../src/controller/cache.ts";
import {
  applyRefusal,
  caBundleProblem,
  listenerUpdateReason,
  registrationRefusal,
  runnerDeploymentConditions,
  RunnerDeploymentReconciler,
  type RunnerDeploymentReconcilerDeps,
} from "../../../src/controller/runnerdeployment.ts";
import type { EventRecorder } from "../../../src/k8s/events.ts";
import { startKubeApi, type KubeApiFixture } from "../../fixtures/kube-api.ts";
import { selfSignedCertificate } from "../../fixtures/tls.ts";
import { ar, rd } from "../../fixtures/resources.ts";

const available = { status: { availableReplicas: 1 } } as V1Deployment;
const byType = (list: ReturnType<typeof runnerDeploymentConditions>) => Object.fromEntries(list.map((c) => [c.type, c]));

describe("RunnerDeployment conditions", () => {
  it("is Ready when the token is accepted, Forgejo answers and the listener is available", () => {
    const c = byType(
      runnerDeploymentConditions(rd({ status: { lastPollTime: "2026-01-01T00:00:00Z", forgejoVersion: "15.0.1" } }), {
        token: { ok: true },
        deployment: available,
      }),
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
    const c = byType(
      runnerDeploymentConditions(rd({ status: { lastPollTime: "t", ...status } as never }), { token, deployment: available }),
    );
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
    const c = byType(
      runnerDeploymentConditions(rd(), { token: { ok: true }, deployment: { status: {} } as V1Deployment, listenerPod: pod }),
    );
    expect(c.ListenerAvailable).toMatchObject({
      status: "False",
      reason: "CreateContainerConfigError",
      message: 'Listener pod l-1: CreateContainerConfigError: secret "t" not found',
    });
  });

  it("says how a crash-looping listener's last run ended: its last log line, and for an OOM kill how to give it memory", () => {
    const conditionFor = (terminated: object | undefined) => {
      const status = {
        name: "listener",
        state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s restarting failed container=listener" } },
        ...(terminated ? { lastState: { terminated } } : {}),
      };
      const pod = { metadata: { name: "l-1" }, status: { containerStatuses: [status] } } as V1Pod;
      return byType(runnerDeploymentConditions(rd(), { token: { ok: true }, deployment: { status: {} } as V1Deployment, listenerPod: pod }))
        .ListenerAvailable;
    };
    const log = '{"level":30,"msg":"Starting"}\nforgejo-arc: listener configuration: $HTTPS_PROXY: not the URL of an HTTP proxy\n';
    expect(conditionFor({ exitCode: 1, reason: "Error", message: log })).toMatchObject({
      reason: "CrashLoopBackOff",
      message:
        "Listener pod l-1: CrashLoopBackOff: back-off 10s restarting failed container=listener; its last run ended Error with exit code 1: forgejo-arc: listener configuration: $HTTPS_PROXY: not the URL of an HTTP proxy",
    });
    expect(conditionFor({ exitCode: 137, reason: "OOMKilled" })!.message).toBe(
      "Listener pod l-1: CrashLoopBackOff: back-off 10s restarting failed container=listener; its last run ended OOMKilled with exit code 137 (out of memory: raise resources.limits.memory of the listener container in spec.listenerTemplate, or for every listener in the chart's listener.podTemplate)",
    );
    expect(conditionFor(undefined)!.message).toBe("Listener pod l-1: CrashLoopBackOff: back-off 10s restarting failed container=listener");
  });

  it("gives as Ready's reason a condition that is False before one that is Unknown: the listener's crash, not the poll it has not made", () => {
    const waiting = { reason: "CrashLoopBackOff", message: "back-off 10s restarting failed container=listener" };
    const pod = { metadata: { name: "l-1" }, status: { containerStatuses: [{ name: "listener", state: { waiting } }] } } as V1Pod;
    const c = byType(
      runnerDeploymentConditions(rd(), { token: { ok: true }, deployment: { status: {} } as V1Deployment, listenerPod: pod }),
    );
    expect(c.ForgejoReachable).toMatchObject({ status: "Unknown", reason: "NotPolledYet" });
    expect(c.Ready).toMatchObject({
      status: "False",
      reason: "CrashLoopBackOff",
      message: "ListenerAvailable: Listener pod l-1: CrashLoopBackOff: back-off 10s restarting failed container=listener",
    });
    const starting = byType(
      runnerDeploymentConditions(rd(), { token: { ok: true }, deployment: { status: { availableReplicas: 1 } } as V1Deployment }),
    );
    expect(starting.Ready).toMatchObject({ status: "False", reason: "NotPolledYet" });
  });

  it("says how to give listener pods pull credentials when their image cannot be pulled", () => {
    const conditionFor = (reason: string) => {
      const waiting = { reason, message: 'Back-off pulling image "registry.example.com/forgejo-arc:0.1.0"' };
      const pod = { metadata: { name: "l-1" }, status: { containerStatuses: [{ name: "listener", state: { waiting } }] } } as V1Pod;
      return byType(runnerDeploymentConditions(rd(), { token: { ok: true }, deployment: { status: {} } as V1Deployment, listenerPod: pod }))
        .ListenerAvailable;
    };
    for (const reason of ["ImagePullBackOff", "ErrImagePull"]) {
      expect(conditionFor(reason)).toMatchObject({ status: "False", reason });
      expect(conditionFor(reason)!.message).toContain(
        `Listener pod l-1: ${reason}: Back-off pulling image "registry.example.com/forgejo-arc:0.1.0"`,
      );
      expect(conditionFor(reason)!.message).toContain(
        "create an image pull Secret in this namespace and name it in the chart's listener.imagePullSecrets, for every RunnerDeployment, or in spec.listenerTemplate.spec.imagePullSecrets",
      );
    }
    expect(conditionFor("CrashLoopBackOff")!.message).not.toContain("imagePullSecrets");
  });

  it("names the scheduler's reason when the listener pod cannot be scheduled", () => {
    const message = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.";
    const pod = {
      metadata: { name: "l-1" },
      status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message }] },
    } as V1Pod;
    const c = byType(
      runnerDeploymentConditions(rd(), { token: { ok: true }, deployment: { status: {} } as V1Deployment, listenerPod: pod }),
    );
    expect(c.ListenerAvailable).toMatchObject({ status: "False", reason: "Unschedulable", message: `Listener pod l-1: ${message}` });
  });

  it("says why the Deployment cannot create the listener pod (its ReplicaFailure: a used-up quota, a LimitRange)", () => {
    const quota = 'pods "l-1" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0';
    const deployment = {
      metadata: { name: "builders-listener" },
      status: { conditions: [{ type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: quota }] },
    } as V1Deployment;
    const c = byType(runnerDeploymentConditions(rd({ status: { lastPollTime: "t" } }), { token: { ok: true }, deployment }));
    expect(c.ListenerAvailable).toMatchObject({
      status: "False",
      reason: "FailedCreate",
      message: `Listener Deployment builders-listener cannot create its pod: ${quota}`,
    });
    expect(c.Ready).toMatchObject({ status: "False", reason: "FailedCreate" });
    deployment.status!.conditions![0]!.status = "False";
    expect(byType(runnerDeploymentConditions(rd(), { token: { ok: true }, deployment })).ListenerAvailable).toMatchObject({
      reason: "NotReady",
    });
  });

  it("says that a listener which runs is unready because its polls fail, naming the condition with the cause", () => {
    const pod = {
      metadata: { name: "l-1" },
      status: { phase: "Running", containerStatuses: [{ name: "listener", ready: false, state: { running: { startedAt: "t" } } }] },
    } as unknown as V1Pod;
    const unready = { metadata: { name: "builders-listener" }, status: {} } as V1Deployment;
    const conditionsWith = (lastPollError?: { kind: string; message: string; time: string }) =>
      byType(
        runnerDeploymentConditions(rd({ status: { lastPollTime: "t", lastPollError } }), {
          token: { ok: true },
          deployment: unready,
          listenerPod: pod,
        }),
      );
    const outage = conditionsWith({ kind: "server_error", message: "GET … answered 502", time: "t" });
    expect(outage.ListenerAvailable).toMatchObject({
      status: "False",
      reason: "PollFailing",
      message:
        "Listener pod l-1 runs but is not ready: its last poll failed (see ForgejoReachable); it is ready again after a poll succeeds",
    });
    // Ready names the cause, Forgejo's answer, not the unready listener that follows from it.
    expect(outage.Ready).toMatchObject({ status: "False", reason: "ServerError" });
    expect(conditionsWith({ kind: "unauthorized", message: "401", time: "t" }).ListenerAvailable!.message).toContain("(see TokenValid)");
    expect(conditionsWith({ kind: "kubernetes", message: "quota", time: "t" }).ListenerAvailable!.message).toContain("(see Ready)");
    expect(conditionsWith().ListenerAvailable).toMatchObject({
      reason: "NotReady",
      message: "Listener pod l-1 runs and is not ready yet: it is ready after its first poll of Forgejo",
    });
  });

  it("is not Ready while suspended, unless something else is wrong, which it names first", () => {
    const suspended = rd({ spec: { suspend: true }, status: { lastPollTime: "t", forgejoVersion: "15.0.1" } });
    const c = byType(runnerDeploymentConditions(suspended, { token: { ok: true }, deployment: available }));
    expect(c.Ready).toMatchObject({ status: "False", reason: "Suspended" });
    expect(c.Ready!.message).toContain("spec.suspend is true: the listener creates no ActRunners");
    expect(c.ListenerAvailable).toMatchObject({ status: "True" });
    const missing = { ok: false as const, reason: "SecretNotFound" as const, message: "m" };
    expect(byType(runnerDeploymentConditions(suspended, { token: missing, deployment: available })).Ready).toMatchObject({
      reason: "SecretNotFound",
    });
  });

  it("is not Ready, first of all, when the API server refuses the listener's objects", () => {
    const refused =
      "The API server refused to apply Deployment ci/builders-listener: admission webhook denied the request: limits required";
    const polled = rd({ status: { lastPollTime: "t" } });
    const none = byType(
      runnerDeploymentConditions(polled, { token: { ok: false, reason: "SecretNotFound", message: "m" }, applyRefused: refused }),
    );
    expect(none.ListenerAvailable).toMatchObject({ status: "False", reason: "ApplyRefused", message: refused });
    expect(none.Ready).toMatchObject({ status: "False", reason: "ApplyRefused", message: refused });
    // A listener applied before goes on as it was; Ready says the change did not reach it.
    const running = byType(runnerDeploymentConditions(polled, { token: { ok: true }, deployment: available, applyRefused: refused }));
    expect(running.ListenerAvailable).toMatchObject({ status: "True" });
    expect(running.Ready).toMatchObject({
      status: "False",
      reason: "ApplyRefused",
      message: `${refused}; the listener runs as last applied`,
    });
  });

  it("says that a poll failed in the cluster (an ActRunner refused), not that Forgejo is unreachable: Forgejo answered it", () => {
    const message = 'creating ActRunner ci/builders-7-1: actrunners.forgejo.actions.io "builders-7-1" is forbidden: exceeded quota: ars';
    const status = { lastPollTime: "t", forgejoVersion: "15.0.1", lastPollError: { kind: "kubernetes", message, time: "t" } };
    const c = byType(
      runnerDeploymentConditions(rd({ status } as never), { token: { ok: true }, deployment: { status: {} } as V1Deployment }),
    );
    expect(c.ForgejoReachable).toMatchObject({ status: "True", reason: "Polled" });
    expect(c.TokenValid).toMatchObject({ status: "True" });
    // Its pod unready for the failed polls, the listener shows as unavailable; Ready names the cause.
    expect(c.ListenerAvailable).toMatchObject({ status: "False" });
    expect(c.Ready).toMatchObject({ status: "False", reason: "KubernetesError", message: `The listener's last poll failed: ${message}` });
    const first = byType(
      runnerDeploymentConditions(rd({ status: { lastPollError: status.lastPollError } } as never), { token: { ok: true } }),
    );
    expect(first.ForgejoReachable).toMatchObject({ status: "True", message: "Forgejo answered the last poll" });
  });

  it("takes a 4xx answer to an apply as a refusal, not a conflict, flow control or a failing API server", () => {
    const deployment = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "builders-listener", namespace: "ci" } };
    const answer = (code: number) => new ApiException(code, "", JSON.stringify({ message: `answer ${code}` }), {});
    expect(applyRefusal(deployment, answer(403))).toBe("The API server refused to apply Deployment ci/builders-listener: answer 403");
    expect(applyRefusal(deployment, answer(422))).toContain("answer 422");
    for (const code of [409, 429, 500, 503]) expect(applyRefusal(deployment, answer(code))).toBeUndefined();
    expect(applyRefusal(deployment, new Error("socket hang up"))).toBeUndefined();
  });

  it("adds CABundleValid only with a CA bundle reference, and is not Ready while the ConfigMap is missing", () => {
    const ready = rd({ status: { lastPollTime: "t" } });
    const missing = { ok: false as const, reason: "CABundleNotFound" as const, message: "ConfigMap ci/forgejo-ca not found" };
    const without = byType(runnerDeploymentConditions(ready, { token: { ok: true }, deployment: available }));
    expect(without.CABundleValid).toBeUndefined();
    const found = byType(
      runnerDeploymentConditions(ready, { token: { ok: true }, deployment: available, caBundle: { ok: true, message: "found" } }),
    );
    expect(found.CABundleValid).toMatchObject({ status: "True", reason: "Found" });
    expect(found.Ready).toMatchObject({ status: "True" });
    const absent = byType(runnerDeploymentConditions(ready, { token: { ok: true }, deployment: available, caBundle: missing }));
    expect(absent.CABundleValid).toMatchObject({ status: "False", reason: "CABundleNotFound" });
    expect(absent.Ready).toMatchObject({
      status: "False",
      reason: "CABundleNotFound",
      message: "CABundleValid: ConfigMap ci/forgejo-ca not found",
    });
  });

  it("accepts a PEM certificate as a CA bundle and names what is wrong with anything else", () => {
    const dir = mkdtempSync(join(tmpdir(), "forgejo-arc-ca-"));
    try {
      const { cert } = selfSignedCertificate(dir, "ca");
      expect(caBundleProblem(`# our CA\n${cert}`, 'ConfigMap ci/ca key "ca.crt"')).toBeUndefined();
      expect(caBundleProblem("not a certificate", 'ConfigMap ci/ca key "ca.crt"')).toEqual({
        ok: false,
        reason: "CABundleInvalid",
        message:
          'ConfigMap ci/ca key "ca.crt" holds no PEM certificate (-----BEGIN CERTIFICATE-----); put the PEM CA certificates of Forgejo\'s TLS certificate there',
      });
      const broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
      expect(caBundleProblem(broken, "x")?.message).toMatch(/^x holds a certificate that does not parse/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("listenerUpdateReason", () => {
  const tokenSecret = "ci/forgejo-token";
  it("names a replaced token, the controller's settings when the spec is the one the Deployment was built for, nothing for a spec change", () => {
    expect(listenerUpdateReason({ tokenReplaced: true, sameSpec: true, tokenSecret })).toBe(
      ": the token in Secret ci/forgejo-token was replaced",
    );
    expect(listenerUpdateReason({ tokenReplaced: false, sameSpec: true, tokenSecret })).toBe(
      ": its spec is unchanged, so the controller's settings changed (a new version, the listener image or --listener-pod-template) or the token in Secret ci/forgejo-token",
    );
    expect(listenerUpdateReason({ tokenReplaced: false, sameSpec: false, tokenSecret })).toBe("");
  });
});

describe("registrationRefusal", () => {
  const refused = (name: string, reason: string, since: string, phase?: "Pending" | "Failed") =>
    ar({
      metadata: { name },
      status: {
        ...(phase ? { phase } : {}),
        conditions: [{ type: "Registered", status: "False", reason, message: `m-${name}`, lastTransitionTime: since }],
      },
    }) as AR;

  it("names the unfinished ActRunner whose registration Forgejo refused last (401 or 403)", () => {
    const list = [
      refused("a", "Forbidden", "2026-01-01T00:00:01Z"),
      refused("b", "Unauthorized", "2026-01-01T00:00:03Z"),
      refused("c", "Timeout", "2026-01-01T00:00:05Z"),
      refused("d", "Forbidden", "2026-01-01T00:00:09Z", "Failed"),
    ];
    expect(registrationRefusal(list)).toEqual({ actRunner: "b", reason: "Unauthorized", message: "m-b" });
    expect(registrationRefusal([list[2]!, list[3]!])).toBeUndefined();
  });

  it("makes TokenValid False with it when the listener's polls pass", () => {
    const c = byType(
      runnerDeploymentConditions(rd({ status: { lastPollTime: "2026-01-01T00:00:00Z" } }), {
        token: { ok: true },
        deployment: available,
        refusal: { actRunner: "b", reason: "Forbidden", message: "Could not register a Forgejo runner: needs write:organization" },
      }),
    );
    expect(c.TokenValid).toMatchObject({
      status: "False",
      reason: "Forbidden",
      message: "ActRunner b: Could not register a Forgejo runner: needs write:organization",
    });
    expect(c.Ready).toMatchObject({ status: "False", reason: "Forbidden" });
  });
});

describe("RunnerDeploymentReconciler", () => {
  const SECRET = "/api/v1/namespaces/ci/secrets/forgejo-token";
  let api: KubeApiFixture;

  beforeAll(async () => {
    api = await startKubeApi();
  });

  afterAll(() => api.close());

  /** A reconciler whose cache holds `cached.rd()` and its listener Deployment `cached.deployment?.()`; records its Events and the Deployment it applies. */
  function reconcilerOver(
    cached: { rd: () => RD; deployment?: () => V1Deployment | undefined },
    more: Partial<RunnerDeploymentReconcilerDeps> = {},
  ) {
    const recorded: { posted: string[]; deployment?: V1Deployment } = { posted: [] };
    const reconciler = new RunnerDeploymentReconciler({
      kc: api.kc,
      cache: {
        runnerDeployments: { get: cached.rd },
        deployments: { get: () => cached.deployment?.() },
        listenerPods: { list: () => [] },
        actRunnersOf: () => [],
      } as unknown as ClusterCache,
      apply: (object) => {
        if ((object as KubernetesObject).kind === "Deployment") recorded.deployment = object as V1Deployment;
        return Promise.resolve({ ...(object as KubernetesObject), metadata: { uid: "u", generation: 1 } });
      },
      events: {
        event: (_o: unknown, type: string, reason: string) => recorded.posted.push(`${type} ${reason}`),
      } as unknown as EventRecorder,
      logger: pino({ level: "silent" }),
      listener: { image: "forgejo-arc:test", labelPropagationExclude: [] },
      reapplyIntervalMs: 60_000,
      ...more,
    });
    return { reconciler, recorded };
  }

  it("writes the status on the version it decided from, and posts each transition's Event once, also when passes outrun the cache", async () => {
    const STATUS = "/apis/forgejo.actions.io/v1alpha1/namespaces/ci/runnerdeployments/builders/status";
    api.objects.set(SECRET, { apiVersion: "v1", kind: "Secret", data: { token: "b2xk" } });
    api.writes.length = 0;
    let cached = rd({ metadata: { generation: 1, resourceVersion: "1" } }) as RD;
    let deployment: V1Deployment | undefined;
    const { reconciler, recorded } = reconcilerOver({ rd: () => cached, deployment: () => deployment });
    const posted = recorded.posted;
    const statusWrites = () => api.writes.filter((w) => w.request === `PATCH ${STATUS}`).map((w) => w.body as RD);

    await reconciler.reconcile("ci", "builders");
    expect(statusWrites()).toHaveLength(1);
    expect(statusWrites()[0]!.metadata?.resourceVersion).toBe("1");
    const first = [...posted];
    expect(first).toContain("Normal SecretFound");
    // Passes before the cache shows that write (its Deployment, pods and ActRunners trigger them) leave it alone.
    deployment = recorded.deployment;
    await reconciler.reconcile("ci", "builders");
    expect(statusWrites()).toHaveLength(1);
    expect(posted).toEqual(first);
    // Once the cache has it, only what changed since is written and told.
    cached = { ...cached, metadata: { ...cached.metadata, resourceVersion: "2" }, status: statusWrites()[0]!.status };
    deployment = { ...recorded.deployment, status: { availableReplicas: 1 } };
    await reconciler.reconcile("ci", "builders");
    expect(statusWrites()).toHaveLength(2);
    expect(statusWrites()[1]!.metadata?.resourceVersion).toBe("2");
    expect(posted.slice(first.length)).toEqual(["Normal Available"]);
    // A write refused because the status changed since the cached version (the listener's poll) is no failure, and tells nothing.
    api.failWrites.set(STATUS, 409);
    cached = {
      ...cached,
      metadata: { ...cached.metadata, resourceVersion: "3" },
      status: { ...statusWrites()[1]!.status, conditions: [] },
    };
    const told = posted.length;
    await expect(reconciler.reconcile("ci", "builders")).resolves.toEqual(expect.any(Number));
    expect(statusWrites()).toHaveLength(3);
    expect(posted).toHaveLength(told);
    api.failWrites.clear();
  });

  it("comes back within 30 s while its token Secret or CA bundle ConfigMap is missing, else at the re-apply interval", async () => {
    const CA = "/api/v1/namespaces/ci/configmaps/forgejo-ca";
    let generation = 1;
    const withCa = (ca: boolean) =>
      rd({
        metadata: { generation: generation++ },
        spec: ca ? { caBundleConfigMapRef: { name: "forgejo-ca", key: "ca.crt" } } : {},
      }) as RD;
    let current = withCa(false);
    const { reconciler } = reconcilerOver({ rd: () => current });
    api.objects.delete(SECRET);
    expect(await reconciler.reconcile("ci", "builders")).toBeLessThanOrEqual(30_000);
    api.objects.set(SECRET, { apiVersion: "v1", kind: "Secret", data: { token: "b2xk" } });
    current = withCa(false);
    expect(await reconciler.reconcile("ci", "builders")).toBeGreaterThan(30_000);
    api.objects.delete(CA);
    current = withCa(true);
    expect(await reconciler.reconcile("ci", "builders")).toBeLessThanOrEqual(30_000);
    const dir = mkdtempSync(join(tmpdir(), "forgejo-arc-ca-"));
    try {
      api.objects.set(CA, { apiVersion: "v1", kind: "ConfigMap", data: { "ca.crt": selfSignedCertificate(dir, "ca").cert } });
      current = withCa(true);
      expect(await reconciler.reconcile("ci", "builders")).toBeGreaterThan(30_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      api.objects.delete(CA);
    }
  });

  it("reports a token replaced in the Secret once, and neither a first read, an unchanged token nor a missing Secret", async () => {
    const setToken = (token: string) => api.objects.set(SECRET, { apiVersion: "v1", kind: "Secret", data: { token } });
    let current = rd({ metadata: { generation: 1 } }) as RD;
    const replaced: string[] = [];
    const { reconciler } = reconcilerOver({ rd: () => current }, { onTokenReplaced: (rd) => replaced.push(rd.metadata!.name!) });
    // A new generation makes each pass read the Secret again (checks are kept 30 s per generation).
    const pass = async (token: string | undefined) => {
      if (token === undefined) api.objects.delete(SECRET);
      else setToken(token);
      current = { ...current, metadata: { ...current.metadata, generation: current.metadata!.generation! + 1 } };
      await reconciler.reconcile("ci", "builders");
      return [...replaced];
    };
    expect(await pass("b2xk")).toEqual([]);
    expect(await pass("b2xk")).toEqual([]);
    expect(await pass("bmV3")).toEqual(["builders"]);
    expect(await pass(undefined)).toEqual(["builders"]);
    expect(await pass("bmV3")).toEqual(["builders"]);
  });
});
