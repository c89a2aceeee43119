// Starts the local cluster once for the integration suite (or reuses a running one) and installs
// the generated CRDs into it.
import { clusterUp, installCrds } from "../../scripts/cluster/cluster.ts";

export default async function globalSetup() {
  const started = Date.now();
  const { state, started: fresh } = await clusterUp();
  process.env.FORGEJO_ARC_TEST_STARTED_CLUSTER = fresh ? "1" : "";
  process.env.KUBECONFIG = state.kubeconfig;
  installCrds(state);
  console.log(`\nintegration: ${fresh ? "started" : "reusing"} the local cluster at ${state.server} (${Date.now() - started} ms)`);
}
