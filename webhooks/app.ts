// The admission webhook HTTP app: routes, envelope checks, metrics. No TLS and no listen here;
// serve.ts puts it behind HTTPS. Tests drive it with supertest.
import { isDeepStrictEqual } from "node:util";
import { propagatedLabels } from "../src/api/propagated-labels.ts";
import express, { type NextFunction, type Request, type Response } from "express";
import { Counter, Histogram, Registry } from "prom-client";
import type { Logger } from "../src/observability/log.ts";
import type { ActRunner, RunnerDeployment } from "../src/generated/api.ts";
import { readRequest, review, toResponse, type AdmissionRequest, type Verdict } from "./admission.ts";
import { validateActRunner } from "./actrunner.ts";
import { answerWithinMs, type DryRun, type PodOptions } from "./dry-run.ts";
import { defaultingVerdict, validateRunnerDeployment, type RunnerDeploymentRules } from "./runnerdeployment.ts";
import { sharedSchemaValidator } from "./schema-validation.ts";

export interface WebhookDeps {
  logger: Logger;
  registry?: Registry;
  dryRun?: DryRun;
  /** What the controller builds runner Jobs and listener Deployments with: the dry-run checks the objects it will create. */
  podOptions: PodOptions;
  /** The RunnerDeployments that exist, for warnings about overlapping label names. */
  runnerDeployments?: RunnerDeploymentRules["runnerDeployments"];
  /** The namespace's ResourceQuotas, for warnings about a spec.maxRunners above what they allow. */
  resourceQuotas?: RunnerDeploymentRules["resourceQuotas"];
  /** Which of some Secrets a namespace lacks, for warnings about missing image pull Secrets. */
  missingSecrets?: RunnerDeploymentRules["missingSecrets"];
  /** The namespaces the controller serves (--watch-namespaces); objects made elsewhere are refused. Absent: every namespace. */
  watchNamespaces?: readonly string[];
  /** /readyz answers 200 only while this holds (e.g. certificates loaded). */
  ready?: () => boolean;
  bodyLimit?: string;
}

/** `withinMs`: how long the API server waits for the answer (answerWithinMs). */
type Handler = (request: AdmissionRequest, withinMs: number) => Promise<Verdict> | Verdict;

export const WEBHOOK_PATHS = {
  mutateRunnerDeployments: "/mutate/runnerdeployments",
  validateRunnerDeployments: "/validate/runnerdeployments",
  validateActRunners: "/validate/actrunners",
} as const;

/**
 * An UPDATE that changes nothing made from the object — the same spec, the same labels passed on to
 * what is made for it (annotations, finalizers, other labels: the garbage collector's and other
 * tools' writes) — is allowed without the rules: they may have changed since, or the namespace (a
 * policy, a quota, its deletion, which fails every dry-run), and refusing would keep a finalizer on
 * an object being deleted, and its namespace Terminating, for ever. A change of the labels passed
 * on is checked like a change of the spec (a policy may require them on Jobs and Deployments),
 * except on an object being deleted.
 */
function changesNothingMade(request: AdmissionRequest, labelPropagationExclude: readonly string[]): boolean {
  type Fields = { spec?: unknown; metadata?: { labels?: Record<string, string>; deletionTimestamp?: string } } | undefined;
  const [after, before] = [request.object as Fields, request.oldObject as Fields];
  if (request.operation !== "UPDATE" || after?.spec === undefined || !isDeepStrictEqual(after.spec, before?.spec)) return false;
  const passedOn = (fields: Fields) => propagatedLabels(fields?.metadata?.labels, labelPropagationExclude);
  return after.metadata?.deletionTimestamp !== undefined || isDeepStrictEqual(passedOn(after), passedOn(before));
}

function namespaceOf(request: AdmissionRequest): string {
  const metadata = (request.object as { metadata?: { namespace?: string } } | undefined)?.metadata;
  return request.namespace ?? metadata?.namespace ?? "";
}

export function createApp(deps: WebhookDeps): express.Express {
  const registry = deps.registry ?? new Registry();
  const requests = new Counter({
    name: "forgejo_arc_webhook_requests_total",
    help: "Admission requests by path and result (allowed, denied, patched, bad_request, error).",
    labelNames: ["path", "result"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "forgejo_arc_webhook_request_duration_seconds",
    help: "Time to answer an admission request, by path and result.",
    labelNames: ["path", "result"],
    // Up to the longest timeout the API server may give a webhook (30 s): a dry-run held up by
    // another admission webhook takes seconds.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const schema = sharedSchemaValidator();
  const rules = {
    schema,
    dryRun: deps.dryRun,
    podOptions: deps.podOptions,
    runnerDeployments: deps.runnerDeployments,
    resourceQuotas: deps.resourceQuotas,
    missingSecrets: deps.missingSecrets,
  };

  const app = express();
  app.disable("x-powered-by");
  app.use(express.json({ limit: deps.bodyLimit ?? "3mb", type: "application/json", strict: true }));

  function route(path: string, handler: Handler): void {
    app.post(path, async (req: Request, res: Response) => {
      const stop = latency.startTimer({ path });
      const finish = (status: number, body: unknown, result: string) => {
        requests.inc({ path, result });
        stop({ result });
        res.status(status).json(body);
      };
      if (!req.is("application/json")) {
        finish(
          400,
          { error: `Content-Type must be application/json, got ${JSON.stringify(req.get("content-type") ?? "")}` },
          "bad_request",
        );
        return;
      }
      const request = readRequest(req.body);
      if (typeof request === "string") {
        finish(400, { error: `invalid AdmissionReview: ${request}` }, "bad_request");
        return;
      }
      if (request.operation === "DELETE" || changesNothingMade(request, deps.podOptions.listener.labelPropagationExclude)) {
        finish(200, review({ uid: request.uid, allowed: true }), "allowed");
        return;
      }
      try {
        const response = toResponse(request.uid, await handler(request, answerWithinMs(req.query.timeout)));
        const result = !response.allowed ? "denied" : response.patch ? "patched" : "allowed";
        if (!response.allowed) {
          deps.logger.info(
            { path, name: request.name, namespace: request.namespace, reason: response.status?.message },
            "Denied admission request",
          );
        }
        finish(200, review(response), result);
      } catch (error) {
        deps.logger.error({ path, err: error }, "Failed to handle admission request");
        const message = `forgejo-arc webhook failed: ${error instanceof Error ? error.message : String(error)}`;
        finish(200, review({ uid: request.uid, allowed: false, status: { code: 500, message } }), "error");
      }
    });
  }

  /** Objects in a namespace the controller does not serve would never be reconciled: refused, before any dry-run there. */
  const unserved = (kind: string, namespace: string): Verdict | undefined =>
    deps.watchNamespaces && !deps.watchNamespaces.includes(namespace)
      ? {
          denials: [
            `metadata.namespace: this forgejo-arc installation serves only namespace${deps.watchNamespaces.length > 1 ? "s" : ""} ` +
              `${deps.watchNamespaces.join(", ")} (the chart's controller.watchNamespaces, the controller's --watch-namespaces), ` +
              `so ${kind} in ${namespace} would never run: create it in one of those, or add ${namespace} there`,
          ],
          warnings: [],
        }
      : undefined;

  route(WEBHOOK_PATHS.mutateRunnerDeployments, (r) => defaultingVerdict(r.object as RunnerDeployment, namespaceOf(r), rules));
  route(
    WEBHOOK_PATHS.validateRunnerDeployments,
    (r, withinMs) =>
      unserved("a RunnerDeployment", namespaceOf(r)) ??
      validateRunnerDeployment(r.object as RunnerDeployment, namespaceOf(r), { ...rules, dryRunWithinMs: withinMs }),
  );
  route(
    WEBHOOK_PATHS.validateActRunners,
    (r) =>
      unserved("an ActRunner", namespaceOf(r)) ??
      validateActRunner(r.object as ActRunner, r.operation === "UPDATE" ? (r.oldObject as ActRunner) : undefined, namespaceOf(r), schema),
  );

  app.get("/healthz", (_req, res) => {
    res.type("text/plain").send("ok");
  });
  app.get("/readyz", (_req, res) => {
    const ready = deps.ready?.() ?? true;
    res
      .status(ready ? 200 : 503)
      .type("text/plain")
      .send(ready ? "ok" : "not ready");
  });
  app.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
  });
  // Body parser failures (malformed JSON, too large) end here with their own status.
  app.use((error: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    const message =
      error.type === "entity.parse.failed"
        ? `malformed JSON: ${error.message}`
        : error.type === "entity.too.large"
          ? "request body too large"
          : error.message;
    res.status(status).json({ error: message });
  });
  return app;
}
