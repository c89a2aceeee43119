// Prometheus metrics shared by both roles. Each role builds its own Registry.
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ForgejoCall } from "../forgejo/client.ts";

export function createRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry, prefix: "forgejo_arc_" });
  return registry;
}

/**
 * Counts and times every HTTP attempt against Forgejo; pass the result as ForgejoClient's onCall.
 * `atZero` are exported at 0 from the start: outcomes an alert watches with increase(), which sees
 * no increase in a series first scraped at 1.
 */
export function forgejoCallMetrics(
  registry: Registry,
  atZero: readonly Pick<ForgejoCall, "operation" | "outcome">[] = [],
): (call: ForgejoCall) => void {
  const requests = new Counter({
    name: "forgejo_arc_forgejo_requests_total",
    help: "HTTP attempts against Forgejo by operation and outcome (status code, error kind, or not_sent while the server answers no call).",
    labelNames: ["operation", "outcome"],
    registers: [registry],
  });
  for (const { operation, outcome } of atZero) requests.inc({ operation, outcome }, 0);
  const duration = new Histogram({
    name: "forgejo_arc_forgejo_request_duration_seconds",
    help: "Duration of HTTP attempts against Forgejo by operation.",
    labelNames: ["operation"],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return (call) => {
    requests.inc({ operation: call.operation, outcome: call.outcome });
    if (call.outcome !== "not_sent") duration.observe({ operation: call.operation }, call.durationSeconds);
  };
}
