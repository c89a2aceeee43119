// Starts the local cluster once for the integration suite (or reuses a running one), installs
// the generated CRDs into it, and bundles the CLI the test executor runs (the image's program).
import { buildBundle } from "../../scripts/build.ts";
import { clusterUp, installCrds } from "../../scripts/cluster/cluster.ts";

export default async function globalSetup() {
  const started = Date.now();
  const { state, started: fresh } = await clusterUp();
  process.env.FORGEJO_ARC_TEST_STARTED_CLUSTER = fresh ? "1" : "";
  process.env.KUBECONFIG = state.kubeconfig;
  installCrds(state);
  await buildBundle();
  console.log(`\nintegration: ${fresh ? "started" : "reusing"} the local cluster at ${state.server} (${Date.now() - started} ms)`);
}
