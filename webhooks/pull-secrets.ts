// The webhook's check of the image pull Secrets the runner and listener pods name: the API server
// creates a pod whose pull Secret does not exist, and its kubelet pulls without it, so a registry
// that needs credentials answers ImagePullBackOff only once a job waits. Pull Secrets are the
// namespace's own, so those the controller adds — the chart's listener.imagePullSecrets and those of
// its runner.podTemplate and listener.podTemplate — must exist in every RunnerDeployment's namespace.
import type { V1LocalObjectReference } from "@kubernetes/client-node";
import type { RunnerDeployment } from "../src/generated/api.ts";
import type { Verdict } from "./admission.ts";
import type { MadeObjects, PodOptions } from "./dry-run.ts";

/** The names among `names` of Secrets that do not exist in the namespace (the API server answered 404). */
export type MissingSecrets = (namespace: string, names: string[]) => Promise<string[]>;

/** A pull Secret a pod made for the RunnerDeployment names, and the warning when it is missing. */
interface NamedPullSecret {
  name: string;
  warning: string;
}

const namesOf = (secrets: V1LocalObjectReference[] | undefined): string[] => (secrets ?? []).map((s) => s.name ?? "").filter(Boolean);

/**
 * The pull Secrets of the runner pod and the listener pod as they will be made in `namespace`: those
 * of the templates, and the controller's own — its pod templates' and its listener pull Secrets.
 */
export function pullSecretsNamed(rd: RunnerDeployment, made: MadeObjects, options: PodOptions, namespace: string): NamedPullSecret[] {
  const missing = (name: string) => `Secret "${name}" does not exist in namespace "${namespace}"`;
  const fromController = (pods: string, name: string, values: string, without: string) =>
    `spec.${pods}Template: the controller gives ${pods} pods the image pull Secret "${name}" (the chart's ${values}), ` +
    `which does not exist in namespace "${namespace}": ${without}; create it there`;
  const runnerTemplateNames = new Set(namesOf(rd.spec.runnerTemplate?.spec?.imagePullSecrets));
  const runnerWithout = "the runner pods would pull their images without it (ImagePullBackOff where a registry needs it)";
  const runner = namesOf(made.runnerJob.spec?.template.spec?.imagePullSecrets).map((name) => ({
    name,
    warning: runnerTemplateNames.has(name)
      ? `spec.runnerTemplate.spec.imagePullSecrets: ${missing(name)}: ${runnerWithout}; create it there`
      : fromController("runner", name, "runner.podTemplate", runnerWithout),
  }));
  const listenerTemplateNames = new Set(namesOf(rd.spec.listenerTemplate?.spec?.imagePullSecrets));
  const listenerFlagNames = options.listener.imagePullSecrets ?? [];
  const listener = namesOf(made.listener.deployment.spec?.template.spec?.imagePullSecrets).map((name) => ({
    name,
    warning: listenerTemplateNames.has(name)
      ? `spec.listenerTemplate.spec.imagePullSecrets: ${missing(name)}: the listener pod would pull its image without it ` +
        "(ImagePullBackOff where its registry needs it); create it there"
      : fromController(
          "listener",
          name,
          listenerFlagNames.includes(name) ? "listener.imagePullSecrets" : "listener.podTemplate",
          "the listener pod would pull the operator's image without it (ImagePullBackOff where its registry needs it)",
        ),
  }));
  return [...runner, ...listener];
}

/** Warnings for each named pull Secret among `missing`. A manifest may create it after the RunnerDeployment, so it is not refused. */
export function checkPullSecrets(named: NamedPullSecret[], missing: string[], verdict: Verdict): void {
  for (const { name, warning } of named) if (missing.includes(name)) verdict.warnings.push(warning);
}
