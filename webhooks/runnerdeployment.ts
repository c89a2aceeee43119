// Admission rules for RunnerDeployment: defaulting (mutating) and validation.
import {
  DEFAULT_PICKUP_TIMEOUT,
  DEFAULT_POLL_INTERVAL,
  DEFAULT_RETENTION_AFTER_FINISH,
  DEFAULT_TOKEN_KEY,
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
import { RUNNER_TRIES } from "../src/listener/plan.ts";
import { templateProblems } from "../src/controller/template-rules.ts";
import type { V1PodTemplateSpec } from "@kubernetes/client-node";
import type { PodTemplate, RunnerDeployment, RunnerDeploymentSpec } from "../src/generated/api.ts";
import { imageReferenceProblem } from "../src/api/image-reference.ts";
import { oncePerField, type Verdict } from "./admission.ts";
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
  const apiPath = /\/api\/v1\/?$/.exec(url.pathname);
  if (apiPath) {
    const base = `${url.origin}${url.pathname.slice(0, apiPath.index)}`;
    verdict.denials.push(
      `spec.forgejoServer: is the URL Forgejo is served at, without its API path /api/v1 (added to every call), got ${shown}; use "${base}"`,
    );
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

/** A template's label that the pods built from it do not carry as given: forgejo-arc sets that key on its pods itself. */
function checkTemplateLabels(
  field: "runnerTemplate" | "listenerTemplate",
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

/** The rules on the object itself: all but those on the objects built from it (validateRunnerDeployment adds them). */
function checkRules(rd: RunnerDeployment, namespace: string, rules: RunnerDeploymentRules): Verdict {
  const schemaDenials = rules.schema.problems("RunnerDeployment", rd);
  const verdict: Verdict = { denials: [], warnings: [] };
  const spec = rd.spec as RunnerDeploymentSpec | undefined;
  if (typeof spec !== "object" || spec === null) return { ...verdict, denials: schemaDenials };
  if (typeof spec.forgejoServer === "string") checkServer(spec.forgejoServer, verdict);
  const imageProblem = typeof spec.runnerImage === "string" ? imageReferenceProblem(spec.runnerImage) : undefined;
  if (imageProblem) verdict.denials.push(`spec.runnerImage: "${spec.runnerImage}" ${imageProblem}`);
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
  if (typeof spec.minRunners === "number" && typeof spec.maxRunners === "number" && spec.minRunners > spec.maxRunners) {
    verdict.denials.push(`spec.minRunners: must not exceed spec.maxRunners ${spec.maxRunners}, got ${spec.minRunners}`);
  }
  if (typeof spec.minRunners === "number" && spec.minRunners > 0) {
    verdict.warnings.push(
      `spec.minRunners: ${spec.minRunners} has no effect yet: warm runners are not built, a runner starts for each waiting job`,
    );
  }
  if (schemaDenials.length === 0 && verdict.denials.length === 0 && rules.runnerDeployments)
    checkOverlap(rd, namespace, rules.runnerDeployments(), verdict);
  verdict.denials.push(
    ...templateProblems("runner", spec.runnerTemplate, (path) => `spec.runnerTemplate.${path}`),
    ...templateProblems("listener", spec.listenerTemplate, (path) => `spec.listenerTemplate.${path}`),
  );
  verdict.denials = oncePerField(schemaDenials, verdict.denials);
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
  const pullSecrets = pullSecretsNamed(rd, made, rules.podOptions, namespace);
  const missing =
    pullSecrets.length > 0 ? rules.missingSecrets?.(namespace, [...new Set(pullSecrets.map((s) => s.name))]).catch(() => []) : undefined;
  const admitted = rules.dryRun
    ? await dryRunObjects(made, namespace, { dryRun: rules.dryRun, withinMs: rules.dryRunWithinMs }, verdict)
    : {};
  // The pods as admitted carry what a LimitRange or a mutating webhook adds to them, which counts against quotas too.
  if (verdict.denials.length === 0 && quotas)
    checkQuotas(spec.maxRunners, await quotas, verdict, {
      runner: admitted.runner?.spec ?? made.runnerJob.spec!.template.spec!,
      listener: admitted.listener?.spec ?? made.listener.deployment.spec!.template.spec!,
    });
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
