// Admission rules for RunnerDeployment: defaulting (mutating) and validation.
import {
  DEFAULT_PICKUP_TIMEOUT,
  DEFAULT_POLL_INTERVAL,
  DEFAULT_RETENTION_AFTER_FINISH,
  DEFAULT_TOKEN_KEY,
  LISTENER_CONTAINER,
  LISTENER_NAMESPACE_ENV,
  LISTENER_TOKEN_ENV,
  PICKUP_TIMEOUT_MAX_MS,
  PICKUP_TIMEOUT_MIN_MS,
  POLL_INTERVAL_MAX_MS,
  POLL_INTERVAL_MIN_MS,
  POLL_INTERVAL_WARN_BELOW_MS,
  RETENTION_MAX_MS,
  RETENTION_WARN_BELOW_MS,
  RUNNER_CONTAINER,
} from "../src/api/defaults.ts";
import { formatDuration, parseDuration } from "../src/api/duration.ts";
import { normaliseLabels, parseLabels } from "../src/api/labels.ts";
import { scopeProblems } from "../src/api/names.ts";
import { sharedLabelNames } from "../src/api/overlap.ts";
import { proxySettingsFromEnv } from "../src/forgejo/proxy.ts";
import { RUNNER_TRIES } from "../src/listener/plan.ts";
import { CREDENTIALS_DIR, CREDENTIALS_VOLUME } from "../src/controller/runner-job.ts";
import type { V1PodTemplateSpec } from "@kubernetes/client-node";
import type { PodTemplate, RunnerDeployment, RunnerDeploymentSpec } from "../src/generated/api.ts";
import type { Verdict } from "./admission.ts";
import { addOnlyPatch } from "./json-patch.ts";
import type { SchemaValidator } from "./schema-validation.ts";
import { dryRunObjects, objectsMadeFor, type DryRun, type PodOptions } from "./dry-run.ts";
import { checkQuotas, type ResourceQuotas } from "./quota.ts";
import { checkPullSecrets, pullSecretsNamed, type MissingSecrets } from "./pull-secrets.ts";

export interface RunnerDeploymentRules {
  schema: SchemaValidator;
  /** Absent: the objects the controller makes are checked only by the rules here, not by the API server. */
  dryRun?: DryRun;
  podOptions: PodOptions;
  /** How long the dry-run may take (DryRunRules.withinMs). */
  dryRunWithinMs?: number;
  /** The RunnerDeployments that exist (the controller's cache): overlapping label names are warned about. Absent: not checked. */
  runnerDeployments?: () => RunnerDeployment[];
  /** The namespace's ResourceQuotas: spec.maxRunners is checked against their counts. Absent: not checked. */
  resourceQuotas?: ResourceQuotas;
  /** Which of some Secrets a namespace lacks: image pull Secrets named for the pods are checked. Absent: not checked. */
  missingSecrets?: MissingSecrets;
}

export function defaultRunnerDeployment(rd: RunnerDeployment, namespace: string): RunnerDeployment {
  const result = structuredClone(rd);
  const spec = result.spec as Partial<RunnerDeploymentSpec> | undefined;
  if (typeof spec !== "object" || spec === null) return result;
  spec.pollInterval ??= DEFAULT_POLL_INTERVAL;
  spec.pickupTimeout ??= DEFAULT_PICKUP_TIMEOUT;
  spec.retentionAfterFinish ??= DEFAULT_RETENTION_AFTER_FINISH;
  if (typeof spec.labels === "string") spec.labels = normaliseLabels(spec.labels);
  if (typeof spec.tokenSecretRef === "object" && spec.tokenSecretRef !== null) {
    spec.tokenSecretRef.key ??= DEFAULT_TOKEN_KEY;
    if (namespace) spec.tokenSecretRef.namespace ??= namespace;
  }
  return result;
}

/**
 * The defaulting webhook's answer. It refuses already what the cheap checks (checkRules: all but
 * those on the objects built from it and their dry-run) refuse: the API server checks the CRD
 * schema and CEL rules between the mutating and the validating phase, and only the first phase
 * that fails answers — without this, a bad pollInterval would get CEL's terse message instead of
 * ours, and one problem at a time.
 * Warnings are left to the validating webhook so that they are not shown twice.
 */
export async function defaultingVerdict(rd: RunnerDeployment, namespace: string, rules: RunnerDeploymentRules): Promise<Verdict> {
  const defaulted = defaultRunnerDeployment(rd, namespace);
  const { denials } = checkRules(defaulted, namespace, rules);
  if (denials.length > 0) return { denials, warnings: [] };
  return { denials: [], warnings: [], patch: addOnlyPatch(rd, defaulted) };
}

function checkServer(server: string, verdict: Verdict): void {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    verdict.denials.push(`spec.forgejoServer: must be an http(s) URL such as "https://code.example.com", got "${server}"`);
    return;
  }
  const shown = `"${server.replace(/\/\/[^@/]*@/, "//***@")}"`;
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    verdict.denials.push(`spec.forgejoServer: must use https (or http), got ${shown}`);
  }
  if (url.username || url.password) {
    verdict.denials.push(
      `spec.forgejoServer: must not contain credentials, got ${shown}; put the token in the Secret of spec.tokenSecretRef`,
    );
  }
  if (url.search || url.hash) {
    verdict.denials.push(`spec.forgejoServer: must not contain a query or fragment, got ${shown}`);
  }
  if (url.protocol === "http:") {
    verdict.warnings.push(`spec.forgejoServer: ${shown} uses http, so the API token and runner credentials travel unencrypted; use https`);
  }
}

function checkDuration(field: string, value: string | undefined, minMs: number, maxMs: number, verdict: Verdict): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) {
    verdict.denials.push(`spec.${field}: must be a duration such as "10s" or "1m30s", got "${value}"`);
  } else if (ms < minMs || ms > maxMs) {
    verdict.denials.push(`spec.${field}: must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}, got "${value}"`);
  }
  return ms;
}

const LISTENER_FLAGS = "the controller runs the listener with its own command and flags, which come from the RunnerDeployment's spec";

/**
 * What a template must leave to the controller in its main container: the field and why. Replacing
 * the runner's arguments would drop `--uuid`, `--token-url` and `--handle` (the pod would run no job,
 * or another one); its command may wrap them. The listener's command and flags come from the spec.
 */
const CONTROLLER_OWNED = {
  runnerTemplate: {
    args: "the controller gives the runner its arguments (one-job with this runner's --uuid, --token-url, --label and the job's --handle), which these would replace; to wrap the runner, set command to a script that ends with exec forgejo-runner \"$@\"",
  },
  listenerTemplate: { command: LISTENER_FLAGS, args: LISTENER_FLAGS },
} as const;

function checkTemplate(
  field: keyof typeof CONTROLLER_OWNED,
  template: PodTemplate | undefined,
  container: string,
  restartPolicy: string,
  verdict: Verdict,
): void {
  const spec = template?.spec;
  if (!spec) return;
  for (const [i, c] of (Array.isArray(spec.containers) ? spec.containers : []).entries()) {
    if (c.name !== container) continue;
    for (const [key, why] of Object.entries(CONTROLLER_OWNED[field]) as [keyof typeof c, string][]) {
      if (c[key] !== undefined) verdict.denials.push(`spec.${field}.spec.containers[${i}].${key}: must not be set: ${why}`);
    }
  }
  if (Array.isArray(spec.containers) && spec.containers.length > 0 && !spec.containers.some((c) => c.name === container)) {
    verdict.denials.push(
      `spec.${field}.spec.containers: must include a container named "${container}" (it is merged onto the default ${container} container), got ${JSON.stringify(spec.containers.map((c) => c.name))}`,
    );
  }
  if (spec.restartPolicy !== undefined && spec.restartPolicy !== restartPolicy) {
    verdict.denials.push(`spec.${field}.spec.restartPolicy: must be ${restartPolicy} or unset, got "${spec.restartPolicy}"`);
  }
}

/** A template's label that the pods built from it do not carry as given: forgejo-arc sets that key on its pods itself. */
function checkTemplateLabels(
  field: keyof typeof CONTROLLER_OWNED,
  template: PodTemplate | undefined,
  built: V1PodTemplateSpec,
  verdict: Verdict,
): void {
  // The value is not named: some (a job's id, its ActRunner's name) differ from pod to pod.
  for (const [key, value] of Object.entries(template?.metadata?.labels ?? {})) {
    if (built.metadata?.labels?.[key] !== value)
      verdict.warnings.push(
        `spec.${field}.metadata.labels["${key}"]: "${value}" is not used: forgejo-arc sets this label on its pods itself; use a key of your own`,
      );
  }
}

/** spec.runnerImage is the runner container's image, unless the runnerTemplate's runner container names another, which wins. */
function checkRunnerImage(runnerImage: string | undefined, built: V1PodTemplateSpec, verdict: Verdict): void {
  const used = built.spec?.containers.find((c) => c.name === RUNNER_CONTAINER)?.image;
  if (runnerImage !== undefined && used !== runnerImage)
    verdict.warnings.push(
      `spec.runnerImage: "${runnerImage}" is not used: the runner container of spec.runnerTemplate names the image "${used}", which wins; set the image in one place`,
    );
}

/**
 * Volumes merge by name and mounts by path, so a template's volume named like the runner's
 * credentials volume, or a mount at its path, would replace the runner token the runner reads.
 */
function checkRunnerCredentials(template: PodTemplate | undefined, verdict: Verdict): void {
  const spec = template?.spec;
  const why = "the runner's own (its token, from the Secret the controller writes for each runner), which this would replace";
  for (const [i, volume] of (Array.isArray(spec?.volumes) ? spec.volumes : []).entries()) {
    if (volume.name === CREDENTIALS_VOLUME)
      verdict.denials.push(
        `spec.runnerTemplate.spec.volumes[${i}].name: must not be "${CREDENTIALS_VOLUME}": that volume is ${why}; name yours otherwise`,
      );
  }
  for (const [i, container] of (Array.isArray(spec?.containers) ? spec.containers : []).entries()) {
    if (container.name !== RUNNER_CONTAINER) continue;
    for (const [j, mount] of (Array.isArray(container.volumeMounts) ? container.volumeMounts : []).entries()) {
      if (mount.mountPath?.replace(/\/+$/, "") === CREDENTIALS_DIR)
        verdict.denials.push(
          `spec.runnerTemplate.spec.containers[${i}].volumeMounts[${j}].mountPath: must not be "${CREDENTIALS_DIR}": that mount is ${why}; mount yours elsewhere`,
        );
    }
  }
}

/** Variables the controller gives the listener, which a template's (env merges by name) would replace. */
const LISTENER_OWNED_ENV: Record<string, string> = {
  [LISTENER_TOKEN_ENV]: "the listener's token comes from spec.tokenSecretRef, through a secretKeyRef; name the token's Secret there",
  [LISTENER_NAMESPACE_ENV]: "the listener works in the RunnerDeployment's namespace, which the controller passes it",
};

/**
 * The listener's variables: none of those the controller sets, and proxy variables the listener
 * would accept at start (docs/configuration.md#forgejo-behind-an-http-proxy); values from Secrets
 * are not seen here.
 */
function checkListenerEnv(template: PodTemplate | undefined, verdict: Verdict): void {
  const containers = template?.spec?.containers ?? [];
  const index = containers.findIndex((c) => c.name === LISTENER_CONTAINER);
  if (index < 0) return;
  for (const [j, variable] of (containers[index]!.env ?? []).entries()) {
    const why = LISTENER_OWNED_ENV[variable.name];
    if (why) verdict.denials.push(`spec.listenerTemplate.spec.containers[${index}].env[${j}]: must not set ${variable.name}: ${why}`);
  }
  const literal = Object.fromEntries(
    (containers[index]!.env ?? []).flatMap((e) => (typeof e.value === "string" ? [[e.name, e.value]] : [])),
  );
  for (const problem of proxySettingsFromEnv(literal).problems)
    verdict.denials.push(`spec.listenerTemplate.spec.containers[${index}].env: ${problem}; the listener would not start`);
}

/** The rules on the object itself: all but those on the objects built from it (validateRunnerDeployment adds them). */
function checkRules(rd: RunnerDeployment, namespace: string, rules: RunnerDeploymentRules): Verdict {
  const verdict: Verdict = { denials: rules.schema.problems("RunnerDeployment", rd), warnings: [] };
  const spec = rd.spec as RunnerDeploymentSpec | undefined;
  if (typeof spec !== "object" || spec === null) return verdict;
  if (typeof spec.forgejoServer === "string") checkServer(spec.forgejoServer, verdict);
  if (spec.caBundleConfigMapRef && typeof spec.forgejoServer === "string" && spec.forgejoServer.startsWith("http://")) {
    verdict.warnings.push("spec.caBundleConfigMapRef: has no effect with an http forgejoServer; no certificate is checked over http");
  }
  verdict.denials.push(...scopeProblems(spec));
  if (typeof spec.labels === "string") {
    const labels = parseLabels(spec.labels);
    verdict.denials.push(...labels.errors.map((error) => `spec.labels: ${error}`));
    if (labels.labels.some((l) => l.scheme === "docker")) {
      verdict.warnings.push(
        "spec.labels: a docker label runs each runner pod with a privileged Docker-in-Docker sidecar; use host labels with a suitable runnerImage to avoid privileged pods",
      );
    }
  }
  const pollMs = checkDuration("pollInterval", spec.pollInterval, POLL_INTERVAL_MIN_MS, POLL_INTERVAL_MAX_MS, verdict);
  if (pollMs !== undefined && pollMs >= POLL_INTERVAL_MIN_MS && pollMs < POLL_INTERVAL_WARN_BELOW_MS) {
    verdict.warnings.push(`spec.pollInterval: "${spec.pollInterval}" polls Forgejo more than once per 5s; every listener adds that load`);
  }
  checkDuration("pickupTimeout", spec.pickupTimeout, PICKUP_TIMEOUT_MIN_MS, PICKUP_TIMEOUT_MAX_MS, verdict);
  const retentionMs = checkDuration("retentionAfterFinish", spec.retentionAfterFinish, 0, RETENTION_MAX_MS, verdict);
  if (retentionMs !== undefined && retentionMs < RETENTION_WARN_BELOW_MS) {
    verdict.warnings.push(
      `spec.retentionAfterFinish: "${spec.retentionAfterFinish}" deletes failed ActRunners before the listener has counted them; a job whose runner pods fail before taking it then gets a new runner at every poll instead of ${RUNNER_TRIES} in all; use 30s or more`,
    );
  }
  const secretNamespace = spec.tokenSecretRef?.namespace;
  if (secretNamespace !== undefined && namespace && secretNamespace !== namespace) {
    verdict.denials.push(
      `spec.tokenSecretRef.namespace: must be the RunnerDeployment's own namespace "${namespace}", got "${secretNamespace}"; create the token Secret in "${namespace}"`,
    );
  }
  if (typeof spec.maxRunners === "number" && spec.maxRunners < 1) {
    verdict.denials.push(`spec.maxRunners: must be at least 1, got ${spec.maxRunners}`);
  }
  if (typeof spec.minRunners === "number" && typeof spec.maxRunners === "number" && spec.minRunners > spec.maxRunners) {
    verdict.denials.push(`spec.minRunners: must not exceed spec.maxRunners ${spec.maxRunners}, got ${spec.minRunners}`);
  }
  if (typeof spec.minRunners === "number" && spec.minRunners > 0) {
    verdict.warnings.push(
      `spec.minRunners: ${spec.minRunners} has no effect yet: warm runners are not built, a runner starts for each waiting job`,
    );
  }
  if (verdict.denials.length === 0 && rules.runnerDeployments) checkOverlap(rd, namespace, rules.runnerDeployments(), verdict);
  checkTemplate("runnerTemplate", spec.runnerTemplate, RUNNER_CONTAINER, "Never", verdict);
  checkTemplate("listenerTemplate", spec.listenerTemplate, LISTENER_CONTAINER, "Always", verdict);
  checkRunnerCredentials(spec.runnerTemplate, verdict);
  checkListenerEnv(spec.listenerTemplate, verdict);
  return verdict;
}

export async function validateRunnerDeployment(rd: RunnerDeployment, namespace: string, rules: RunnerDeploymentRules): Promise<Verdict> {
  const verdict = checkRules(rd, namespace, rules);
  if (verdict.denials.length > 0) return verdict;
  // The objects the controller would make, built only for a RunnerDeployment the rules above admit.
  const spec = rd.spec;
  const made = objectsMadeFor(rd, namespace, rules.podOptions);
  checkTemplateLabels("runnerTemplate", spec.runnerTemplate, made.runnerJob.spec!.template, verdict);
  checkTemplateLabels("listenerTemplate", spec.listenerTemplate, made.listener.deployment.spec!.template, verdict);
  checkRunnerImage(spec.runnerImage, made.runnerJob.spec!.template, verdict);
  // Read while the dry-run runs. Hints only: what cannot be read is left out.
  const quotas = rules.resourceQuotas?.(namespace).catch(() => []);
  const pullSecrets = pullSecretsNamed(rd, made, rules.podOptions.listener.imagePullSecrets ?? [], namespace);
  const missing =
    pullSecrets.length > 0 ? rules.missingSecrets?.(namespace, [...new Set(pullSecrets.map((s) => s.name))]).catch(() => []) : undefined;
  if (rules.dryRun) await dryRunObjects(made, namespace, { dryRun: rules.dryRun, withinMs: rules.dryRunWithinMs }, verdict);
  if (verdict.denials.length === 0 && quotas) checkQuotas(spec.maxRunners, await quotas, verdict);
  if (verdict.denials.length === 0 && missing) checkPullSecrets(pullSecrets, await missing, verdict);
  return verdict;
}

const OVERLAPS_NAMED = 3;

/** Warns when other RunnerDeployments list the same jobs: each such job then gets one runner, from whichever listener sees it first. */
function checkOverlap(rd: RunnerDeployment, namespace: string, others: RunnerDeployment[], verdict: Verdict): void {
  const overlaps = others
    .filter((other) => other.metadata?.namespace !== namespace || other.metadata?.name !== rd.metadata?.name)
    .map((other) => ({ other: `${other.metadata?.namespace}/${other.metadata?.name}`, names: sharedLabelNames(rd.spec, other.spec) }))
    .filter(({ names }) => names.length > 0)
    .sort((a, b) => a.other.localeCompare(b.other));
  if (overlaps.length === 0) return;
  const named = overlaps
    .slice(0, OVERLAPS_NAMED)
    .map(({ other, names }) => `${other} (${names.join(", ")})`)
    .join(", ");
  const more = overlaps.length > OVERLAPS_NAMED ? ` and ${overlaps.length - OVERLAPS_NAMED} more` : "";
  verdict.warnings.push(
    `spec.labels: shares label names with RunnerDeployment ${named}${more} on the same Forgejo server and scope: ` +
      "a job that asks only for shared names gets one runner, from whichever of them sees it first; give each RunnerDeployment label names of its own if that matters",
  );
}
