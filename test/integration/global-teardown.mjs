// Stops the local cluster if the suite started it (set FORGEJO_ARC_KEEP_CLUSTER=1 to keep it).
import { clusterDown } from "../../scripts/cluster/cluster.ts";

export default async function globalTeardown() {
  if (process.env.FORGEJO_ARC_TEST_STARTED_CLUSTER !== "1" || process.env.FORGEJO_ARC_KEEP_CLUSTER === "1") return;
  const stopped = await clusterDown();
  console.log(`integration: stopped the local cluster (${stopped.map((p) => p.name).join(", ")})`);
}
