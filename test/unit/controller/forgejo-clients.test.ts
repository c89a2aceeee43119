import type { AR, ClusterCache, RD } from "../../../src/controller/cache.ts";
import { ForgejoClients } from "../../../src/controller/forgejo-clients.ts";
import { startKubeApi, type KubeApiFixture } from "../../fixtures/kube-api.ts";
import { ar } from "../../fixtures/resources.ts";

const SECRET = "/api/v1/namespaces/ci/secrets/tok";
const CONFIG_MAP = "/api/v1/namespaces/ci/configmaps/ca";
let api: KubeApiFixture;

beforeAll(async () => {
  api = await startKubeApi();
});

afterAll(() => api.close());

beforeEach(() => {
  api.objects.clear();
  api.requests.length = 0;
  setSecret({ token: Buffer.from("secret-token").toString("base64") });
  setConfigMap({ "ca.crt": "-----BEGIN CERTIFICATE-----" });
});

function setSecret(data: Record<string, string>) {
  api.objects.set(SECRET, { apiVersion: "v1", kind: "Secret", metadata: { name: "tok", namespace: "ci" }, data });
}

function setConfigMap(data: Record<string, string>) {
  api.objects.set(CONFIG_MAP, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ca", namespace: "ci" }, data });
}

const secretReads = () => api.requests.filter((r) => r === `GET ${SECRET}`).length;

const runner = ar({ metadata: { name: "r-1-1", namespace: "ci", uid: "uid-1" }, spec: { tokenSecretRef: { name: "tok" } } }) as AR;

/** ForgejoClients over a cache holding `actRunners`, on a clock the test moves. */
function clientsWith(actRunners: AR[], clock: { now: number }): ForgejoClients {
  const cache = {
    actRunners: { list: () => actRunners },
    runnerDeployments: { list: (): RD[] => [] },
    runnerDeploymentOf: () => undefined,
  } as unknown as Pick<ClusterCache, "actRunners" | "runnerDeployments" | "runnerDeploymentOf">;
  return new ForgejoClients(api.kc, cache, {}, () => clock.now);
}

describe("ForgejoClients", () => {
  it("reads the token Secret once a minute", async () => {
    const clock = { now: 1_000_000 };
    const clients = clientsWith([runner], clock);
    const first = await clients.for(runner);
    clock.now += 59_000;
    expect((await clients.for(runner)).client).toBe(first.client);
    expect(secretReads()).toBe(1);
    clock.now += 2_000;
    expect((await clients.for(runner)).client).not.toBe(first.client);
    expect(secretReads()).toBe(2);
    clients.close();
  });

  const privateCa = ar({
    metadata: { name: "r-2-1", namespace: "ci", uid: "uid-2" },
    spec: { tokenSecretRef: { name: "tok" }, caBundleConfigMapRef: { name: "ca" } },
  }) as AR;

  it.each([
    ["the token Secret", runner, () => api.objects.delete(SECRET), "token Secret ci/tok not found (spec.tokenSecretRef)"],
    ["the token Secret's key", runner, () => setSecret({ other: "eA==" }), 'Secret ci/tok has no key "token" (spec.tokenSecretRef.key)'],
    [
      "the CA bundle ConfigMap",
      privateCa,
      () => api.objects.delete(CONFIG_MAP),
      "CA bundle ConfigMap ci/ca not found (spec.caBundleConfigMapRef)",
    ],
    ["the ConfigMap's key", privateCa, () => setConfigMap({}), 'ConfigMap ci/ca has no key "ca.crt" (spec.caBundleConfigMapRef.key)'],
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
    api.objects.delete(SECRET);
    await expect(clients.forCleanup(runner)).rejects.toThrow("token Secret ci/tok not found");
    clients.close();
  });

  it("forgets a token a minute after it expired once no ActRunner or RunnerDeployment names its Secret", async () => {
    const clock = { now: 1_000_000 };
    const inCache = [runner];
    const clients = clientsWith(inCache, clock);
    await clients.for(runner);
    api.objects.delete(SECRET);
    clock.now += 61_000;
    expect((await clients.forCleanup(runner)).lastKnownBecause).toBe("token Secret ci/tok not found (spec.tokenSecretRef)");
    inCache.pop();
    clock.now += 61_000;
    await expect(clients.forCleanup(runner)).rejects.toThrow("token Secret ci/tok not found");
    clients.close();
  });
});
