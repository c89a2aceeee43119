import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import type { AR, ClusterCache, RD } from "../../../src/controller/cache.ts";
import { ForgejoClients } from "../../../src/controller/forgejo-clients.ts";
import { ar } from "../../fixtures/resources.ts";

// The Secrets and ConfigMaps of namespace ci, served on loopback as the API server would; nothing else.
const secrets = new Map<string, Record<string, string>>();
const configMaps = new Map<string, Record<string, string>>();
let secretReads = 0;
let server: Server;
let kc: KubeConfig;

beforeAll(async () => {
  server = createServer((request, response) => {
    const [, plural, name] = /^\/api\/v1\/namespaces\/ci\/(secrets|configmaps)\/([^/?]+)$/.exec(request.url ?? "") ?? [];
    const data = name ? (plural === "secrets" ? secrets : configMaps).get(name) : undefined;
    if (plural === "secrets") secretReads++;
    response.setHeader("content-type", "application/json");
    if (!data) {
      response.statusCode = 404;
      response.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 }));
      return;
    }
    response.end(JSON.stringify({ apiVersion: "v1", metadata: { name, namespace: "ci" }, data }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "local", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: "nobody" }],
    contexts: [{ name: "local", cluster: "local", user: "nobody" }],
    currentContext: "local",
  });
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

beforeEach(() => {
  secrets.clear();
  secrets.set("tok", { token: Buffer.from("secret-token").toString("base64") });
  configMaps.clear();
  configMaps.set("ca", { "ca.crt": "-----BEGIN CERTIFICATE-----" });
  secretReads = 0;
});

const runner = ar({ metadata: { name: "r-1-1", namespace: "ci", uid: "uid-1" }, spec: { tokenSecretRef: { name: "tok" } } }) as AR;

/** ForgejoClients over a cache holding `actRunners`, on a clock the test moves. */
function clientsWith(actRunners: AR[], clock: { now: number }): ForgejoClients {
  const cache = {
    actRunners: { list: () => actRunners },
    runnerDeployments: { list: (): RD[] => [] },
    runnerDeploymentOf: () => undefined,
  } as unknown as Pick<ClusterCache, "actRunners" | "runnerDeployments" | "runnerDeploymentOf">;
  return new ForgejoClients(kc, cache, {}, () => clock.now);
}

describe("ForgejoClients", () => {
  it("reads the token Secret once a minute", async () => {
    const clock = { now: 1_000_000 };
    const clients = clientsWith([runner], clock);
    const first = await clients.for(runner);
    clock.now += 59_000;
    expect((await clients.for(runner)).client).toBe(first.client);
    expect(secretReads).toBe(1);
    clock.now += 2_000;
    expect((await clients.for(runner)).client).not.toBe(first.client);
    expect(secretReads).toBe(2);
    clients.close();
  });

  const privateCa = ar({
    metadata: { name: "r-2-1", namespace: "ci", uid: "uid-2" },
    spec: { tokenSecretRef: { name: "tok" }, caBundleConfigMapRef: { name: "ca" } },
  }) as AR;

  it.each([
    ["the token Secret", runner, () => secrets.delete("tok"), "token Secret ci/tok not found (spec.tokenSecretRef)"],
    [
      "the token Secret's key",
      runner,
      () => secrets.set("tok", { other: "eA==" }),
      'Secret ci/tok has no key "token" (spec.tokenSecretRef.key)',
    ],
    [
      "the CA bundle ConfigMap",
      privateCa,
      () => configMaps.delete("ca"),
      "CA bundle ConfigMap ci/ca not found (spec.caBundleConfigMapRef)",
    ],
    [
      "the ConfigMap's key",
      privateCa,
      () => configMaps.set("ca", {}),
      'ConfigMap ci/ca has no key "ca.crt" (spec.caBundleConfigMapRef.key)',
    ],
  ])("deletes runners with what it last read once %s is gone, saying so, and does nothing else with it", async (_, of, remove, missing) => {
    const clock = { now: 1_000_000 };
    const clients = clientsWith([of], clock);
    const { client } = await clients.for(of);
    clock.now += 61_000;
    remove();
    await expect(clients.for(of)).rejects.toThrow(missing);
    expect(await clients.forCleanup(of)).toMatchObject({ client, lastKnownBecause: missing });
    clients.close();
  });

  it("has no token to fall back on when it never read the Secret", async () => {
    const clients = clientsWith([runner], { now: 1_000_000 });
    secrets.delete("tok");
    await expect(clients.forCleanup(runner)).rejects.toThrow("token Secret ci/tok not found");
    clients.close();
  });

  it("forgets a token a minute after it expired once no ActRunner or RunnerDeployment names its Secret", async () => {
    const clock = { now: 1_000_000 };
    const inCache = [runner];
    const clients = clientsWith(inCache, clock);
    await clients.for(runner);
    secrets.delete("tok");
    clock.now += 61_000;
    expect((await clients.forCleanup(runner)).lastKnownBecause).toBe("token Secret ci/tok not found (spec.tokenSecretRef)");
    inCache.pop();
    clock.now += 61_000;
    await expect(clients.forCleanup(runner)).rejects.toThrow("token Secret ci/tok not found");
    clients.close();
  });
});
