// cluster:up is idempotent and cluster:down stops exactly what it started. Runs a second,
// throwaway cluster in its own state folder so the suite's cluster is not disturbed.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterDown, clusterUp, isAlive, kubectl } from "../../../scripts/cluster/cluster.ts";

function processesRunning(binaries: string[]): string[] {
  const table = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return table.split("\n").filter((line) => binaries.some((binary) => line.includes(binary)));
}

describe("cluster lifecycle", () => {
  const stateDir = join(mkdtempSync(join(tmpdir(), "forgejo-arc-lifecycle-")), "cluster");
  afterAll(() => clusterDown(stateDir));

  it("starts, reports a second start as running, and stops every process it started", async () => {
    const first = await clusterUp(stateDir);
    expect(first.started).toBe(true);
    expect(first.state.processes.map((p) => p.name)).toEqual([
      "etcd",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
      "kwok",
    ]);
    for (const p of first.state.processes) {
      expect(Number(readFileSync(join(stateDir, `${p.name}.pid`), "utf8"))).toBe(p.pid);
      expect(existsSync(join(stateDir, "logs", `${p.name}.log`))).toBe(true);
    }
    expect(kubectl(first.state, ["version", "-o", "json"])).toContain('"gitVersion": "v1.36.3"');
    expect(kubectl(first.state, ["get", "nodes", "-o", "jsonpath={.items[0].status.conditions[?(@.type=='Ready')].status}"])).toBe("True");

    const second = await clusterUp(stateDir);
    expect(second.started).toBe(false);
    expect(second.state.processes.map((p) => p.pid)).toEqual(first.state.processes.map((p) => p.pid));

    const stopped = await clusterDown(stateDir);
    expect(stopped.map((p) => p.pid)).toEqual(first.state.processes.map((p) => p.pid));
    for (const p of stopped) expect(isAlive(p.pid)).toBe(false);
    expect(processesRunning([stateDir])).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
  }, 120_000);
});
