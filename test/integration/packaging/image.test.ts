// What can be checked of the Dockerfile without a Docker engine: the files it copies exist, the
// .dockerignore lets exactly those in, and the entrypoint starts from a clean production-only
// install (npm ci --omit=dev) holding only what the image holds.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../../../scripts/cluster/cluster.ts";

const run = promisify(execFile);
const dockerfile = readFileSync(join(PROJECT_ROOT, "Dockerfile"), "utf8");
const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));

describe("container image", () => {
  it("copies only files that exist", () => {
    expect(copied).toEqual(["package.json", "package-lock.json", "package.json", "schemas", "src", "webhooks"]);
    for (const path of copied) expect(existsSync(join(PROJECT_ROOT, path))).toBe(true);
  });

  it("builds on Node 24 and runs as non-root with the forgejo-arc entrypoint", () => {
    expect(dockerfile.match(/^FROM node:(\d+)/gm)).toEqual(["FROM node:24", "FROM node:24"]);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["forgejo-arc"\]$/m);
  });

  it("lets exactly the copied paths into the build context", () => {
    const admitted = readFileSync(join(PROJECT_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("!"))
      .map((line) => line.slice(1).replace(/\/$/, ""));
    expect(new Set(admitted)).toEqual(new Set(copied));
  });

  it("starts both roles' code from a clean production-only install", async () => {
    const dir = mkdtempSync(join(tmpdir(), "forgejo-arc-image-"));
    try {
      for (const path of new Set(copied)) cpSync(join(PROJECT_ROOT, path), join(dir, path), { recursive: true });
      await run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: dir });
      expect(existsSync(join(dir, "node_modules/jest"))).toBe(false);
      const version = await run(process.execPath, [join(dir, "src/cli.ts"), "--version"], { cwd: dir });
      expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")).version);
      const help = await run(process.execPath, [join(dir, "src/cli.ts"), "help"], { cwd: dir });
      expect(help.stdout).toContain("usage: forgejo-arc controller [flags] | forgejo-arc listener [flags]");
      // The helm test's command is in the image too; without its flags it says which are needed.
      const check = await run(process.execPath, [join(dir, "src/cli.ts"), "check-webhooks"], { cwd: dir }).catch(
        (e: { stderr: string }) => e,
      );
      expect(check.stderr).toContain("check-webhooks: --url (base URL of the webhook server) and --ca-file (PEM CA) are required");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
