import { jest } from "@jest/globals";
import { KubeConfig } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { Listener } from "../../../src/listener/listener.ts";
import { parseListenerConfig } from "../../../src/listener/config.ts";
import { silentLogger } from "../../../src/observability/log.ts";
import type { FakeForgejo } from "../../fake-forgejo/fake-forgejo.ts";
import { TOKENS, seededFake } from "../../fixtures/forgejo.ts";

let registry = new Registry();

function listener(pollInterval = "10s", forgejoServer = "http://127.0.0.1:1", token = "t"): Listener {
  const config = parseListenerConfig(
    [
      "--runner-deployment",
      "rd",
      "--namespace",
      "ns",
      "--forgejo-server",
      forgejoServer,
      "--organization",
      "acme",
      "--labels",
      "x",
      "--poll-interval",
      pollInterval,
      "--max-backoff",
      "5m",
    ],
    { FORGEJO_TOKEN: token },
  );
  registry = new Registry();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:1" }],
    users: [{ name: "u" }],
    contexts: [{ name: "c", cluster: "c", user: "u" }],
    currentContext: "c",
  });
  const l = new Listener(config, { kc, logger: silentLogger(), registry });
  (l as unknown as { loop: Promise<void> }).loop = Promise.resolve();
  const rd = { metadata: { name: "rd", namespace: "ns" }, spec: {} };
  (l as unknown as { runnerDeployments: unknown }).runnerDeployments = { synced: true, get: () => rd };
  (l as unknown as { actRunners: { synced: boolean } }).actRunners = { synced: true } as never;
  return l;
}

describe("listener health", () => {
  const now = 10_000_000;

  it("is live and ready while polls succeed on schedule", () => {
    const l = listener();
    Object.assign(l.progress, { lastAttemptAt: now - 5_000, lastSuccessAt: now - 5_000, nextAttemptAt: now + 5_000 });
    expect(l.health(now)).toMatchObject({ live: true, ready: true });
  });

  it("stays live but not ready while it backs off from a Forgejo outage", () => {
    const l = listener();
    Object.assign(l.progress, { lastAttemptAt: now - 60_000, lastSuccessAt: now - 600_000, nextAttemptAt: now + 100_000 });
    expect(l.health(now)).toMatchObject({ live: true, ready: false });
  });

  it("is not live when no poll has succeeded or been tried for several intervals (a stuck loop)", () => {
    const l = listener();
    Object.assign(l.progress, { lastAttemptAt: now - 300_000, lastSuccessAt: now - 300_000, nextAttemptAt: now - 290_000 });
    expect(l.health(now)).toMatchObject({ live: false, ready: false });
  });

  it("is not ready before its first successful poll", () => {
    expect(listener().health(now).ready).toBe(false);
  });

  it("polls at the interval with ±10% jitter after a success", () => {
    const l = listener("10s");
    const random = jest.spyOn(Math, "random");
    random.mockReturnValue(0);
    expect(l.nextDelay(true)).toBe(9_000);
    random.mockReturnValue(0.999999);
    expect(l.nextDelay(true)).toBe(11_000);
    random.mockReturnValue(0.5);
    expect(l.nextDelay(true)).toBe(10_000);
    random.mockRestore();
  });

  it("backs off exponentially per consecutive failure, capped", () => {
    const l = listener("10s");
    const set = (failures: number) => ((l as unknown as { consecutiveFailures: number }).consecutiveFailures = failures);
    set(1);
    expect(l.backoffDelay()).toBeGreaterThanOrEqual(16_000);
    expect(l.backoffDelay()).toBeLessThanOrEqual(24_000);
    set(3);
    expect(l.backoffDelay()).toBeGreaterThanOrEqual(64_000);
    set(30);
    expect(l.backoffDelay()).toBeLessThanOrEqual(360_000);
    expect(l.backoffDelay()).toBeGreaterThanOrEqual(240_000);
  });
});

describe("a rate-limited poll", () => {
  let fake: FakeForgejo;
  let url: string;
  const jobsPath = "/orgs/acme/actions/runners/jobs";

  beforeEach(async () => {
    fake = seededFake();
    url = await fake.listen();
  });
  afterEach(async () => {
    await fake.close();
  });

  it("waits as long as Forgejo asks before the next poll (Retry-After), up to --max-backoff", async () => {
    const l = listener("10s", url, TOKENS.owner);
    try {
      fake.addFault({ status: 429, retryAfter: "120", pathPrefix: jobsPath });
      expect(await l.pollOnce()).toBe(false);
      // One failure alone backs off 16–24 s.
      expect(l.nextDelay(false)).toBe(120_000);
      expect(await registry.getSingleMetricAsString("forgejo_arc_listener_poll_errors_total")).toContain('kind="rate_limited"} 1');

      fake.clearFaults();
      fake.addFault({ status: 429, retryAfter: "3600", pathPrefix: jobsPath });
      expect(await l.pollOnce()).toBe(false);
      expect(l.nextDelay(false)).toBe(300_000);

      fake.clearFaults();
      fake.addFault({ status: 502, pathPrefix: jobsPath });
      expect(await l.pollOnce()).toBe(false);
      // Without a Retry-After the backoff alone: three failures, 80 s ± 20%.
      expect(l.nextDelay(false)).toBeLessThanOrEqual(96_000);
    } finally {
      (l as unknown as { forgejo: { close(): void } }).forgejo.close();
    }
  });
});
