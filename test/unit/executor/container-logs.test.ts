// The executor node's log endpoint answers the API server's pods/log requests as a kubelet does.
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveContainerLogs, type ContainerLog, type ContainerLogServer } from "../../executor/container-logs.ts";
import { selfSignedCertificate } from "../../fixtures/tls.ts";

const dir = mkdtempSync(join(tmpdir(), "container-logs-"));
const tls = selfSignedCertificate(dir, "executor");
let server: ContainerLogServer;
let current: string[] = [];
let previous: string[] | undefined;
let followers: { onLine: (line: string) => void; onEnd: () => void }[] = [];

const log: ContainerLog = {
  lines: (wantPrevious) => (wantPrevious ? previous : current),
  follow: (onLine, onEnd) => {
    const follower = { onLine, onEnd };
    followers.push(follower);
    return () => (followers = followers.filter((f) => f !== follower));
  },
};

beforeAll(async () => {
  server = await serveContainerLogs(tls, (namespace, pod, container) =>
    namespace === "ns" && pod === "p" && container === "main" ? log : undefined,
  );
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  current = ["one", "two", "three"];
  previous = undefined;
  followers = [];
});

/** GET on the endpoint; `whileOpen` runs once the answer's head arrived. */
function get(path: string, whileOpen?: () => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`https://127.0.0.1:${server.port}${path}`, { ca: tls.cert }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      whileOpen?.();
    });
    req.on("error", reject);
    req.end();
  });
}

describe("container log endpoint of the test executor", () => {
  it("serves the current run, its last lines, and at most limitBytes", async () => {
    expect(await get("/containerLogs/ns/p/main")).toEqual({ status: 200, body: "one\ntwo\nthree\n" });
    expect(await get("/containerLogs/ns/p/main?tailLines=2")).toEqual({ status: 200, body: "two\nthree\n" });
    expect(await get("/containerLogs/ns/p/main?tailLines=0")).toEqual({ status: 200, body: "" });
    expect(await get("/containerLogs/ns/p/main?limitBytes=6")).toEqual({ status: 200, body: "one\ntw" });
  });

  it("serves the previous run when there was one, and says so when not", async () => {
    expect(await get("/containerLogs/ns/p/main?previous=true")).toMatchObject({ status: 400, body: expect.stringContaining("previous") });
    previous = ["before the restart"];
    expect(await get("/containerLogs/ns/p/main?previous=true")).toEqual({ status: 200, body: "before the restart\n" });
  });

  it("follows new lines until the run ends", async () => {
    const answer = get("/containerLogs/ns/p/main?follow=true&tailLines=1", () => {
      setTimeout(() => {
        for (const f of followers) f.onLine("four");
        for (const f of followers) f.onEnd();
      }, 50);
    });
    expect(await answer).toEqual({ status: 200, body: "three\nfour\n" });
    expect(followers).toEqual([]);
  });

  it("answers 404 for a container it does not run and for other paths", async () => {
    expect(await get("/containerLogs/ns/p/sidecar")).toMatchObject({ status: 404, body: expect.stringContaining('container "sidecar"') });
    expect((await get("/pods")).status).toBe(404);
  });
});
