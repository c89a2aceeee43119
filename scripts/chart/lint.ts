// `npm run chart:lint`: helm lint with the default and every ci values file, then ct lint (Chart.yaml
// schema, yamllint, maintainers off). The template tests and ct install run in the integration suite
// (test/integration/chart); `npm run chart:test` runs both.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT, toolsPath } from "../cluster/cluster.ts";
import { CHART_DIR, CT_CONFIG, KUBE_VERSION, ctEtcArgs } from "./chart.ts";

const env = { ...process.env, PATH: toolsPath() };
const run = (command: string, args: string[]) => execFileSync(command, args, { cwd: PROJECT_ROOT, env, stdio: "inherit" });

const ciValues = readdirSync(join(CHART_DIR, "ci"))
  .filter((file) => file.endsWith("-values.yaml"))
  .map((file) => join(CHART_DIR, "ci", file));
let linted = 0;
for (const values of [undefined, ...ciValues]) {
  console.log(`chart:lint: helm lint ${values ? `with ${values.slice(PROJECT_ROOT.length + 1)}` : "with the default values"}`);
  run("helm", ["lint", "--strict", CHART_DIR, "--kube-version", KUBE_VERSION, ...(values ? ["--values", values] : [])]);
  linted++;
}
console.log("chart:lint: ct lint");
run("ct", ["lint", "--config", CT_CONFIG, ...ctEtcArgs()]);
console.log(`chart:lint: ${linted} helm lint runs and ct lint passed`);
