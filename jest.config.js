// Two projects: "unit" (fast, offline) and "integration" (a real API server started by globalSetup).
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
const common = {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { useESM: true }] },
  // ts-jest rewrites relative ".ts" imports to ".js" (rewriteRelativeImportExtensions); map them back.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  // The local cluster's state (etcd writes *.snap files, which jest took for obsolete snapshots).
  modulePathIgnorePatterns: ["<rootDir>/.state/"],
};

const projects = [
  { ...common, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
  {
    ...common,
    displayName: "integration",
    testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
    globalSetup: "<rootDir>/test/integration/global-setup.mjs",
    globalTeardown: "<rootDir>/test/integration/global-teardown.mjs",
  },
];

// JEST_PROJECT=unit|integration picks one project (npm run test:unit / test:integration), so that
// extra arguments such as a test file path pass through to jest untouched.
const selected = process.env.JEST_PROJECT;

// Every temporary file of a run (kubeconfigs holding ServiceAccount tokens among them) goes into a
// folder of the run's own, removed as it ends (summary-reporter.mjs); a run that was killed leaves
// its folder, removed by the next run once its process is gone (a run going on meanwhile keeps its
// own). Workers inherit TMPDIR; only the main process prepares the folder.
if (!process.env.JEST_WORKER_ID) {
  const root = join(dirname(fileURLToPath(import.meta.url)), ".state", "tmp");
  mkdirSync(root, { recursive: true });
  for (const name of readdirSync(root)) {
    const pid = Number(/^jest-.+-(\d+)$/.exec(name)?.[1]);
    if (name.startsWith("jest-") && !(pid && isAlive(pid))) rmSync(join(root, name), { recursive: true, force: true });
  }
  const tmp = join(root, `jest-${selected ?? "all"}-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  process.env.TMPDIR = tmp;
  process.env.FORGEJO_ARC_JEST_TMPDIR = tmp;
}

/** @type {import('jest').Config} */
export default {
  reporters: ["default", "<rootDir>/test/summary-reporter.mjs"],
  projects: selected ? projects.filter((p) => p.displayName === selected) : projects,
};

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}
