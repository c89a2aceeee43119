import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { apiErrorCode, apiErrorMessage } from "../../../src/k8s/client.ts";
import { makeRestClient, type RestClient } from "../../../src/k8s/rest.ts";
import { selfSignedCertificate } from "../../fixtures/tls.ts";

interface Seen {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe("lean REST client", () => {
  let dir: string;
  let server: Server;
  let rest: RestClient;
  const seen: Seen[] = [];
  let answer: { status: number; body: string } = { status: 201, body: "{}" };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "forgejo-arc-rest-"));
    const tls = selfSignedCertificate(dir, "apiserver");
    server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "c",
          server: `https://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`,
          caData: Buffer.from(tls.cert).toString("base64"),
        },
      ],
      users: [{ name: "u", token: "sa-token" }],
      contexts: [{ name: "c", cluster: "c", user: "u" }],
      currentContext: "c",
    });
    rest = makeRestClient(kc);
  });

  afterAll(async () => {
    rest.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it("sends JSON with the kubeconfig's credentials over TLS verified with its CA, and parses the answer", async () => {
    answer = { status: 201, body: JSON.stringify({ kind: "Secret", metadata: { name: "s", creationTimestamp: "2026-01-01T00:00:00Z" } }) };
    const created = await rest.request<{ metadata: { creationTimestamp: string } }>("POST", "/api/v1/namespaces/a/secrets", {
      metadata: { name: "s" },
    });
    expect(created.metadata.creationTimestamp).toBe("2026-01-01T00:00:00Z");
    expect(seen[0]).toMatchObject({ method: "POST", url: "/prefix/api/v1/namespaces/a/secrets", body: '{"metadata":{"name":"s"}}' });
    expect(seen[0]!.headers).toMatchObject({
      authorization: "Bearer sa-token",
      "content-type": "application/json",
      accept: "application/json",
    });
  });

  it("sends patches with their content type and reuses the connection", async () => {
    answer = { status: 200, body: "{}" };
    await rest.request("PATCH", "/apis/g/v1/namespaces/a/things/x/status", { status: {} }, "application/merge-patch+json");
    await rest.request("PATCH", "/apis/g/v1/namespaces/a/things/x/status", { status: {} }, "application/merge-patch+json");
    expect(seen.map((s) => s.headers["content-type"])).toEqual(["application/merge-patch+json", "application/merge-patch+json"]);
    expect(seen.map((s) => s.headers.connection)).toEqual(["keep-alive", "keep-alive"]);
  });

  it("fails with the API server's status and message, as client-node does", async () => {
    answer = { status: 409, body: JSON.stringify({ kind: "Status", message: 'secrets "s" already exists', code: 409 }) };
    const error = await rest.request("POST", "/api/v1/namespaces/a/secrets", {}).catch((e: unknown) => e);
    expect(apiErrorCode(error)).toBe(409);
    expect(apiErrorMessage(error)).toBe('secrets "s" already exists');
  });

  it("refuses a kubeconfig with a proxy, naming the cluster", () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "behind-proxy", server: "https://127.0.0.1:1", proxyUrl: "http://127.0.0.1:3128" }],
      users: [{ name: "u" }],
      contexts: [{ name: "c", cluster: "behind-proxy", user: "u" }],
      currentContext: "c",
    });
    expect(() => makeRestClient(kc)).toThrow('kubeconfig cluster "behind-proxy": proxy-url is not supported');
  });
});
