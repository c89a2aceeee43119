import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { X509Certificate } from "node:crypto";
import { get } from "node:https";
import { serve, type WebhookServer } from "../../../webhooks/serve.ts";
import { silentLogger } from "../../../src/observability/log.ts";
import { testApp } from "../../fixtures/webhook-app.ts";
import { selfSignedCertificate } from "../../fixtures/tls.ts";

function servedCertificateCN(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      resolve(new X509Certificate(cert!.raw).subject);
    });
    socket.on("error", reject);
  });
}

describe("HTTPS webhook server", () => {
  let dir: string;
  let server: WebhookServer;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "forgejo-arc-tls-"));
    const first = selfSignedCertificate(dir, "first");
    writeFileSync(join(dir, "tls.crt"), first.cert);
    writeFileSync(join(dir, "tls.key"), first.key);
    server = await serve(testApp(), {
      host: "127.0.0.1",
      port: 0,
      certFile: join(dir, "tls.crt"),
      keyFile: join(dir, "tls.key"),
      reloadIntervalMs: 60_000,
      logger: silentLogger(),
    });
  });

  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the app over TLS on 127.0.0.1", async () => {
    expect(await servedCertificateCN(server.port)).toBe("CN=first");
    const ca = readFileSync(join(dir, "tls.crt"), "utf8");
    const body = await new Promise<string>((resolve, reject) => {
      get({ host: "127.0.0.1", port: server.port, path: "/healthz", ca }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve(`${res.statusCode} ${text}`));
      }).on("error", reject);
    });
    expect(body).toBe("200 ok");
  });

  it("switches to a rotated certificate without a restart", async () => {
    const second = selfSignedCertificate(dir, "second");
    expect(server.reload()).toBe(false);
    writeFileSync(join(dir, "tls.crt"), second.cert);
    writeFileSync(join(dir, "tls.key"), second.key);
    expect(server.reload()).toBe(true);
    expect(await servedCertificateCN(server.port)).toBe("CN=second");
  });

  it("keeps the current certificate when the new files do not match", async () => {
    const second = selfSignedCertificate(dir, "second");
    writeFileSync(join(dir, "tls.crt"), second.cert);
    expect(server.reload()).toBe(false);
    expect(await servedCertificateCN(server.port)).toBe("CN=first");
  });
});
