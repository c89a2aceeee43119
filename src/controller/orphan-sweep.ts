// The orphan sweep: deletes Forgejo runners this cluster registered for ActRunners that no longer
// exist — those a finalizer gave up on while Forgejo was unreachable (--runner-cleanup-timeout), and
// a registration answered after its ActRunner was gone. Forgejo never removes an ephemeral runner
// that got no job (forgejo.md). Only runners whose description carries this cluster's identity are
// touched (forgejoRunnerDescription), so clusters sharing an organization leave each other's alone;
// a runner running a job is left to Forgejo, which deletes it when the job ends. Each scope that a
// RunnerDeployment names is listed once per sweep, with the first of its RunnerDeployments' tokens
// that works.
import { forgejoServerKey } from "../api/overlap.ts";
import type { EventRecorder } from "../k8s/events.ts";
import type { Logger } from "../observability/log.ts";
import { describeScope, scopeFromSpec, scopePrefix, type ForgejoScope } from "../forgejo/scope.ts";
import type { ForgejoRunner } from "../forgejo/types.ts";
import { keyOf, type ClusterCache, type RD } from "./cache.ts";
import type { ForgejoClients } from "./forgejo-clients.ts";
import { forgejoRunnerOwner } from "./runner-job.ts";

/**
 * Runners of this cluster whose ActRunner is not among `liveUids`, and that run no job; with
 * `namespaces` (--watch-namespaces), only those of ActRunners in them: the others' are not in the cache.
 */
export function orphanRunners(
  runners: ForgejoRunner[],
  clusterId: string,
  liveUids: ReadonlySet<string>,
  namespaces?: readonly string[],
): ForgejoRunner[] {
  return runners.filter((runner) => {
    const owner = forgejoRunnerOwner(runner.description);
    if (owner?.clusterId !== clusterId || (namespaces && !namespaces.includes(owner.namespace))) return false;
    return !liveUids.has(owner.uid) && runner.status !== "active";
  });
}

/** The RunnerDeployments of each Forgejo scope (server and owner), by namespace/name; those being deleted left out. */
export function scopesToSweep(runnerDeployments: RD[]): RD[][] {
  const byScope = new Map<string, RD[]>();
  for (const rd of [...runnerDeployments].sort((a, b) => keyOf(a).localeCompare(keyOf(b)))) {
    if (rd.metadata?.deletionTimestamp) continue;
    const key = `${forgejoServerKey(rd.spec.forgejoServer)}|${scopePrefix(scopeFromSpec(rd.spec))}`;
    byScope.set(key, [...(byScope.get(key) ?? []), rd]);
  }
  return [...byScope.values()];
}

export interface OrphanSweepDeps {
  cache: ClusterCache;
  forgejo: ForgejoClients;
  events: EventRecorder;
  logger: Logger;
  clusterId: string;
  /** --watch-namespaces: runners of ActRunners elsewhere are left alone. */
  namespaces?: readonly string[];
  onDeleted?: (count: number) => void;
  onSweep?: (result: "success" | "error") => void;
}

const NAMES_IN_EVENT = 10;

export class OrphanSweep {
  private readonly deps: OrphanSweepDeps;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(deps: OrphanSweepDeps) {
    this.deps = deps;
  }

  /** Sweeps every intervalMs, the first time one interval from now. */
  start(intervalMs: number): void {
    const next = () => {
      this.timer = setTimeout(() => {
        this.running = this.sweep().finally(() => {
          this.running = undefined;
          if (!this.stopped) next();
        });
      }, intervalMs);
      this.timer.unref();
    };
    next();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over every scope; a scope that fails is logged and tried again at the next sweep. */
  async sweep(): Promise<void> {
    for (const runnerDeployments of scopesToSweep(this.deps.cache.runnerDeployments.list())) {
      if (this.stopped) return;
      try {
        await this.sweepScope(runnerDeployments);
        this.deps.onSweep?.("success");
      } catch (error) {
        this.deps.onSweep?.("error");
        this.deps.logger.warn(
          { rd: keyOf(runnerDeployments[0]!), err: error instanceof Error ? error.message : String(error) },
          "Orphan runner sweep failed for this scope; trying again at the next sweep",
        );
      }
    }
  }

  /** The scope's runners, listed with the first RunnerDeployment's token that works (one may name a missing Secret). */
  private async listRunners(runnerDeployments: RD[]) {
    let lastError: unknown;
    for (const rd of runnerDeployments) {
      try {
        const { client, scope } = await this.deps.forgejo.forRunnerDeployment(rd);
        return { rd, client, scope, runners: await client.listRunners(scope) };
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private async sweepScope(runnerDeployments: RD[]): Promise<void> {
    const { rd, client, scope, runners } = await this.listRunners(runnerDeployments);
    // Read after the list: an ActRunner is cached before its runner is registered, so every runner
    // listed whose ActRunner still exists is matched.
    const liveUids = new Set(this.deps.cache.actRunners.list().map((ar) => ar.metadata!.uid!));
    const deleted: string[] = [];
    let failure: unknown;
    for (const runner of orphanRunners(runners, this.deps.clusterId, liveUids, this.deps.namespaces)) {
      try {
        if ((await client.deleteRunner(scope, runner.id)) === "absent") continue;
      } catch (error) {
        failure ??= error;
        continue;
      }
      deleted.push(runner.name);
      this.deps.logger.info(
        { rd: keyOf(rd), runnerId: runner.id, runner: runner.name, scope: scopePrefix(scope) },
        "Deleted a Forgejo runner whose ActRunner no longer exists",
      );
    }
    if (deleted.length > 0) this.report(rd, scope, deleted);
    if (failure) throw failure;
  }

  private report(rd: RD, scope: ForgejoScope, deleted: string[]): void {
    this.deps.onDeleted?.(deleted.length);
    const names = deleted.slice(0, NAMES_IN_EVENT).join(", ") + (deleted.length > NAMES_IN_EVENT ? ", …" : "");
    this.deps.events.event(
      rd,
      "Normal",
      "OrphanRunnersDeleted",
      `Deleted ${deleted.length} Forgejo runner(s) of ${describeScope(scope)} whose ActRunners no longer exist: ${names}`,
    );
  }
}
