// The controller role: informers feed two work queues (RunnerDeployments, ActRunners); workers
// reconcile keys while this replica leads. Webhooks and health are served by every replica.
import { join } from "node:path";
import type { Server } from "node:http";
import type { KubeConfig, KubernetesObject, V1Namespace } from "@kubernetes/client-node";
import express from "express";
import type { Registry } from "prom-client";
import { ForgejoError } from "../forgejo/errors.ts";
import { UnansweredServers } from "../forgejo/unanswered-servers.ts";
import { apiErrorCode, apiErrorMessage } from "../k8s/client.ts";
import { makeApplier } from "../k8s/apply.ts";
import { makeEventRecorder, type EventRecorder } from "../k8s/events.ts";
import { makeRestClient, type RestClient } from "../k8s/rest.ts";
import { LeaderElector } from "../k8s/leader.ts";
import { dryRun, missingSecrets, resourceQuotas } from "../k8s/dry-run.ts";
import type { Logger } from "../observability/log.ts";
import { forgejoCallMetrics } from "../observability/metrics.ts";
import { createApp } from "../../webhooks/app.ts";
import type { PodOptions } from "../../webhooks/dry-run.ts";
import { serve, type WebhookServer } from "../../webhooks/serve.ts";
import { ActRunnerReconciler } from "./actrunner.ts";
import { ClusterCache, keyOf, ownerRunnerDeploymentName, splitKey, type RD } from "./cache.ts";
import { podOptionsOf, type ControllerConfig } from "./config.ts";
import { ForgejoClients } from "./forgejo-clients.ts";
import { CrdCheck } from "./crd-check.ts";
import { ControllerMetrics } from "./metrics.ts";
import { OrphanSweep } from "./orphan-sweep.ts";
import { WorkQueue } from "./queue.ts";
import { RunnerDeploymentReconciler } from "./runnerdeployment.ts";
import { isFinished } from "../listener/plan.ts";

export interface ControllerDeps {
  kc: KubeConfig;
  logger: Logger;
  registry: Registry;
}

type Reconcile = (namespace: string, name: string) => Promise<number | undefined | void>;

export class Controller {
  readonly cache: ClusterCache;
  private readonly config: ControllerConfig;
  private readonly deps: ControllerDeps;
  /** Forgejo servers whose calls fail at once: one went unanswered (shared by every Forgejo client). */
  private readonly unanswered: UnansweredServers;
  private readonly rdQueue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 5 * 60_000 });
  private readonly arQueue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 5 * 60_000 });
  private readonly forgejo: ForgejoClients;
  private readonly rest: RestClient;
  private readonly rdReconciler: RunnerDeploymentReconciler;
  private readonly arReconciler: ActRunnerReconciler;
  private readonly elector?: LeaderElector;
  private readonly workers: Promise<void>[] = [];
  private readonly metrics: ControllerMetrics;
  private readonly events: EventRecorder;
  private readonly crdCheck: CrdCheck;
  /** What runner Jobs and listener Deployments are built with; the webhooks' dry-run builds its pods alike. */
  private readonly podOptions: PodOptions;
  /** kube-system's uid, read when this replica begins to lead; marks the Forgejo runners it registers. */
  private clusterId?: string;
  private orphanSweep?: OrphanSweep;
  private webhooks?: WebhookServer;
  private server?: Server;
  private reconciling = false;
  private stopping = false;

  constructor(config: ControllerConfig, deps: ControllerDeps) {
    this.config = config;
    this.deps = deps;
    this.cache = new ClusterCache(deps.kc, deps.logger, config.relistIntervalMs, config.watchNamespaces);
    this.metrics = new ControllerMetrics(deps.registry, this.cache);
    const apply = makeApplier(deps.kc);
    this.rest = makeRestClient(deps.kc);
    this.events = makeEventRecorder(this.rest, "forgejo-arc-controller", deps.logger);
    this.crdCheck = new CrdCheck(this.rest, deps.logger, deps.registry);
    this.podOptions = podOptionsOf(config);
    this.unanswered = new UnansweredServers({
      onChange: ({ server, answering, until, cause }) =>
        answering
          ? deps.logger.info({ server }, "Forgejo answers again")
          : deps.logger.warn(
              { server, until, err: cause?.message },
              "Forgejo gave no answer: its calls fail at once until a trial call after the given time gets one",
            ),
    });
    this.forgejo = new ForgejoClients(deps.kc, this.cache, {
      // ForgejoArcRunnerRegistrationsRefused watches these.
      onCall: forgejoCallMetrics(deps.registry, [
        { operation: "register_runner", outcome: "401" },
        { operation: "register_runner", outcome: "403" },
      ]),
      timeoutMs: config.forgejoTimeoutMs,
      proxy: config.proxy,
      unanswered: this.unanswered,
    });
    this.rdReconciler = new RunnerDeploymentReconciler({
      kc: deps.kc,
      cache: this.cache,
      apply,
      events: this.events,
      logger: deps.logger,
      listener: this.podOptions.listener,
      reapplyIntervalMs: config.relistIntervalMs,
      onTokenReplaced: (rd) => this.retryFailedRegistrations(rd, "the token in its Secret was replaced"),
    });
    this.arReconciler = new ActRunnerReconciler({
      kc: deps.kc,
      rest: this.rest,
      cache: this.cache,
      events: this.events,
      logger: deps.logger,
      forgejo: this.forgejo,
      job: this.podOptions.job,
      cleanupTimeoutMs: config.cleanupTimeoutMs,
      pickupCheckIntervalMs: config.pickupCheckIntervalMs,
      lostRunnerGraceMs: config.lostRunnerGraceMs,
      onPhase: (ar, phase) => this.metrics.phaseChanged(ar, phase),
      onJobCreated: (ar) => this.metrics.jobCreated(ar),
      onRunnerCleanupAbandoned: () => this.metrics.cleanupAbandoned(),
      clusterId: () => this.clusterId,
    });
    if (config.leaderElect) {
      this.elector = new LeaderElector(deps.kc, {
        namespace: config.leaderElectionNamespace,
        name: config.leaderElectionId,
        identity: config.identity,
        logger: deps.logger,
      });
    }
    this.wireEvents();
  }

  get isLeader(): boolean {
    return this.reconciling;
  }

  /** Serves webhooks and health at once; reconciles once the caches synced and this replica leads. */
  async start(onLostLeadership: () => void = () => process.exit(1)): Promise<void> {
    await this.serveHealth();
    if (this.config.webhookPort > 0) await this.serveWebhooks();
    // Alongside the caches, which wait for missing CRDs without saying so; start-up does not wait for it.
    void this.crdCheck.start();
    await this.cache.start();
    this.deps.logger.info("Synced caches");
    if (this.elector) await this.elector.acquire(onLostLeadership);
    if (this.stopping) return;
    const existing = await this.untilAnswered("Listing ActRunners at the start of leadership", () => this.cache.listActRunnersNow());
    if (!existing) return;
    this.clusterId = await this.readClusterId();
    if (this.stopping) return;
    this.arReconciler.beginTerm(existing);
    this.reconciling = true;
    for (const ar of this.cache.actRunners.list()) this.arQueue.add(keyOf(ar));
    for (const rd of this.cache.runnerDeployments.list()) this.rdQueue.add(keyOf(rd));
    for (let i = 0; i < this.config.workers; i++) {
      this.workers.push(this.work("runnerdeployment", this.rdQueue, (ns, n) => this.rdReconciler.reconcile(ns, n)));
      this.workers.push(this.work("actrunner", this.arQueue, (ns, n) => this.arReconciler.reconcile(ns, n)));
    }
    this.deps.logger.info({ workers: this.config.workers }, "Started reconciling");
    this.startOrphanSweep();
  }

  private startOrphanSweep(): void {
    // Without the cluster's identity readClusterId has said why there is no sweep.
    if (this.config.orphanSweepIntervalMs === 0 || !this.clusterId) return;
    this.orphanSweep = new OrphanSweep({
      cache: this.cache,
      forgejo: this.forgejo,
      events: this.events,
      logger: this.deps.logger,
      clusterId: this.clusterId,
      namespaces: this.config.watchNamespaces,
      onDeleted: (count) => this.metrics.orphansDeleted.inc(count),
      onSweep: (result) => this.metrics.orphanSweeps.inc({ result }),
    });
    this.orphanSweep.start(this.config.orphanSweepIntervalMs);
  }

  /**
   * The cluster's identity: namespace kube-system's uid, the same for every replica and release. Retried
   * while the API server errs; undefined (runners unmarked, no sweep) when it is forbidden or absent.
   */
  private async readClusterId(): Promise<string | undefined> {
    const namespace = await this.untilAnswered("Reading namespace kube-system (the cluster's identity)", async () => {
      try {
        return await this.rest.request<V1Namespace>("GET", "/api/v1/namespaces/kube-system");
      } catch (error) {
        const code = apiErrorCode(error);
        if (code !== 403 && code !== 404) throw error;
        this.deps.logger.warn(
          { err: apiErrorMessage(error) },
          "Cannot read namespace kube-system: Forgejo runners are registered without the cluster's identity and the orphan sweep is off",
        );
        return null;
      }
    });
    return namespace?.metadata?.uid;
  }

  /** `call`'s answer, retried with backoff while it fails; undefined when the controller stops first. */
  private async untilAnswered<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        return await call();
      } catch (error) {
        const delay = Math.min(500 * 2 ** (attempt - 1), 30_000);
        this.deps.logger.warn({ err: apiErrorMessage(error), retryInMs: delay }, `${what} failed`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.crdCheck.stop();
    this.rdQueue.shutDown();
    this.arQueue.shutDown();
    await this.orphanSweep?.stop();
    await Promise.all(this.workers);
    // Best effort within the pod's grace period (30 s), which the Lease's release must not miss.
    await this.events.flush(5_000);
    await this.elector?.release();
    await this.cache.stop();
    this.forgejo.close();
    this.rest.close();
    await this.webhooks?.close();
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }

  private wireEvents(): void {
    const rdKeyOfOwner = (object: KubernetesObject) => {
      const owner = ownerRunnerDeploymentName(object);
      return owner ? `${object.metadata?.namespace}/${owner}` : undefined;
    };
    // The listener's reports name ActRunners to look at again: jobs that left Forgejo's list, jobs a runner took, jobs that ended.
    const onRd = (rd: KubernetesObject) => {
      this.rdQueue.add(keyOf(rd));
      const status = (rd as RD).status;
      for (const name of [...(status?.vanishedActRunners ?? []), ...(status?.startedActRunners ?? []), ...(status?.endedActRunners ?? [])])
        this.arQueue.add(`${rd.metadata?.namespace}/${name}`);
    };
    // RunnerDeployments whose listener's last poll failed: when one succeeds again, Forgejo is back.
    const pollsFailing = new Set<string>();
    const onListenerPolls = (rd: KubernetesObject) => {
      if ((rd as RD).status?.lastPollError) pollsFailing.add(keyOf(rd));
      else if (pollsFailing.delete(keyOf(rd))) {
        const server = URL.parse((rd as RD).spec.forgejoServer)?.origin;
        if (server) this.unanswered.heardFrom(server);
        this.retryFailedRegistrations(rd as RD, "Forgejo answers its listener's polls again");
      }
    };
    this.cache.runnerDeployments.on("add", onListenerPolls);
    this.cache.runnerDeployments.on("add", (rd) => this.metrics.runnerDeploymentSeen(rd as RD));
    this.cache.runnerDeployments.on("update", onListenerPolls);
    this.cache.runnerDeployments.on("delete", (rd) => {
      pollsFailing.delete(keyOf(rd));
      this.metrics.removeRunnerDeployment(rd as RD);
    });
    for (const event of ["add", "update", "delete"] as const) {
      this.cache.runnerDeployments.on(event, onRd);
      this.cache.actRunners.on(event, (ar) => {
        if (event === "delete") this.arReconciler.forget(ar);
        this.arQueue.add(keyOf(ar));
        // Its status counts them (activeActRunners, RunnersHealthy): a burst of changes is one status write a second.
        const owner = rdKeyOfOwner(ar);
        if (owner) this.rdQueue.addAfter(owner, 1_000);
      });
      this.cache.deployments.on(event, (deployment) => {
        const owner = rdKeyOfOwner(deployment);
        if (owner) this.rdQueue.add(owner);
      });
      this.cache.jobs.on(event, (job) => {
        const owner = job.metadata?.ownerReferences?.find((o) => o.kind === "ActRunner");
        if (owner) this.arQueue.add(`${job.metadata?.namespace}/${owner.name}`);
      });
      // By its Deployment: the pod's runner-deployment label holds a shortened name for long ones.
      this.cache.listenerPods.on(event, (pod) => {
        const deployment = this.cache.deploymentOf(pod);
        const owner = deployment && rdKeyOfOwner(deployment);
        if (owner) this.rdQueue.add(owner);
      });
    }
  }

  /**
   * The RunnerDeployment's ActRunners whose registration failed (Registered=False) are tried again at
   * once instead of after their backoff (up to 5 min), now that it may succeed.
   */
  private retryFailedRegistrations(rd: RD, why: string): void {
    const failed = this.cache
      .actRunnersOf(rd)
      .filter((ar) => !isFinished(ar) && ar.status?.conditions?.some((c) => c.type === "Registered" && c.status === "False"));
    for (const ar of failed) {
      this.arQueue.forget(keyOf(ar));
      this.arQueue.add(keyOf(ar));
    }
    if (failed.length > 0) this.deps.logger.info({ rd: keyOf(rd), actRunners: failed.length }, `Trying failed registrations again: ${why}`);
  }

  private async work(kind: string, queue: WorkQueue, reconcile: Reconcile): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const { namespace, name } = splitKey(key);
      const stopTimer = this.metrics.duration.startTimer({ controller: kind });
      try {
        const requeue = await reconcile(namespace, name);
        queue.forget(key);
        if (typeof requeue === "number") queue.addAfter(key, requeue);
        stopTimer({ result: "success" });
      } catch (error) {
        stopTimer({ result: "error" });
        this.metrics.errors.inc({ controller: kind });
        const delay = queue.addRateLimited(key, error instanceof ForgejoError ? error.retryAfterMs : undefined);
        this.deps.logger.warn(
          { [kind === "actrunner" ? "ar" : "rd"]: key, retryInMs: delay, err: error instanceof Error ? error.message : String(error) },
          "Reconcile failed",
        );
      } finally {
        queue.done(key);
      }
    }
  }

  private async serveWebhooks(): Promise<void> {
    const app = createApp({
      // Its lines keep component "controller" (the process) and add which server wrote them.
      logger: this.deps.logger.child({ server: "webhooks" }),
      registry: this.deps.registry,
      dryRun: dryRun(this.deps.kc),
      podOptions: this.podOptions,
      runnerDeployments: () => this.cache.runnerDeployments.list(),
      resourceQuotas: resourceQuotas(this.deps.kc),
      missingSecrets: missingSecrets(this.deps.kc),
      watchNamespaces: this.config.watchNamespaces,
      ready: () => true,
    });
    this.webhooks = await serve(app, {
      host: this.config.webhookHost,
      port: this.config.webhookPort,
      certFile: join(this.config.webhookCertDir, "tls.crt"),
      keyFile: join(this.config.webhookCertDir, "tls.key"),
      logger: this.deps.logger,
    });
  }

  private async serveHealth(): Promise<void> {
    const app = express();
    app.get("/healthz", (_req, res) => res.type("text/plain").send("ok"));
    app.get("/readyz", (_req, res) => {
      const ready = this.cache.synced;
      res.status(ready ? 200 : 503).json({ synced: this.cache.synced, leader: this.reconciling });
    });
    app.get("/metrics", async (_req, res) => {
      res.type(this.deps.registry.contentType).send(await this.deps.registry.metrics());
    });
    const server = app.listen(this.config.port, this.config.host);
    this.server = server;
    await new Promise((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
  }
}
