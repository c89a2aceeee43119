import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
      maxBackoffMs: 300_000,
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
      /--runner-deployment .*is required; --namespace .*is required; --forgejo-server .*is required; exactly one scope must be set, --organization or --repository, got --organization and --repository; --labels: label "x:vm".*; --poll-interval: must be a duration/,
    );
  });

  it("refuses to start without a token", () => {
    expect(() => parseListenerConfig(flags, {})).toThrow("no Forgejo token");
  });

  it("rejects an unknown flag", () => {
    expect(() => parseListenerConfig([...flags, "--pol-interval", "5s"], { FORGEJO_TOKEN: "t" })).toThrow(/pol-interval/);
  });
});
