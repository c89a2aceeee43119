import { createServer as createNetServer, type AddressInfo } from "node:net";
import { ForgejoClient } from "../../../src/forgejo/client.ts";
import { describeProxySettings, proxyFor, proxySettingsFromEnv, type ProxySettings } from "../../../src/forgejo/proxy.ts";
import type { FakeForgejo } from "../../fake-forgejo/fake-forgejo.ts";
import { TOKENS, forgejoFailure as failure, seededFake } from "../../fixtures/forgejo.ts";
import { TestProxy } from "../../fixtures/http-proxy.ts";
import { httpsServer } from "../../fixtures/tls.ts";

const PROXY = new URL("http://proxy.example:3128");

function via(server: string, noProxy: string[], settings: Partial<ProxySettings> = { http: PROXY, https: PROXY }): string | undefined {
  return proxyFor(new URL(server), { ...settings, noProxy })?.host;
}

describe("proxy settings from the environment", () => {
  it("reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY in either case, the lower case first like Node and curl", () => {
    const { settings, problems } = proxySettingsFromEnv({
      HTTPS_PROXY: "http://user:secret@proxy.example:3128",
      http_proxy: "proxy.example:8080",
      NO_PROXY: " .svc, 10.0.0.0/8 ,,Forgejo.Internal",
    });
    expect(problems).toEqual([]);
    expect(settings.https?.href).toBe("http://user:secret@proxy.example:3128/");
    expect(settings.http?.href).toBe("http://proxy.example:8080/"); // no scheme: http://, as curl and Go read it
    expect(settings.noProxy).toEqual([".svc", "10.0.0.0/8", "forgejo.internal"]);
    expect(proxySettingsFromEnv({ https_proxy: "http://a:1", HTTPS_PROXY: "http://a:1" }).problems).toEqual([]);
    expect(proxySettingsFromEnv({}).settings).toEqual({ http: undefined, https: undefined, noProxy: [] });
  });

  it("names a variable that is not a proxy URL without repeating its value, which may hold a password", () => {
    const { problems } = proxySettingsFromEnv({
      HTTPS_PROXY: "ftp://user:hunter2@proxy:21",
      http_proxy: "http://a:1",
      HTTP_PROXY: "http://b:1",
    });
    expect(problems).toEqual([
      "$HTTP_PROXY and $http_proxy are both set and differ; set one of them",
      "$HTTPS_PROXY: not the URL of an HTTP proxy; write it as http://host:port (credentials as http://user:password@host:port)",
    ]);
    expect(problems.join(" ")).not.toContain("hunter2");
    expect(proxySettingsFromEnv({ NO_PROXY: "10.0.0.0/33,fd00::/129,host/8,10.0.0.0/8" }).problems).toEqual([
      '$NO_PROXY: "10.0.0.0/33" is not a CIDR range such as 10.0.0.0/8 or fd00::/8',
      '$NO_PROXY: "fd00::/129" is not a CIDR range such as 10.0.0.0/8 or fd00::/8',
      '$NO_PROXY: "host/8" is not a CIDR range such as 10.0.0.0/8 or fd00::/8',
    ]);
  });

  it("describes the proxies for logs without their credentials", () => {
    const { settings } = proxySettingsFromEnv({ HTTPS_PROXY: "http://user:secret@proxy.example:3128", NO_PROXY: "a,b" });
    expect(describeProxySettings(settings)).toEqual({ https: "http://proxy.example:3128", noProxy: "a,b" });
    expect(describeProxySettings({ noProxy: ["a"] })).toBeUndefined();
  });
});

describe("which proxy a Forgejo server is reached through", () => {
  it("takes HTTPS_PROXY for https servers and HTTP_PROXY for http ones", () => {
    const https = new URL("http://secure-proxy:1");
    expect(via("https://code.example", [], { https })).toBe("secure-proxy:1");
    expect(via("http://code.example", [], { https })).toBeUndefined();
    expect(via("http://code.example", [], { http: PROXY })).toBe("proxy.example:3128");
  });

  it.each([
    ["*", "https://code.example"],
    ["code.example", "https://code.example"],
    ["example", "https://code.example"],
    [".example", "https://code.example"],
    ["*.example", "https://code.example"],
    ["code.example:443", "https://code.example"],
    ["code.example:8443", "https://code.example:8443"],
    ["10.0.0.0/8", "https://10.1.2.3"],
    ["192.168.1.7", "http://192.168.1.7:3000"],
    ["fd00::/8", "https://[fd00::1]"],
    ["[::1]:3000", "http://[::1]:3000"],
    ["::1", "http://[0:0:0:0:0:0:0:1]"],
  ])("NO_PROXY %s exempts %s", (entry, server) => {
    expect(via(server, [entry])).toBeUndefined();
  });

  it.each([
    ["other.example", "https://code.example"],
    ["de.example", "https://code.example"],
    ["code.example:80", "https://code.example"],
    ["10.0.0.0/8", "https://11.0.0.1"],
    ["10.0.0.0/8", "https://code.example"],
    ["192.168.1.7", "http://192.168.1.70"],
    ["::1", "http://[::2]"],
  ])("NO_PROXY %s does not exempt %s", (entry, server) => {
    expect(via(server, [entry])).toBe("proxy.example:3128");
  });
});

describe("Forgejo client through a proxy", () => {
  let fake: FakeForgejo;
  let proxy: TestProxy;
  const closing: Array<() => unknown> = [];

  beforeEach(async () => {
    fake = seededFake();
    proxy = new TestProxy();
  });
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
    await proxy.close();
    await fake.close();
  });

  function client(server: string, proxySettings: ProxySettings, caBundle?: string): ForgejoClient {
    const c = new ForgejoClient({ server, token: TOKENS.owner, proxy: proxySettings, caBundle, attempts: 1, timeoutMs: 2000 });
    closing.push(() => c.close());
    return c;
  }

  it("relays http requests through HTTP_PROXY, and goes direct for a server NO_PROXY names", async () => {
    const server = await fake.listen();
    const http = new URL(await proxy.listen());
    expect(await client(server, { http, noProxy: [] }).version()).toBe("15.0.1+gitea-1.22.0");
    expect(proxy.requests.map((r) => r.line)).toEqual([`GET ${server}/api/v1/version`]);
    expect(await client(server, { http, noProxy: ["127.0.0.1"] }).version()).toBe("15.0.1+gitea-1.22.0");
    expect(proxy.requests).toHaveLength(1);
  });

  it("tunnels https through HTTPS_PROXY with its credentials, trusting the private CA through the tunnel", async () => {
    const server = await httpsServer(fake.app());
    closing.push(() => server.close());
    const { url: origin, cert } = server;
    await proxy.close();
    proxy = new TestProxy("robot:s3cret");
    const https = new URL((await proxy.listen()).replace("//", "//robot:s3cret@"));
    const c = client(origin, { https, noProxy: [] }, cert);
    expect(await c.version()).toBe("15.0.1+gitea-1.22.0");
    expect(await c.version()).toBe("15.0.1+gitea-1.22.0");
    // One tunnel for both calls (keep-alive), opened with the proxy's credentials.
    expect(proxy.requests).toEqual([{ line: `CONNECT ${origin.replace("https://", "")}`, credentials: "robot:s3cret" }]);

    const refused = await failure(client(origin, { https: new URL(`http://robot:wrong@${https.host}`), noProxy: [] }, cert).version());
    expect(refused.kind).toBe("unreachable");
    expect(refused.message).toContain(`GET /api/v1/version on ${origin} through proxy http://${https.host}:`);
    expect(refused.message).toContain("407");
    expect(refused.message).not.toContain("wrong");
  });

  it("names the proxy when it cannot be reached", async () => {
    const server = await fake.listen();
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const error = await failure(client(server, { http: new URL(`http://user:pw@127.0.0.1:${port}`), noProxy: [] }).version());
    expect(error.kind).toBe("unreachable");
    expect(error.message).toBe(
      `GET /api/v1/version on ${server} through proxy http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });
});
