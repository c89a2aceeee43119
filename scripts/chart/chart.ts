// The Helm chart as the tests, chart:test and the demo use it: rendering with the pinned helm, and
// the arguments that make ct find its config files (see build-tools.sh).
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { PROJECT_ROOT, toolsBin, toolsPath } from "../cluster/cluster.ts";

export const CHART_DIR = join(PROJECT_ROOT, "chart/forgejo-arc");
export const CT_CONFIG = join(PROJECT_ROOT, "ct.yaml");
/** The Kubernetes version the local cluster runs; `helm template` otherwise assumes 1.20. */
export const KUBE_VERSION = "1.36.3";

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [key: string]: unknown;
}

export function helm(args: string[], options: { kubeconfig?: string } = {}): string {
  return execFileSync("helm", args, {
    encoding: "utf8",
    cwd: PROJECT_ROOT,
    env: { ...process.env, PATH: toolsPath(), ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}) },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** A pinned tool (helm, ct) without blocking the event loop — needed while this process also
 *  plays the kubelet (the test executor). The error carries the tool's output. */
export async function runToolAsync(
  command: string,
  args: string[],
  options: { kubeconfig?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<string> {
  const { stdout } = await promisify(execFile)(command, args, {
    encoding: "utf8",
    cwd: PROJECT_ROOT,
    env: { ...process.env, PATH: toolsPath(), ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}), ...options.env },
    timeout: options.timeoutMs ?? 300_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`${command} ${args.slice(0, 2).join(" ")} failed: ${error.stderr || error.message}\n${error.stdout ?? ""}`);
  });
  return stdout;
}

export function helmAsync(args: string[], options: { kubeconfig?: string; timeoutMs?: number } = {}): Promise<string> {
  return runToolAsync("helm", args, options);
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** --set-string style pairs (dotted keys). */
  set?: Record<string, string | number | boolean>;
  valuesFiles?: string[];
  /** Template paths relative to the chart, e.g. "templates/webhooks.yaml". */
  showOnly?: string[];
}

export function renderArgs(options: RenderOptions = {}): string[] {
  return [
    "template",
    options.release ?? "forgejo-arc",
    CHART_DIR,
    "--namespace",
    options.namespace ?? "forgejo-arc",
    "--kube-version",
    KUBE_VERSION,
    ...(options.valuesFiles ?? []).flatMap((file) => ["--values", file]),
    ...Object.entries(options.set ?? {}).flatMap(([key, value]) => ["--set", `${key}=${String(value)}`]),
    ...(options.showOnly ?? []).flatMap((path) => ["--show-only", path]),
  ];
}

export function renderYaml(options: RenderOptions = {}): string {
  return helm(renderArgs(options));
}

export function render(options: RenderOptions = {}): RenderedObject[] {
  return parseAllDocuments(renderYaml(options))
    .map((document) => document.toJS() as RenderedObject | null)
    .filter((object): object is RenderedObject => object !== null);
}

export function ctEtcArgs(): string[] {
  const etc = join(toolsBin(), "..", "ct-etc");
  return ["--chart-yaml-schema", join(etc, "chart_schema.yaml"), "--lint-conf", join(etc, "lintconf.yaml")];
}
