import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpMethod, KubeConfig, RequestContext } from "@kubernetes/client-node";
import { answerWithin, reuseConnections } from "../../../src/k8s/client.ts";
import { selfSignedCertificate } from "../../fixtures/tls.ts";

function kubeConfig(ca: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: Buffer.from(ca).toString("base64") }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "c", cluster: "c", user: "u" }],
    currentContext: "c",
  });
  return kc;
}

async function dispatcherOf(kc: KubeConfig) {
  const context = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getDispatcher();
}

describe("Kubernetes client connections", () => {
  let dir: string;
  let ca: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "forgejo-arc-kc-"));
    ca = selfSignedCertificate(dir, "ca").cert;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("the library alone makes a new connection pool per request (why reuseConnections exists)", async () => {
    const kc = kubeConfig(ca);
    expect(await dispatcherOf(kc)).not.toBe(await dispatcherOf(kc));
  });

  test("reuseConnections shares one pool across requests, and still authenticates each", async () => {
    const kc = reuseConnections(kubeConfig(ca));
    const first = await dispatcherOf(kc);
    expect(first).toBeDefined();
    expect(await dispatcherOf(kc)).toBe(first);
    const context = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
    await kc.applySecurityAuthentication(context);
    expect(context.getHeaders().Authorization).toBe("Bearer t");
  });
});

describe("answerWithin", () => {
  it("gives the answer that comes in time, and its error", async () => {
    await expect(answerWithin(Promise.resolve("log"), 1_000, "the log")).resolves.toBe("log");
    await expect(answerWithin(Promise.reject(new Error("forbidden")), 1_000, "the log")).rejects.toThrow("forbidden");
  });

  it("gives up on an answer that does not come, naming what it waited for", async () => {
    await expect(answerWithin(new Promise(() => undefined), 20, "the log of pod p")).rejects.toThrow(
      "the log of pod p: no answer within 20 ms",
    );
  });
});
