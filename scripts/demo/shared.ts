// Names and paths shared by the demo's CLI and its host process.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../cluster/cluster.ts";

export { freePort } from "../cluster/cluster.ts";

export const DEMO_STATE_DIR = join(PROJECT_ROOT, ".state/demo");
mkdirSync(join(DEMO_STATE_DIR, "certs"), { recursive: true });

export const DEMO = {
  namespace: "forgejo-arc-demo",
  organization: "acme",
  token: "demo-token-0f3c9a",
  runnerDeployment: "acme-runners",
  label: "ubuntu-latest",
} as const;
