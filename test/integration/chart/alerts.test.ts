// The chart's alert rules (files/prometheus-rules.yaml): valid for Prometheus, each alert firing
// and staying quiet as prometheus-rules.test.yaml expects (promtool, built from its pinned Go
// module), every metric they read one the code exports, and the PrometheusRule carrying them as they are.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT, toolsBin } from "../../../scripts/cluster/cluster.ts";
import { CHART_DIR, render } from "../../../scripts/chart/chart.ts";
import { exportedMetricNames, readSeries } from "../../fixtures/exported-metrics.ts";

const RULES_FILE = join(CHART_DIR, "files/prometheus-rules.yaml");
const RULES_TESTS = join(PROJECT_ROOT, "test/integration/chart/prometheus-rules.test.yaml");
const promtool = (args: string[]) => {
  const binary = join(toolsBin(), "promtool");
  if (!existsSync(binary)) throw new Error(`${binary} is missing; run \`npm run tools\` (npm test builds it)`);
  return execFileSync(binary, args, { encoding: "utf8", stdio: "pipe" });
};

interface RuleGroups {
  groups: { name: string; rules: { alert: string; expr: string }[] }[];
}
const rules = parse(readFileSync(RULES_FILE, "utf8")) as RuleGroups;

describe("alert rules", () => {
  test("promtool accepts them", () => {
    expect(promtool(["check", "rules", RULES_FILE])).toContain(`SUCCESS: ${rules.groups.flatMap((g) => g.rules).length} rules found`);
  });

  test("every alert fires where prometheus-rules.test.yaml says, and only there", () => {
    const tested = new Set([...readFileSync(RULES_TESTS, "utf8").matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    expect(new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)))).toEqual(tested);
    expect(promtool(["test", "rules", RULES_TESTS])).toContain("SUCCESS");
  });

  test("they read only metrics the controller and listener export", async () => {
    const exported = await exportedMetricNames();
    expect(exported.size).toBeGreaterThan(10);
    const read = rules.groups.flatMap((g) => g.rules.flatMap((r) => readSeries(r.expr, exported)));
    expect(read.length).toBeGreaterThan(0);
    for (const [name, known] of read) expect([name, known]).toEqual([name, "exported"]);
  });

  test("the chart's PrometheusRule carries them unchanged, only when enabled", () => {
    expect(render({}).some((o) => o.kind === "PrometheusRule")).toBe(false);
    const objects = render({ set: { "metrics.prometheusRule.enabled": true, "metrics.prometheusRule.labels.release": "kube-prometheus" } });
    const rule = objects.find((o) => o.kind === "PrometheusRule") as unknown as { metadata: { labels: Record<string, string> }; spec: RuleGroups };
    expect(rule.metadata.labels.release).toBe("kube-prometheus");
    expect(rule.spec).toEqual(rules);
  });
});
