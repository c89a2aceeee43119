// docs/operations.md names every metric forgejo-arc exports; this keeps that list true to what src/
// and webhooks/ register (the same scan the chart's alert and dashboard checks use).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { exportedMetricNames } from "../../fixtures/exported-metrics.ts";

const DOC = readFileSync(resolve(import.meta.dirname, "../../../docs/operations.md"), "utf8");
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
});
