import { Registry } from "prom-client";
import { forgejoCallMetrics } from "../../../src/observability/metrics.ts";

async function requestSeries(registry: Registry): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === "forgejo_arc_forgejo_requests_total")!;
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.operation} ${v.labels.outcome}`, v.value]));
}

describe("forgejoCallMetrics", () => {
  it("exports the outcomes it is given at 0 before any call, and counts calls by operation and outcome", async () => {
    const registry = new Registry();
    const onCall = forgejoCallMetrics(registry, [{ operation: "register_runner", outcome: "403" }]);
    expect(await requestSeries(registry)).toEqual({ "register_runner 403": 0 });

    onCall({ operation: "register_runner", method: "POST", outcome: "403", durationSeconds: 0.01 });
    onCall({ operation: "list_jobs", method: "GET", outcome: "200", durationSeconds: 0.02 });
    onCall({ operation: "list_jobs", method: "GET", outcome: "not_sent", durationSeconds: 0 });
    expect(await requestSeries(registry)).toEqual({ "register_runner 403": 1, "list_jobs 200": 1, "list_jobs not_sent": 1 });
  });

  it("exports no series before a call when given none", async () => {
    const registry = new Registry();
    forgejoCallMetrics(registry);
    expect(await requestSeries(registry)).toEqual({});
  });
});
