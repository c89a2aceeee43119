import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LABEL_PROPAGATION_EXCLUDE } from "../../../src/api/propagated-labels.ts";
import { parseListenerConfig } from "../../../src/listener/config.ts";

const flags = [
  "--runner-deployment",
  "builders",
  "--namespace",
  "ci",
  "--forgejo-server",
  "https://code.example.com",
  "--organization",
  "acme",
  "--labels",
  "ubuntu:docker://node:20,x",
];

describe("listener configuration", () => {
  it("reads flags and the token from $FORGEJO_TOKEN", () => {
    const config = parseListenerConfig(flags, { FORGEJO_TOKEN: "secret\n" });
    expect(config).toMatchObject({
      runnerDeployment: "builders",
      namespace: "ci",
      scope: { kind: "organization", organization: "acme" },
      pollIntervalMs: 10_000,
      token: "secret",
      port: 8080,
      maxBackoffMs: 60_000,
    });
    expect(config.labels.map((l) => l.name)).toEqual(["ubuntu", "x"]);
  });

  it("falls back to environment variables and reads the token from a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "listener-config-"));
    writeFileSync(join(dir, "token"), "from-file");
    const config = parseListenerConfig(["--token-file", join(dir, "token")], {
      FORGEJO_ARC_RUNNER_DEPLOYMENT: "rd",
      POD_NAMESPACE: "ns",
      FORGEJO_ARC_FORGEJO_SERVER: "http://127.0.0.1:3000",
      FORGEJO_ARC_REPOSITORY: "acme/app",
      FORGEJO_ARC_LABELS: "x",
      FORGEJO_ARC_POLL_INTERVAL: "2s",
    });
    expect(config).toMatchObject({
      runnerDeployment: "rd",
      namespace: "ns",
      token: "from-file",
      pollIntervalMs: 2000,
      scope: { kind: "repository", owner: "acme", repository: "app" },
    });
  });

  it("lists every problem, naming the flag, and never the token", () => {
    expect(() =>
      parseListenerConfig(["--labels", "x:vm", "--poll-interval", "soon", "--organization", "a", "--repository", "a/b"], {
        FORGEJO_TOKEN: "t0ps3cret",
      }),
    ).toThrow(
      /--runner-deployment .*is required; --namespace .*is required; --forgejo-server .*is required; exactly one scope must be set, --organization, --repository, --user or --instance, got --organization and --repository; --labels: label "x:vm".*; --poll-interval: must be a duration/,
    );
  });

  it("serves the whole instance or the token's user with --instance=true or --user=true", () => {
    const withScope = (...scope: string[]) => [...flags.slice(0, 6), ...scope, ...flags.slice(8)];
    expect(parseListenerConfig(withScope("--instance=true"), { FORGEJO_TOKEN: "t" }).scope).toEqual({ kind: "instance" });
    expect(parseListenerConfig(withScope("--user=true"), { FORGEJO_TOKEN: "t" }).scope).toEqual({ kind: "user" });
    expect(parseListenerConfig(withScope(), { FORGEJO_TOKEN: "t", FORGEJO_ARC_INSTANCE: "true" }).scope).toEqual({ kind: "instance" });
    expect(() => parseListenerConfig(withScope("--instance=yes"), { FORGEJO_TOKEN: "t" })).toThrow(
      '--instance: must be "true" when set, got "yes"',
    );
    expect(() => parseListenerConfig(withScope("--instance=true", "--organization=acme"), { FORGEJO_TOKEN: "t" })).toThrow(
      "got --organization and --instance",
    );
  });

  it("refuses to start without a token", () => {
    expect(() => parseListenerConfig(flags, {})).toThrow("no Forgejo token");
  });

  it("leaves GitOps tracking labels out of ActRunners by default, or the prefixes the controller passes", () => {
    expect(parseListenerConfig(flags, { FORGEJO_TOKEN: "t" }).labelPropagationExclude).toEqual(DEFAULT_LABEL_PROPAGATION_EXCLUDE);
    expect(parseListenerConfig([...flags, "--label-propagation-exclude="], { FORGEJO_TOKEN: "t" }).labelPropagationExclude).toEqual([]);
    expect(parseListenerConfig([...flags, "--label-propagation-exclude=a/,b"], { FORGEJO_TOKEN: "t" }).labelPropagationExclude).toEqual([
      "a/",
      "b",
    ]);
  });

  it("rejects an unknown flag", () => {
    expect(() => parseListenerConfig([...flags, "--pol-interval", "5s"], { FORGEJO_TOKEN: "t" })).toThrow(/pol-interval/);
  });

  it("takes the proxy from its environment (the listenerTemplate's env) and refuses one that is not a URL", () => {
    expect(parseListenerConfig(flags, { FORGEJO_TOKEN: "t", HTTP_PROXY: "proxy.example:8080" }).proxy.http?.href).toBe(
      "http://proxy.example:8080/",
    );
    expect(() => parseListenerConfig(flags, { FORGEJO_TOKEN: "t", HTTP_PROXY: "http://" })).toThrow(
      "listener configuration: $HTTP_PROXY: not the URL of an HTTP proxy",
    );
  });
});
