// Two projects: "unit" (fast, offline) and "integration" (a real API server started by globalSetup).
import { mkdirSync, rmSync } from "node:fs";
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
// folder of the run's own, emptied as the run starts and removed as it ends (summary-reporter.mjs).
// Workers inherit TMPDIR; only the main process prepares the folder.
if (!process.env.JEST_WORKER_ID) {
  const tmp = join(dirname(fileURLToPath(import.meta.url)), ".state", "tmp", `jest-${selected ?? "all"}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  process.env.TMPDIR = tmp;
  process.env.FORGEJO_ARC_JEST_TMPDIR = tmp;
}

/** @type {import('jest').Config} */
export default {
  reporters: ["default", "<rootDir>/test/summary-reporter.mjs"],
  projects: selected ? projects.filter((p) => p.displayName === selected) : projects,
};
