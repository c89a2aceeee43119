import { jest } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import express from "express";
import { checkWebhooks, runCheckWebhooks } from "../../../webhooks/check.ts";
import { serve, type WebhookServer } from "../../../webhooks/serve.ts";
import { silentLogger } from "../../../src/observability/log.ts";
import { testApp } from "../../fixtures/webhook-app.ts";
import { selfSignedCertificate } from "../../fixtures/tls.ts";

describe("check-webhooks (the chart's helm test)", () => {
  let dir: string;
  let cert: ReturnType<typeof selfSignedCertificate>;
  const servers: WebhookServer[] = [];
  const start = async (app: express.Express) => {
    const server = await serve(app, { host: "127.0.0.1", port: 0, certFile: cert.certFile, keyFile: cert.keyFile, logger: silentLogger() });
    servers.push(server);
    return `https://127.0.0.1:${server.port}`;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "forgejo-arc-check-"));
    cert = selfSignedCertificate(dir, "webhook");
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  test("passes against the real webhook app", async () => {
    const results = await checkWebhooks({ url: await start(testApp()), ca: cert.cert, namespace: "ci" });
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ["defaulting adds spec.pollInterval", true],
      ["validation refuses spec.pollInterval 1s", true],
    ]);
    expect(results[1]!.detail).toContain("spec.pollInterval");
  });

  test("fails when the server's certificate is not signed by the given CA", async () => {
    const other = selfSignedCertificate(dir, "other");
    const results = await checkWebhooks({ url: await start(testApp()), ca: other.cert, namespace: "ci" });
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(results[0]!.detail).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  test("fails when a webhook allows everything", async () => {
    const permissive = express();
    permissive.use(express.json());
    permissive.post(/.*/, (req, res) => {
      res.json({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: req.body.request.uid, allowed: true } });
    });
    const results = await checkWebhooks({ url: await start(permissive), ca: cert.cert, namespace: "ci" });
    expect(results.map((r) => r.ok)).toEqual([false, false]);
    expect(results[1]!.detail).toBe("the validating webhook allowed pollInterval 1s");
  });

  test("takes the CA from a file, or as PEM from $FORGEJO_ARC_WEBHOOK_CA (the chart's webhooks.caBundle), and refuses to run without one", async () => {
    const url = await start(testApp());
    const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      expect(await runCheckWebhooks([`--url=${url}`, `--ca-file=${cert.certFile}`])).toBe(0);
      process.env.FORGEJO_ARC_WEBHOOK_CA = cert.cert;
      expect(await runCheckWebhooks([`--url=${url}`])).toBe(0);
      process.env.FORGEJO_ARC_WEBHOOK_CA = selfSignedCertificate(dir, "not-the-ca").cert;
      expect(await runCheckWebhooks([`--url=${url}`])).toBe(1);
      delete process.env.FORGEJO_ARC_WEBHOOK_CA;
      await expect(runCheckWebhooks([`--url=${url}`])).rejects.toThrow("$FORGEJO_ARC_WEBHOOK_CA");
    } finally {
      delete process.env.FORGEJO_ARC_WEBHOOK_CA;
      log.mockRestore();
    }
  });
});
