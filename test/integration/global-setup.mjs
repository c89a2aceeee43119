// Starts the local cluster once for the integration suite (or reuses a running one) and installs
// the generated CRDs into it.
import { join } from "node:path";
import { PROJECT_ROOT, clusterUp, kubectl } from "../../scripts/cluster/cluster.ts";

export default async function globalSetup() {
  const started = Date.now();
  const { state, started: fresh } = await clusterUp();
  process.env.FORGEJO_ARC_TEST_STARTED_CLUSTER = fresh ? "1" : "";
  process.env.KUBECONFIG = state.kubeconfig;
  kubectl(state, ["apply", "--server-side", "--force-conflicts", "-f", join(PROJECT_ROOT, "chart/forgejo-arc/crds")]);
  kubectl(state, [
    "wait",
    "--for=condition=Established",
    "crd/runnerdeployments.forgejo.actions.io",
    "crd/actrunners.forgejo.actions.io",
    "--timeout=60s",
  ]);
  console.log(`\nintegration: ${fresh ? "started" : "reusing"} the local cluster at ${state.server} (${Date.now() - started} ms)`);
}
