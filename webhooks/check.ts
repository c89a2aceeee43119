// `forgejo-arc check-webhooks`: asks a running webhook server two questions whose answers are known
// — defaulting adds spec.pollInterval, validation refuses a too-short one naming the field — over
// HTTPS verified with the given CA. The chart's helm test runs it against the release's webhook.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import type { AdmissionReview } from "./admission.ts";
import { WEBHOOK_PATHS } from "./app.ts";

export interface CheckOptions {
  /** Base URL of the webhook server, such as https://forgejo-arc-webhook.forgejo-arc.svc:443 */
  url: string;
  /** PEM CA bundle that must verify the server's certificate. */
  ca: string;
  namespace: string;
  timeoutMs?: number;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

function sampleRunnerDeployment(namespace: string, pollInterval?: string): object {
  return {
    apiVersion: "forgejo.actions.io/v1alpha1",
    kind: "RunnerDeployment",
    metadata: { name: "webhook-check", namespace },
    spec: {
      forgejoServer: "https://forgejo.example.com",
      organization: "webhook-check",
      labels: "check:host",
      tokenSecretRef: { name: "webhook-check", namespace, key: "token" },
      ...(pollInterval ? { pollInterval } : {}),
    },
  };
}

function post(options: CheckOptions, path: string, object: object): Promise<AdmissionReview> {
  const body = JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: randomUUID(),
      operation: "CREATE",
      namespace: options.namespace,
      name: "webhook-check",
      kind: { group: "forgejo.actions.io", version: "v1alpha1", kind: "RunnerDeployment" },
      object,
      dryRun: true,
    },
  });
  const url = new URL(path, options.url);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        ca: options.ca,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) reject(new Error(`${url.href} answered HTTP ${res.statusCode}: ${text}`));
          else {
            try {
              resolve(JSON.parse(text) as AdmissionReview);
            } catch {
              reject(new Error(`${url.href} answered with something that is not JSON: ${text.slice(0, 200)}`));
            }
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url.href} did not answer within ${options.timeoutMs ?? 10_000} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

async function attempt(name: string, run: () => Promise<string>): Promise<CheckResult> {
  try {
    return { name, ok: true, detail: await run() };
  } catch (error) {
    return { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

export async function checkWebhooks(options: CheckOptions): Promise<CheckResult[]> {
  return [
    await attempt("defaulting adds spec.pollInterval", async () => {
      const { response } = await post(options, WEBHOOK_PATHS.mutateRunnerDeployments, sampleRunnerDeployment(options.namespace));
      if (!response?.allowed) throw new Error(`the defaulting webhook refused a valid RunnerDeployment: ${response?.status?.message}`);
      const patch = response.patch ? (JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")) as { path: string }[]) : [];
      if (!patch.some((op) => op.path === "/spec/pollInterval"))
        throw new Error(`the defaulting webhook's patch does not set /spec/pollInterval: ${JSON.stringify(patch)}`);
      return `patch sets ${patch.map((op) => op.path).join(", ")}`;
    }),
    await attempt("validation refuses spec.pollInterval 1s", async () => {
      const { response } = await post(options, WEBHOOK_PATHS.validateRunnerDeployments, sampleRunnerDeployment(options.namespace, "1s"));
      if (response?.allowed !== false) throw new Error("the validating webhook allowed pollInterval 1s");
      const message = response.status?.message ?? "";
      if (!message.includes("spec.pollInterval")) throw new Error(`the refusal does not name spec.pollInterval: ${message}`);
      return message;
    }),
  ];
}

export async function runCheckWebhooks(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { url: { type: "string" }, "ca-file": { type: "string" }, namespace: { type: "string" } },
    strict: true,
  });
  const url = values.url ?? process.env.FORGEJO_ARC_WEBHOOK_URL;
  const caFile = values["ca-file"] ?? process.env.FORGEJO_ARC_WEBHOOK_CA_FILE;
  const ca = caFile ? readFileSync(caFile, "utf8") : process.env.FORGEJO_ARC_WEBHOOK_CA;
  const namespace = values.namespace ?? process.env.POD_NAMESPACE ?? "default";
  if (!url || !ca)
    throw new Error(
      "check-webhooks: --url (base URL of the webhook server) and --ca-file (PEM CA; or the PEM itself in $FORGEJO_ARC_WEBHOOK_CA) are required",
    );
  const results = await checkWebhooks({ url, ca, namespace });
  for (const result of results) console.log(`${result.ok ? "ok  " : "FAIL"} ${result.name}: ${result.detail}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(failed === 0 ? `webhooks at ${url} answer correctly` : `${failed} of ${results.length} webhook checks failed`);
  return failed === 0 ? 0 : 1;
}
