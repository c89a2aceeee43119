// What can be checked of the Dockerfile without a Docker engine: the files it copies exist, the
// .dockerignore lets exactly those in, and the bundle its build stage makes (scripts/build.ts) needs
// nothing but Node: it imports only Node's own modules and runs from a folder holding nothing else.
import { execFile } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import { OPTIONAL_IMPORTS, buildBundle } from "../../../scripts/build.ts";
import { PROJECT_ROOT } from "../../../scripts/cluster/cluster.ts";

const run = promisify(execFile);
const dockerfile = readFileSync(join(PROJECT_ROOT, "Dockerfile"), "utf8");
const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));

describe("container image", () => {
  it("copies only files that exist", () => {
    expect(copied).toEqual(["package.json", "package-lock.json", "schemas", "src", "webhooks", "scripts/build.ts"]);
    for (const path of copied) expect(existsSync(join(PROJECT_ROOT, path))).toBe(true);
  });

  it("builds on Node 24, ships only the bundle and runs it as non-root with the forgejo-arc entrypoint", () => {
    expect(dockerfile.match(/^FROM node:(\d+)/gm)).toEqual(["FROM node:24", "FROM node:24"]);
    expect(dockerfile).toMatch(/^RUN node scripts\/build\.ts$/m);
    expect([...dockerfile.matchAll(/^COPY --from=build (\S+) /gm)].map((m) => m[1])).toEqual(["/app/dist/forgejo-arc.mjs"]);
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

  it("bundles every role into one file that needs only Node", async () => {
    // Outside the project, where no node_modules of ours can be found by walking up.
    const dir = mkdtempSync("/tmp/forgejo-arc-image-");
    try {
      const { outfile, imports } = await buildBundle(join(dir, "forgejo-arc.mjs"));
      const allowed = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`), ...OPTIONAL_IMPORTS]);
      expect(imports.filter((imported) => !allowed.has(imported))).toEqual([]);
      await expectRunsAlone(outfile, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("makes the bundle in its build stage from the copied files alone (npm ci --ignore-scripts, then node scripts/build.ts)", async () => {
    const stage = mkdtempSync("/tmp/forgejo-arc-build-stage-");
    const image = mkdtempSync("/tmp/forgejo-arc-image-");
    try {
      for (const path of new Set(copied)) cpSync(join(PROJECT_ROOT, path), join(stage, path), { recursive: true });
      await run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: stage });
      await run(process.execPath, ["scripts/build.ts"], { cwd: stage });
      copyFileSync(join(stage, "dist/forgejo-arc.mjs"), join(image, "forgejo-arc.mjs"));
      rmSync(stage, { recursive: true, force: true });
      await expectRunsAlone(join(image, "forgejo-arc.mjs"), image);
    } finally {
      rmSync(stage, { recursive: true, force: true });
      rmSync(image, { recursive: true, force: true });
    }
  }, 300_000);
});

/** The image's commands work from the bundle in a folder that holds nothing else. */
async function expectRunsAlone(bundle: string, cwd: string): Promise<void> {
  const version = await run(process.execPath, [bundle, "--version"], { cwd });
  expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")).version);
  const help = await run(process.execPath, [bundle, "help"], { cwd });
  expect(help.stdout).toContain("usage: forgejo-arc controller [flags] | forgejo-arc listener [flags]");
  // The chart's helm test and pre-delete hook commands are in the image too; without their flags they say which are needed.
  const check = await run(process.execPath, [bundle, "check-webhooks"], { cwd }).catch((e: { stderr: string }) => e);
  expect(check.stderr).toContain(
    "check-webhooks: --url (base URL of the webhook server) and --ca-file (PEM CA; or the PEM itself in $FORGEJO_ARC_WEBHOOK_CA) are required",
  );
  const beforeUninstall = await run(process.execPath, [bundle, "before-uninstall"], { cwd }).catch((e: { stderr: string }) => e);
  expect(beforeUninstall.stderr).toContain("--runner-deployments: must be refuse or delete");
}
