// npm run bench:webhooks — admission latency over HTTPS on 127.0.0.1 at a fixed request rate.
// Open loop: requests leave on schedule whether or not earlier ones have answered, so queueing
// shows in the numbers. Bounded: BENCH_RATE req/s for BENCH_SECONDS per path. No dry-run.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, WEBHOOK_PATHS } from "../../webhooks/app.ts";
import { serve } from "../../webhooks/serve.ts";
import { silentLogger } from "../../src/observability/log.ts";
import { selfSignedCertificate } from "../../test/fixtures/tls.ts";
import { POD_OPTIONS } from "../../test/fixtures/webhook-app.ts";

const rate = Number(process.env.BENCH_RATE ?? 200);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

const dir = mkdtempSync(join(tmpdir(), "forgejo-arc-bench-"));
const tls = selfSignedCertificate(dir, "bench");
const app = createApp({ logger: silentLogger(), podOptions: POD_OPTIONS });
const server = await serve(app, {
  host: "127.0.0.1",
  port: 0,
  certFile: tls.certFile,
  keyFile: tls.keyFile,
  logger: silentLogger(),
});
const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: tls.cert });

function review(i: number): string {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `bench-${i}`,
      operation: "CREATE",
      namespace: "bench",
      object: {
        apiVersion: "forgejo.actions.io/v1alpha1",
        kind: "RunnerDeployment",
        metadata: { name: `rd-${i}`, namespace: "bench" },
        spec: {
          forgejoServer: "https://code.example.com",
          organization: "acme",
          labels: "ubuntu-22.04:docker://node:20-bookworm,linux:host",
          tokenSecretRef: { name: "forgejo-token" },
          pollInterval: "10s",
          maxRunners: 20,
          runnerTemplate: { spec: { containers: [{ name: "runner", resources: { limits: { cpu: "2", memory: "4Gi" } } }] } },
        },
      },
    },
  });
}

function post(path: string, body: string): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(path: string): Promise<void> {
  const total = rate * seconds;
  for (let i = 0; i < 50; i++) await post(path, review(i)); // warm-up: TLS sessions, JIT
  const pending: Promise<number>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(post(path, review(i)));
  }
  const latencies = (await Promise.all(pending)).sort((a, b) => a - b);
  const elapsed = (performance.now() - start) / 1000;
  const f = (ms: number) => `${ms.toFixed(2)} ms`;
  console.log(
    `${path}: ${total} requests at ${rate}/s (achieved ${(total / elapsed).toFixed(0)}/s) ` +
      `p50 ${f(percentile(latencies, 50))}  p90 ${f(percentile(latencies, 90))}  p99 ${f(percentile(latencies, 99))}  max ${f(latencies.at(-1)!)}`,
  );
}

try {
  console.log(`bench:webhooks: HTTPS on 127.0.0.1, keep-alive, no dry-run; node ${process.version}`);
  await measure(WEBHOOK_PATHS.validateRunnerDeployments);
  await measure(WEBHOOK_PATHS.mutateRunnerDeployments);
} finally {
  agent.destroy();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
