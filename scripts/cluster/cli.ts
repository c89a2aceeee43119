// npm run cluster:up | cluster:down | node scripts/cluster/cli.ts status
import { clusterDown, clusterUp, isRunning, readState, toolsBin } from "./cluster.ts";

const command = process.argv[2];

function usage(kubeconfig: string): string {
  return [
    `  export KUBECONFIG=${kubeconfig}`,
    `  export PATH=${toolsBin()}:$PATH   # the pinned kubectl, helm and ct`,
    "  kubectl get nodes",
    "Logs: .state/cluster/logs/<component>.log. Stop it with: npm run cluster:down",
  ].join("\n");
}

switch (command) {
  case "up": {
    const started = Date.now();
    const { state, started: fresh } = await clusterUp();
    console.log(
      fresh
        ? `cluster: started in ${((Date.now() - started) / 1000).toFixed(1)}s at ${state.server}`
        : `cluster: already running at ${state.server} (since ${state.startedAt})`,
    );
    console.log(usage(state.kubeconfig));
    break;
  }
  case "down": {
    const stopped = await clusterDown();
    console.log(
      stopped.length ? `cluster: stopped ${stopped.map((p) => `${p.name} (${p.pid})`).join(", ")}` : "cluster: nothing was running",
    );
    break;
  }
  case "status": {
    const state = readState();
    if (isRunning(state)) {
      console.log(`cluster: running at ${state.server}`);
      for (const p of state.processes) console.log(`  ${p.name} pid ${p.pid}`);
      console.log(usage(state.kubeconfig));
    } else {
      console.log(state ? "cluster: stale state (some processes are gone); run npm run cluster:down" : "cluster: not running");
      process.exitCode = 1;
    }
    break;
  }
  default:
    console.error("usage: node scripts/cluster/cli.ts up|down|status");
    process.exitCode = 2;
}
