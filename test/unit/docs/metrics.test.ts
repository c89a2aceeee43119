// docs/operations.md names every metric forgejo-arc exports and every alert the chart ships; this
// keeps those lists true to what src/ and webhooks/ register (the same scan the chart's alert and
// dashboard checks use) and to chart/forgejo-arc/files/prometheus-rules.yaml.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { exportedMetricNames } from "../../fixtures/exported-metrics.ts";
import { PROJECT_ROOT, readDoc, section } from "./markdown.ts";

const DOC = readDoc("operations.md");
const RULES = parse(readFileSync(resolve(PROJECT_ROOT, "chart/forgejo-arc/files/prometheus-rules.yaml"), "utf8")) as {
  groups: { rules: { alert?: string; labels?: Record<string, string> }[] }[];
};
const mentions = [...DOC.matchAll(/forgejo_arc_[a-z_]+\*?/g)].map(([mention]) => mention);
/** Names written out in full, and the prefixes written as `forgejo_arc_process_*`. */
const documented = new Set(mentions.filter((m) => !m.endsWith("*")));
const documentedPrefixes = mentions.filter((m) => m.endsWith("*")).map((m) => m.slice(0, -1));

describe("docs/operations.md metrics", () => {
  it("names every metric the controller, the listener and the webhooks export (Node's by their prefixes)", async () => {
    const undocumented = [...(await exportedMetricNames())].filter(
      (name) => !documented.has(name) && !documentedPrefixes.some((prefix) => name.startsWith(prefix)),
    );
    expect(undocumented).toEqual([]);
  });

  it("names no metric that is not exported", async () => {
    const exported = await exportedMetricNames();
    expect([...documented].filter((name) => !exported.has(name))).toEqual([]);
  });

  it("lists in its Alerts table every alert of the chart's rule file, each of the severity it says", () => {
    const alerts = RULES.groups.flatMap((group) => group.rules).filter((rule) => rule.alert);
    const alertsSection = section(DOC, "Alerts", "docs/operations.md");
    const listed = [...alertsSection.matchAll(/^\| `(ForgejoArc[A-Za-z]+)`/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(alerts.map((rule) => rule.alert).sort());
    expect(alertsSection).toContain("All are `severity: warning`");
    expect(alerts.filter((rule) => rule.labels?.severity !== "warning")).toEqual([]);
  });
});
