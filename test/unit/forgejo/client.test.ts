import { createServer as createNetServer, type AddressInfo } from "node:net";
import { ForgejoClient, parseRetryAfter, type ForgejoCall } from "../../../src/forgejo/client.ts";
import { NotSentError, UnansweredServers } from "../../../src/forgejo/unanswered-servers.ts";
import type { ForgejoScope } from "../../../src/forgejo/scope.ts";
import { USER_AGENT } from "../../../src/version.ts";
import type { FakeForgejo } from "../../fake-forgejo/fake-forgejo.ts";
import { TOKENS, forgejoFailure as failure, seededFake } from "../../fixtures/forgejo.ts";
import { httpsServer } from "../../fixtures/tls.ts";

const acme: ForgejoScope = { kind: "organization", organization: "acme" };

let fake: FakeForgejo;
let url: string;
const clients: ForgejoClient[] = [];

function client(options: Partial<ConstructorParameters<typeof ForgejoClient>[0]> = {}): ForgejoClient {
  const c = new ForgejoClient({ server: url, token: TOKENS.owner, retryBaseDelayMs: 1, timeoutMs: 2000, ...options });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  fake = seededFake();
  url = await fake.listen();
});
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await fake.close();
});

describe("Forgejo client against the fake Forgejo", () => {
  it("reads the server version and sends its User-Agent", async () => {
    let userAgent = "";
    const app = fake.app();
    await fake.close();
    const server = app.listen(0, "127.0.0.1");
    server.prependListener("request", (req) => (userAgent = String(req.headers["user-agent"])));
    await new Promise((r) => server.once("listening", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await client().version()).toBe("15.0.1+gitea-1.22.0");
    expect(userAgent).toBe(USER_AGENT);
    expect(USER_AGENT).toMatch(/^forgejo-arc\/\d+\.\d+\.\d+/);
    server.close();
  });

  it("turns Forgejo's null body into no jobs", async () => {
    expect(await client().jobs(acme, ["ubuntu"])).toEqual([]);
  });

  it("keeps only waiting jobs, oldest first, out of Forgejo's newest-first waiting+running list", async () => {
    const first = fake.enqueueJob({ repository: "acme/app", runs_on: ["ubuntu"] });
    const second = fake.enqueueJob({ repository: "acme/app", runs_on: ["ubuntu"] });
    const third = fake.enqueueJob({ repository: "acme/lib", runs_on: ["ubuntu"] });
    const runner = await client().registerRunner(acme, { name: "r", ephemeral: true });
    fake.assignJob(second.id, { id: runner.id }, second.handle);
    expect((await client().jobs(acme, ["ubuntu"])).map((j) => [j.id, j.status])).toEqual([
      [third.id, "waiting"],
      [second.id, "running"],
      [first.id, "waiting"],
    ]);
    const waiting = await client().waitingJobs(acme, ["ubuntu"]);
    expect(waiting.map((j) => j.id)).toEqual([first.id, third.id]);
    expect(waiting[0]).toEqual({
      id: first.id,
      attempt: 1,
      handle: first.handle,
      repo_id: first.repo_id,
      owner_id: first.owner_id,
      name: "build",
      needs: null,
      runs_on: ["ubuntu"],
      task_id: 0,
      status: "waiting",
    });
  });

  it("sends the label names as one comma-separated value without spaces", async () => {
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["ubuntu", "gpu"] });
    fake.enqueueJob({ repository: "acme/app", runs_on: ["ubuntu", "arm"] });
    expect((await client().waitingJobs(acme, ["ubuntu", "gpu"])).map((j) => j.id)).toEqual([job.id]);
    expect(fake.calls.at(-1)!.route).toBe("/api/v1/orgs/acme/actions/runners/jobs");
  });

  it("serves the repository scope from the same endpoints under repos/", async () => {
    const job = fake.enqueueJob({ repository: "acme/app", runs_on: ["x"] });
    fake.enqueueJob({ repository: "acme/lib", runs_on: ["x"] });
    const repo: ForgejoScope = { kind: "repository", owner: "acme", repository: "app" };
    expect((await client().waitingJobs(repo, ["x"])).map((j) => j.id)).toEqual([job.id]);
    const runner = await client().registerRunner(repo, { name: "repo-runner", ephemeral: true });
    expect((await client().getRunner(repo, runner.id))?.name).toBe("repo-runner");
    expect(await client().getRunner(acme, runner.id)).toBeUndefined();
  });

  it("registers, gets, lists across pages and deletes runners; deleting twice is 'absent'", async () => {
    const c = client();
    const registered = [];
    for (let i = 0; i < 7; i++) registered.push(await c.registerRunner(acme, { name: `r-${i}`, ephemeral: true }));
    expect(registered[0]).toEqual({ id: expect.any(Number), uuid: expect.any(String), token: expect.any(String) });
    expect(await c.getRunner(acme, registered[0]!.id)).toMatchObject({ name: "r-0", ephemeral: true, status: "offline", labels: [] });
    expect((await c.listRunners(acme, 3)).map((r) => r.name)).toEqual(["r-0", "r-1", "r-2", "r-3", "r-4", "r-5", "r-6"]);
    expect(await c.deleteRunner(acme, registered[0]!.id)).toBe("deleted");
    expect(await c.deleteRunner(acme, registered[0]!.id)).toBe("absent");
    expect(await c.getRunner(acme, registered[0]!.id)).toBeUndefined();
  });

  it("gets and deletes a registered runner only while its id still names it (uuid), as after a restored database it may name another", async () => {
    const c = client();
    const [first, second] = [
      await c.registerRunner(acme, { name: "first", ephemeral: true }),
      await c.registerRunner(acme, { name: "second", ephemeral: true }),
    ];
    // The status recorded `first`'s uuid with an id Forgejo has given to `second` since.
    const recorded = { id: second.id, uuid: first.uuid };
    expect(await c.getRegisteredRunner(acme, recorded)).toBeUndefined();
    expect(await c.deleteRegisteredRunner(acme, recorded)).toBe("absent");
    expect(await c.getRunner(acme, second.id)).toMatchObject({ name: "second" });
    expect(fake.calls.filter((call) => call.method === "DELETE")).toEqual([]);
    // Without a uuid (a status written by hand): the runner with the id.
    expect(await c.getRegisteredRunner(acme, { id: second.id })).toMatchObject({ name: "second" });
    expect(await c.getRegisteredRunner(acme, first)).toMatchObject({ name: "first" });
    expect(await c.deleteRegisteredRunner(acme, first)).toBe("deleted");
    expect(await c.deleteRegisteredRunner(acme, first)).toBe("absent");
    expect(await c.getRunner(acme, first.id)).toBeUndefined();
  });

  it("reports 401 as unauthorized, telling to replace the token, without the token in the message", async () => {
    const error = await failure(client({ token: "wrong-token-value" }).jobs(acme, ["x"]));
    expect(error.kind).toBe("unauthorized");
    expect(error.status).toBe(401);
    expect(error.message).toContain("replace it in the token Secret");
    expect(error.message).not.toContain("wrong-token-value");
  });

  it("reports 403 naming the token scope needed for a read", async () => {
    const error = await failure(client({ token: TOKENS.repoScopeOnly }).jobs(acme, ["x"]));
    expect(error).toMatchObject({ kind: "forbidden", status: 403 });
    expect(error.message).toContain("the token needs the read:organization scope and its user must own organization acme");
  });

  it("reports 403 naming the write scope when a read-only token registers a runner", async () => {
    const error = await failure(client({ token: TOKENS.readOnly }).registerRunner(acme, { name: "x", ephemeral: true }));
    expect(error.message).toContain("needs the write:organization scope");
  });

  it("reports 403 when the token's user does not own the organization", async () => {
    const error = await failure(client({ token: TOKENS.outsider }).jobs(acme, ["x"]));
    expect(error.kind).toBe("forbidden");
  });

  it("serves the whole instance with a site administrator's token, and says so to anyone else", async () => {
    fake.enqueueJob({ repository: "alice/dotfiles", runs_on: ["x"] });
    expect(await client({ token: TOKENS.admin }).waitingJobs({ kind: "instance" }, ["x"])).toHaveLength(1);
    const error = await failure(client({ token: TOKENS.outsider }).jobs({ kind: "instance" }, ["x"]));
    expect(error.kind).toBe("forbidden");
    expect(error.message).toContain("the token needs the read:admin scope and its user must be a site administrator");
    expect(await client({ token: TOKENS.admin }).registerRunner({ kind: "instance" }, { name: "site", ephemeral: true })).toMatchObject({
      id: expect.any(Number),
    });
    expect(fake.callCount("POST", "/api/v1/admin/actions/runners")).toBe(1);
  });

  it("reports an unknown organization or repository as not_found, naming the field to check", async () => {
    const error = await failure(client().jobs({ kind: "organization", organization: "nope" }, ["x"]));
    expect(error).toMatchObject({ kind: "not_found", status: 404 });
    expect(error.message).toContain(
      "answered 404: GetOrgByName; check spec.organization: organization nope does not exist or the token's user cannot see it (or that forgejoServer is Forgejo's ROOT_URL)",
    );
    const registering = await failure(
      client().registerRunner({ kind: "repository", owner: "acme", repository: "gone" }, { name: "r", ephemeral: true }),
    );
    expect(registering.message).toContain("check spec.repository: repository acme/gone does not exist");
  });

  it("retries a GET on 5xx with backoff and succeeds when Forgejo recovers", async () => {
    fake.addFault({ status: 502, count: 2 });
    const calls: ForgejoCall[] = [];
    expect(await client({ onCall: (c) => calls.push(c) }).jobs(acme, ["x"])).toEqual([]);
    expect(calls.map((c) => c.outcome)).toEqual(["502", "502", "200"]);
    expect(calls.every((c) => c.operation === "list_jobs")).toBe(true);
  });

  it("gives up after its attempts with a server_error", async () => {
    fake.addFault({ status: 500 });
    const error = await failure(client({ attempts: 3 }).jobs(acme, ["x"]));
    expect(error).toMatchObject({ kind: "server_error", status: 500 });
    expect(error.transient).toBe(true);
    expect(fake.callCount("GET")).toBe(3);
  });

  it("never retries a POST, so a runner is never registered twice", async () => {
    fake.addFault({ status: 503, count: 1 });
    const error = await failure(client().registerRunner(acme, { name: "once", ephemeral: true }));
    expect(error.kind).toBe("server_error");
    expect(fake.callCount("POST")).toBe(1);
  });

  it("waits the Retry-After of a 429 before it retries a GET", async () => {
    fake.addFault({ status: 429, retryAfter: "1", count: 1 });
    const calls: ForgejoCall[] = [];
    const started = performance.now();
    expect(await client({ onCall: (c) => calls.push(c) }).jobs(acme, ["x"])).toEqual([]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(calls.map((c) => c.outcome)).toEqual(["429", "200"]);
  });

  it("leaves a long Retry-After to the caller: a rate_limited error that carries it, without holding the call", async () => {
    fake.addFault({ status: 429, retryAfter: "120", count: 1 });
    const error = await failure(client().jobs(acme, ["x"]));
    expect(error).toMatchObject({ kind: "rate_limited", status: 429, retryAfterMs: 120_000 });
    expect(error.transient).toBe(true);
    expect(error.message).toContain("limits the rate of requests and asks to wait 120 s");
    expect(error.message).toContain("spec.pollInterval");
    expect(fake.callCount("GET")).toBe(1);
  });

  it("never retries a rate-limited POST", async () => {
    fake.addFault({ status: 429, method: "POST", count: 1 });
    const error = await failure(client().registerRunner(acme, { name: "limited", ephemeral: true }));
    expect(error).toMatchObject({ kind: "rate_limited", retryAfterMs: undefined });
    expect(fake.callCount("POST")).toBe(1);
  });

  it("keeps a 503's Retry-After on the server_error", async () => {
    fake.addFault({ status: 503, retryAfter: "30" });
    const error = await failure(client({ attempts: 3 }).jobs(acme, ["x"]));
    expect(error).toMatchObject({ kind: "server_error", retryAfterMs: 30_000 });
    expect(fake.callCount("GET")).toBe(1);
  });

  it("reports a malformed body", async () => {
    fake.addFault({ malformed: true, count: 1 });
    const error = await failure(client().jobs(acme, ["x"]));
    expect(error.kind).toBe("malformed");
    expect(error.transient).toBe(false);
    expect(error.message).toContain("malformed body: not JSON (200, application/json, 15 bytes)");
    expect(error.message).not.toContain("web page");
  });

  it("says that a web page answered in place of the API, and what to check", async () => {
    const app = (await import("express")).default();
    app.use((_req, res) => res.type("html").send("<!DOCTYPE html><html><title>Sign in</title></html>"));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const error = await failure(client({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }).jobs(acme, ["x"]));
    server.close();
    expect(error.kind).toBe("malformed");
    expect(error.message).toContain("answered list_jobs with a malformed body: not JSON (200, text/html");
    expect(error.message).toContain("but a web page: check that forgejoServer is the URL Forgejo is served at");
  });

  it("reports a job without the expected fields as malformed", async () => {
    const app = (await import("express")).default();
    app.get("/api/v1/orgs/acme/actions/runners/jobs", (_req, res) => res.json([{ id: "1" }]));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const error = await failure(client({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }).jobs(acme, ["x"]));
    server.close();
    expect(error.message).toContain("job [0]: id is not a number");
  });

  it("reports a reset connection as unreachable and retries it", async () => {
    fake.addFault({ reset: true, count: 1 });
    expect(await client().jobs(acme, ["x"])).toEqual([]);
    const error = await failure(
      client({ attempts: 1 })
        .jobs(acme, ["x"])
        .then(() => (fake.addFault({ reset: true, count: 1 }), client({ attempts: 1 }).jobs(acme, ["x"]))),
    );
    expect(error.kind).toBe("unreachable");
  });

  it("reports a closed port as unreachable", async () => {
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const error = await failure(client({ server: `http://127.0.0.1:${port}`, attempts: 1 }).version());
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain(`GET /api/v1/version on http://127.0.0.1:${port}`);
  });

  it("times out a slow answer with the configured per-request timeout", async () => {
    fake.addFault({ latencyMs: 500, count: 1 });
    const error = await failure(client({ timeoutMs: 100, attempts: 1 }).jobs(acme, ["x"]));
    expect(error.kind).toBe("timeout");
    expect(error.message).toContain("no answer within 100 ms");
  });

  it("fails calls to a server that gave no answer at once, without sending them, until a trial call gets one", async () => {
    const calls: ForgejoCall[] = [];
    const unanswered = new UnansweredServers({ quietMs: 300 });
    const shared = { timeoutMs: 100, unanswered, onCall: (call: ForgejoCall) => calls.push(call) };
    const hang = fake.addFault({ noAnswer: true, count: 5 });
    const first = await failure(client(shared).jobs(acme, ["x"]));
    expect(first.message).toContain("no answer within 100 ms");
    // Its own retry was not sent either.
    expect(calls.map((c) => c.outcome)).toEqual(["timeout", "not_sent"]);
    // Another client of the same server (another token): not sent, and not tried again within the call.
    const started = Date.now();
    const second = await failure(client({ ...shared, token: TOKENS.outsider }).getRunner(acme, 1));
    expect(Date.now() - started).toBeLessThan(50);
    expect(second).toBeInstanceOf(NotSentError);
    expect(second.message).toContain(`GET /api/v1/orgs/acme/actions/runners/1 on ${url}: not sent: ${url} has answered no call since`);
    expect(calls.map((c) => c.outcome)).toEqual(["timeout", "not_sent", "not_sent"]);
    expect(hang.count).toBe(4); // the fake took one request only
    hang.count = 0;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await client(shared).jobs(acme, ["x"])).toEqual([]);
    expect(await client(shared).jobs(acme, ["x"])).toEqual([]);
  });

  it("trusts a private CA bundle for an https Forgejo", async () => {
    const server = await httpsServer(fake.app());
    try {
      const untrusted = await failure(client({ server: server.url, attempts: 1 }).version());
      expect(untrusted.kind).toBe("unreachable");
      expect(await client({ server: server.url, caBundle: server.cert }).version()).toBe("15.0.1+gitea-1.22.0");
    } finally {
      await server.close();
    }
  });
});

describe("reading Retry-After", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");

  it("takes delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Sat, 28 Nov 2026 12:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Sat, 28 Nov 2026 11:59:00 GMT", now)).toBe(0);
  });

  it("ignores what is absent or unreadable", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-5", now)).toBeUndefined();
  });
});
