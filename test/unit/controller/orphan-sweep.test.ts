import pino from "pino";
import type { ClusterCache } from "../../../src/controller/cache.ts";
import type { ForgejoClients } from "../../../src/controller/forgejo-clients.ts";
import { OrphanSweep, orphanRunners, scopesToSweep } from "../../../src/controller/orphan-sweep.ts";
import { forgejoRunnerDescription, forgejoRunnerOwner } from "../../../src/controller/runner-job.ts";
import type { ForgejoRunner } from "../../../src/forgejo/types.ts";
import type { RunnerDeployment } from "../../../src/generated/api.ts";
import { ar, rd } from "../../fixtures/resources.ts";

const CLUSTER = "6a1c9e1e-0b7d-4c1e-9f0a-2d3e4f5a6b7c";
const OTHER_CLUSTER = "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b";

function runner(id: number, description: string, status = "offline"): ForgejoRunner {
  return { id, uuid: `uuid-${id}`, name: `k8s-ci-r-${id}`, status, ephemeral: true, description };
}

function marked(uid: string, cluster = CLUSTER, namespace = "ci"): string {
  return forgejoRunnerDescription(ar({ metadata: { name: "r", namespace, uid } }), cluster);
}

describe("runner description", () => {
  it("names the ActRunner, its job, and with a cluster identity the ActRunner's uid and the cluster", () => {
    const runnerFor = ar({ metadata: { name: "builders-42-1", namespace: "ci", uid: "uid-1" }, spec: { forgejoJobID: 42 } });
    expect(forgejoRunnerDescription(runnerFor, CLUSTER)).toBe(
      `forgejo-arc: ActRunner ci/builders-42-1 for job 42 (uid uid-1, cluster ${CLUSTER})`,
    );
    expect(forgejoRunnerOwner(forgejoRunnerDescription(runnerFor, CLUSTER))).toEqual({ namespace: "ci", uid: "uid-1", clusterId: CLUSTER });
  });

  it("carries no owner without a cluster identity, and reads none from other descriptions", () => {
    const runnerFor = ar({ metadata: { name: "builders-42-1", namespace: "ci", uid: "uid-1" }, spec: { forgejoJobID: 42 } });
    expect(forgejoRunnerDescription(runnerFor, undefined)).toBe("forgejo-arc: ActRunner ci/builders-42-1 for job 42");
    expect(forgejoRunnerOwner(forgejoRunnerDescription(runnerFor, undefined))).toBeUndefined();
    expect(forgejoRunnerOwner(undefined)).toBeUndefined();
    expect(forgejoRunnerOwner("a runner somebody registered by hand")).toBeUndefined();
  });
});

describe("orphanRunners", () => {
  it("picks this cluster's runners whose ActRunner is gone", () => {
    const runners = [runner(1, marked("gone")), runner(2, marked("live"))];
    expect(orphanRunners(runners, CLUSTER, new Set(["live"])).map((r) => r.id)).toEqual([1]);
  });

  it("leaves another cluster's runners, unmarked runners and runners running a job", () => {
    const runners = [
      runner(1, marked("gone", OTHER_CLUSTER)),
      runner(2, "forgejo-arc: ActRunner ci/r for job 1"),
      runner(3, ""),
      runner(4, marked("gone"), "active"),
      runner(5, marked("gone"), "idle"),
    ];
    expect(orphanRunners(runners, CLUSTER, new Set()).map((r) => r.id)).toEqual([5]);
  });

  it("with --watch-namespaces, leaves the runners of ActRunners in other namespaces, which the cache does not hold", () => {
    const runners = [runner(1, marked("gone", CLUSTER, "team-a")), runner(2, marked("elsewhere", CLUSTER, "team-b"))];
    expect(orphanRunners(runners, CLUSTER, new Set(), ["team-a"]).map((r) => r.id)).toEqual([1]);
    expect(orphanRunners(runners, CLUSTER, new Set()).map((r) => r.id)).toEqual([1, 2]);
  });
});

describe("scopesToSweep", () => {
  it("groups RunnerDeployments by server and scope, by namespace/name, and skips those being deleted", () => {
    const picked = scopesToSweep([
      rd({ metadata: { name: "b", namespace: "ci" } }),
      rd({ metadata: { name: "a", namespace: "ci" } }),
      rd({ metadata: { name: "c", namespace: "ci" }, spec: { forgejoServer: "https://code.example.com/" } }),
      rd({ metadata: { name: "d", namespace: "ci" }, spec: { organization: undefined, repository: "acme/app" } }),
      rd({ metadata: { name: "e", namespace: "ci" }, spec: { forgejoServer: "https://other.example.com" } }),
      rd({ metadata: { name: "f", namespace: "ci", deletionTimestamp: new Date() }, spec: { organization: "gone" } }),
    ]);
    expect(picked.map((group) => group.map((r) => r.metadata?.name))).toEqual([["a", "b", "c"], ["d"], ["e"]]);
  });
});

describe("OrphanSweep.sweep", () => {
  function sweepWith(options: { failDeleteOf?: number[]; brokenToken?: string[] }) {
    const runners = [runner(1, marked("gone-1")), runner(2, marked("gone-2")), runner(3, marked("live"))];
    const deletedIds: number[] = [];
    const client = {
      listRunners: async () => runners,
      deleteRunner: async (_scope: unknown, id: number) => {
        if (options.failDeleteOf?.includes(id)) throw new Error(`Forgejo answered 500 deleting runner ${id}`);
        deletedIds.push(id);
        return "deleted" as const;
      },
    };
    const recorded: { object: string; reason: string; message: string }[] = [];
    const counts = { deleted: 0, success: 0, error: 0 };
    const sweep = new OrphanSweep({
      cache: {
        runnerDeployments: { list: () => [rd({ metadata: { name: "b" } }), rd({ metadata: { name: "a" } })] },
        actRunners: { list: () => [ar({ metadata: { uid: "live" } })] },
      } as unknown as ClusterCache,
      forgejo: {
        forRunnerDeployment: async (owner: RunnerDeployment) => {
          if (options.brokenToken?.includes(owner.metadata!.name!)) throw new Error(`Secret ci/${owner.metadata!.name} not found`);
          return { client, scope: { kind: "organization", organization: "acme" } };
        },
      } as unknown as ForgejoClients,
      events: {
        event: (object, _type, reason, message) => recorded.push({ object: object.metadata!.name!, reason, message }),
        flush: async () => undefined,
      },
      logger: pino({ level: "silent" }),
      clusterId: CLUSTER,
      onDeleted: (count) => (counts.deleted += count),
      onSweep: (result) => counts[result]++,
    });
    return { sweep, deletedIds, recorded, counts };
  }

  it("deletes the scope's orphans with the first token that works and reports them on that RunnerDeployment", async () => {
    const { sweep, deletedIds, recorded, counts } = sweepWith({ brokenToken: ["a"] });
    await sweep.sweep();
    expect(deletedIds).toEqual([1, 2]);
    expect(recorded).toEqual([
      {
        object: "b",
        reason: "OrphanRunnersDeleted",
        message: "Deleted 2 Forgejo runner(s) of organization acme whose ActRunners no longer exist: k8s-ci-r-1, k8s-ci-r-2",
      },
    ]);
    expect(counts).toEqual({ deleted: 2, success: 1, error: 0 });
  });

  it("goes on past a runner it cannot delete, reports the others, and counts the scope's sweep as failed", async () => {
    const { sweep, deletedIds, recorded, counts } = sweepWith({ failDeleteOf: [1] });
    await sweep.sweep();
    expect(deletedIds).toEqual([2]);
    expect(recorded.map((e) => [e.object, e.message])).toEqual([
      ["a", "Deleted 1 Forgejo runner(s) of organization acme whose ActRunners no longer exist: k8s-ci-r-2"],
    ]);
    expect(counts).toEqual({ deleted: 1, success: 0, error: 1 });
  });

  it("counts a scope none of whose tokens works as failed, and deletes nothing", async () => {
    const { sweep, deletedIds, counts } = sweepWith({ brokenToken: ["a", "b"] });
    await sweep.sweep();
    expect(deletedIds).toEqual([]);
    expect(counts).toEqual({ deleted: 0, success: 0, error: 1 });
  });
});
