// Names and paths shared by the demo's CLI and its host process.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../cluster/cluster.ts";

export { freePort } from "../cluster/cluster.ts";

export const DEMO_STATE_DIR = join(PROJECT_ROOT, ".state/demo");
// The demo's own cluster, apart from the one tests, benches and `cluster:up` use (.state/cluster):
// `npm test` run while the demo is up would otherwise share its cluster with the demo's controller
// and listener (which took over the tests' ActRunners and pods), and `demo:down` would stop a cluster
// the demo did not start.
export const DEMO_CLUSTER_DIR = join(DEMO_STATE_DIR, "cluster");
mkdirSync(join(DEMO_STATE_DIR, "certs"), { recursive: true });

export const DEMO = {
  namespace: "forgejo-arc-demo",
  organization: "acme",
  token: "demo-token-0f3c9a",
  runnerDeployment: "acme-runners",
  label: "ubuntu-latest",
} as const;
