import request from "supertest";
import { Registry } from "prom-client";
import { WEBHOOK_PATHS } from "../../../webhooks/app.ts";
import { jest } from "@jest/globals";
import { ar, rd, review } from "../../fixtures/resources.ts";
import { testApp } from "../../fixtures/webhook-app.ts";

const paths = Object.values(WEBHOOK_PATHS);

describe("admission envelope", () => {
  it.each(paths)("%s answers a DELETE with allowed at once, echoing the uid", async (path) => {
    const body = review({ operation: "DELETE", oldObject: rd() });
    const res = await request(testApp()).post(path).send(body);
    expect(res.status).toBe(200);
    expect(res.body.response).toEqual({ uid: body.request!.uid, allowed: true });
  });

  it.each([
    [WEBHOOK_PATHS.mutateRunnerDeployments, rd({ spec: { pollInterval: "1s" } })],
    [WEBHOOK_PATHS.validateRunnerDeployments, rd({ spec: { pollInterval: "1s" } })],
    [WEBHOOK_PATHS.validateActRunners, ar({ spec: { labels: "x:vm" } })],
  ])("%s allows an UPDATE that keeps the spec (a finalizer removed) without the rules, which would deny it now", async (path, old) => {
    const dryRun = jest.fn(async () => ({
      refusal: "forbidden: unable to create new content in namespace ci because it is being terminated",
      warnings: [],
    }));
    const updated = { ...old, metadata: { ...old.metadata, finalizers: [] } };
    const body = review({
      operation: "UPDATE",
      object: updated,
      oldObject: { ...old, metadata: { ...old.metadata, finalizers: ["x/hold"] } },
    });
    const res = await request(testApp({ dryRun })).post(path).send(body);
    expect(res.body.response).toEqual({ uid: body.request!.uid, allowed: true });
    expect(dryRun).not.toHaveBeenCalled();
    // The same spec changed in any way is checked.
    const changed = review({ operation: "UPDATE", object: { ...updated, spec: { ...updated.spec, maxRunners: 2 } }, oldObject: old });
    expect((await request(testApp({ dryRun })).post(path).send(changed)).body.response.allowed).toBe(false);
  });

  it("checks a RunnerDeployment UPDATE that changes only labels it passes on, like a spec change, unless it is being deleted", async () => {
    const dryRun = jest.fn(async () => ({ refusal: "jobs.batch is forbidden: Jobs must carry a team label", warnings: [] }));
    const old = rd({ metadata: { labels: { team: "a", "argocd.argoproj.io/instance": "ci" } } });
    const relabelled = (labels: Record<string, string>, deletionTimestamp?: string) =>
      review({ operation: "UPDATE", object: { ...old, metadata: { ...old.metadata, labels, deletionTimestamp } }, oldObject: old });
    const allowed = async (body: ReturnType<typeof review>) =>
      (await request(testApp({ dryRun })).post(WEBHOOK_PATHS.validateRunnerDeployments).send(body)).body.response.allowed;
    // A label passed on removed: the runner Jobs and the listener's objects would lose it.
    expect(await allowed(relabelled({ "argocd.argoproj.io/instance": "ci" }))).toBe(false);
    expect(dryRun).toHaveBeenCalled();
    dryRun.mockClear();
    // Only a label that is not passed on changed, or the object is being deleted: not checked.
    expect(await allowed(relabelled({ team: "a", "argocd.argoproj.io/instance": "other" }))).toBe(true);
    expect(await allowed(relabelled({}, "2026-11-30T00:00:00Z"))).toBe(true);
    expect(dryRun).not.toHaveBeenCalled();
  });

  it.each(paths)("%s refuses an empty body with 400", async (path) => {
    const res = await request(testApp()).post(path).set("Content-Type", "application/json");
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid AdmissionReview: body is empty; send an AdmissionReview");
  });

  it.each(paths)("%s refuses malformed JSON with 400", async (path) => {
    const res = await request(testApp()).post(path).set("Content-Type", "application/json").send('{"kind": "AdmissionReview",');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/^malformed JSON/);
  });

  it.each(paths)("%s refuses a wrong content type with 400", async (path) => {
    const res = await request(testApp())
      .post(path)
      .set("Content-Type", "text/plain")
      .send(JSON.stringify(review({ object: rd() })));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('Content-Type must be application/json, got "text/plain"');
  });

  it.each([
    ["another kind", { apiVersion: "admission.k8s.io/v1", kind: "Pod" }, 'kind must be "AdmissionReview", got "Pod"'],
    [
      "an old apiVersion",
      { apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview" },
      'apiVersion must be "admission.k8s.io/v1", got "admission.k8s.io/v1beta1"',
    ],
    ["no request", { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }, "request is missing"],
    [
      "no uid",
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { operation: "CREATE", object: {} } },
      "request.uid is missing",
    ],
    [
      "no object",
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "u", operation: "CREATE" } },
      "request.object is missing",
    ],
  ])("refuses an AdmissionReview with %s with 400", async (_title, body, message) => {
    const res = await request(testApp()).post(WEBHOOK_PATHS.validateRunnerDeployments).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(`invalid AdmissionReview: ${message}`);
  });

  it("refuses a body over the limit with 413", async () => {
    const body = review({ object: rd({ metadata: { annotations: { big: "x".repeat(4096) } } }) });
    const res = await request(testApp({ bodyLimit: "1kb" }))
      .post(WEBHOOK_PATHS.validateRunnerDeployments)
      .send(body);
    expect(res.status).toBe(413);
    expect(res.body.error).toBe("request body too large");
  });

  it("answers 404 for an unknown path", async () => {
    const res = await request(testApp())
      .post("/validate/pods")
      .send(review({ object: rd() }));
    expect(res.status).toBe(404);
    expect(res.body.error).toBe("no route for POST /validate/pods");
  });

  it("serves /healthz and /readyz following the ready callback", async () => {
    let ready = false;
    const app = testApp({ ready: () => ready });
    expect((await request(app).get("/healthz")).status).toBe(200);
    expect((await request(app).get("/readyz")).status).toBe(503);
    ready = true;
    expect((await request(app).get("/readyz")).status).toBe(200);
  });

  it("counts requests by path and result in /metrics", async () => {
    const app = testApp({ registry: new Registry() });
    await request(app)
      .post(WEBHOOK_PATHS.validateRunnerDeployments)
      .send(review({ object: rd({ spec: { labels: "x:host" } }) }));
    await request(app)
      .post(WEBHOOK_PATHS.validateRunnerDeployments)
      .send(review({ object: rd({ spec: { pollInterval: "1s" } }) }));
    await request(app)
      .post(WEBHOOK_PATHS.mutateRunnerDeployments)
      .send(review({ object: rd({ spec: { pollInterval: undefined } }) }));
    await request(app).post(WEBHOOK_PATHS.validateRunnerDeployments).set("Content-Type", "application/json");
    const metrics = (await request(app).get("/metrics")).text;
    expect(metrics).toContain('forgejo_arc_webhook_requests_total{path="/validate/runnerdeployments",result="allowed"} 1');
    expect(metrics).toContain('forgejo_arc_webhook_requests_total{path="/validate/runnerdeployments",result="denied"} 1');
    expect(metrics).toContain('forgejo_arc_webhook_requests_total{path="/mutate/runnerdeployments",result="patched"} 1');
    expect(metrics).toContain('forgejo_arc_webhook_requests_total{path="/validate/runnerdeployments",result="bad_request"} 1');
    expect(metrics).toContain('forgejo_arc_webhook_request_duration_seconds_count{path="/validate/runnerdeployments",result="allowed"} 1');
  });
});
