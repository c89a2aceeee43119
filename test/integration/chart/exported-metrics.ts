// The names of the metrics forgejo-arc exports, for the checks that alerts and the dashboard read
// only those: what src/ and webhooks/ register with prom-client (`name: "forgejo_arc_…"`) and
// prom-client's default process metrics under the same prefix.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Registry, collectDefaultMetrics } from "prom-client";
import { PROJECT_ROOT } from "../../../scripts/cluster/cluster.ts";

export async function exportedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const dir of ["src", "webhooks"]) {
    const sources = readdirSync(join(PROJECT_ROOT, dir), { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".ts"));
    for (const file of sources)
      for (const match of readFileSync(join(PROJECT_ROOT, dir, file), "utf8").matchAll(/name: "(forgejo_arc_[a-z_]+)"/g)) names.add(match[1]!);
  }
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults, prefix: "forgejo_arc_" });
  for (const metric of await defaults.getMetricsAsJSON()) names.add(metric.name);
  return names;
}

/** The forgejo_arc_ series a PromQL expression reads, each with whether it is exported (a histogram's _bucket, _count and _sum count as its own). */
export function readSeries(expr: string, exported: Set<string>): [string, "exported" | "unknown"][] {
  return [...expr.matchAll(/forgejo_arc_[a-z_]+/g)].map(([name]) => [
    name,
    exported.has(name) || exported.has(name.replace(/_(bucket|count|sum)$/, "")) ? "exported" : "unknown",
  ]);
}
