// The chart's Grafana dashboard (files/grafana-dashboard.json, generated from
// scripts/generate/dashboard.ts): every query valid PromQL (promtool), reading only metrics the code
// exports; panels laid out without overlap; the ConfigMap carrying it only when enabled.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { toolsBin } from "../../../scripts/cluster/cluster.ts";
import { CHART_DIR, render } from "../../../scripts/chart/chart.ts";
import { dashboardExpressions } from "../../../scripts/generate/dashboard.ts";
import { exportedMetricNames, readSeries } from "../../fixtures/exported-metrics.ts";

interface DashboardPanel {
  id: number;
  type: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; refId: string }[];
}
const DASHBOARD_FILE = join(CHART_DIR, "files/grafana-dashboard.json");
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as { uid: string; panels: DashboardPanel[] };
const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));

describe("Grafana dashboard", () => {
  test("is the one dashboard.ts describes, every panel with a query", () => {
    expect(queries).toEqual(dashboardExpressions());
    expect(dashboard.panels.filter((p) => p.type === "timeseries").every((p) => (p.targets ?? []).length > 0)).toBe(true);
  });

  test("promtool accepts every query (Grafana's $__rate_interval as 5m)", () => {
    const binary = join(toolsBin(), "promtool");
    if (!existsSync(binary)) throw new Error(`${binary} is missing; run \`npm run tools\` (npm test builds it)`);
    const dir = mkdtempSync(join(tmpdir(), "forgejo-arc-dashboard-"));
    try {
      const file = join(dir, "queries.yaml");
      const rules = queries.map((expr, i) => ({ record: `forgejo_arc_dashboard:query_${i}`, expr: expr.replaceAll("$__rate_interval", "5m") }));
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
      expect(execFileSync(binary, ["check", "rules", file], { encoding: "utf8", stdio: "pipe" })).toContain(
        `SUCCESS: ${queries.length} rules found`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("reads only metrics the controller, the listener and the webhooks export", async () => {
    const exported = await exportedMetricNames();
    const read = queries.flatMap((expr) => readSeries(expr, exported));
    expect(read.length).toBeGreaterThanOrEqual(queries.length);
    for (const [name, known] of read) expect([name, known]).toEqual([name, "exported"]);
  });

  test("lays panels out on Grafana's 24-column grid without overlap, with unique ids", () => {
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const taken = new Set<string>();
    for (const { gridPos } of dashboard.panels) {
      expect(gridPos.x + gridPos.w).toBeLessThanOrEqual(24);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++)
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          expect(taken.has(`${x},${y}`)).toBe(false);
          taken.add(`${x},${y}`);
        }
    }
  });

  test("the chart's ConfigMap carries it unchanged, only when enabled, labelled for Grafana's sidecar", () => {
    const isDashboard = (o: { kind: string; metadata: { name: string } }) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-dashboard");
    expect(render({}).some(isDashboard)).toBe(false);
    const [configMap] = render({
      set: { "metrics.grafanaDashboard.enabled": true, "metrics.grafanaDashboard.namespace": "monitoring" },
      showOnly: ["templates/grafana-dashboard.yaml"],
    }) as unknown as { metadata: { namespace: string; labels: Record<string, string> }; data: Record<string, string> }[];
    expect(configMap!.metadata.namespace).toBe("monitoring");
    expect(configMap!.metadata.labels.grafana_dashboard).toBe("1");
    expect(JSON.parse(configMap!.data["forgejo-arc.json"]!)).toEqual(dashboard);
  });
});
