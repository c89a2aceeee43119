// What a pod template merged onto the controller's own pods must leave alone: a RunnerDeployment's
// runnerTemplate and listenerTemplate (checked by the webhook) and the cluster-wide defaults merged
// under them (--runner-pod-template and --listener-pod-template, checked when the controller starts).
import { LISTENER_CONTAINER, LISTENER_NAMESPACE_ENV, LISTENER_TOKEN_ENV, RUNNER_CONTAINER } from "../api/defaults.ts";
import { imageReferenceProblem } from "../api/image-reference.ts";
import { LABELS } from "../api/well-known.ts";
import { proxySettingsFromEnv } from "../forgejo/proxy.ts";
import type { PodTemplate } from "../generated/api.ts";
import { CREDENTIALS_DIR, CREDENTIALS_VOLUME } from "./runner-job.ts";

/** Names a field of the template, e.g. `containers[0].args` → `spec.runnerTemplate.spec.containers[0].args`. */
export type FieldOf = (path: string) => string;

const LISTENER_FLAGS = "the controller runs the listener with its own command and flags, which come from the RunnerDeployment's spec";

/**
 * What a template must leave to the controller in its main container: the field and why. Replacing
 * the runner's arguments would drop `--uuid`, `--token-url` and `--handle` (the pod would run no job,
 * or another one); its command may wrap them. The listener's command and flags come from the spec.
 */
const CONTROLLER_OWNED = {
  runner: {
    args: "the controller gives the runner its arguments (one-job with this runner's --uuid, --token-url, --label and the job's --handle), which these would replace; to wrap the runner, set command to a script that ends with exec forgejo-runner \"$@\"",
  },
  listener: { command: LISTENER_FLAGS, args: LISTENER_FLAGS },
} as const;

const MAIN_CONTAINER = { runner: RUNNER_CONTAINER, listener: LISTENER_CONTAINER } as const;
const RESTART_POLICY = { runner: "Never", listener: "Always" } as const;

export type TemplateRole = keyof typeof MAIN_CONTAINER;

function containersOf(template: PodTemplate | undefined) {
  const containers = template?.spec?.containers;
  return Array.isArray(containers) ? containers : [];
}

/** Problems of a runner or listener pod template, each naming its field through `field`. */
export function templateProblems(role: TemplateRole, template: PodTemplate | undefined, field: FieldOf): string[] {
  const spec = template?.spec;
  if (!spec) return [];
  const problems: string[] = [];
  const container = MAIN_CONTAINER[role];
  const containers = containersOf(template);
  for (const [i, c] of containers.entries()) {
    if (c?.name !== container) continue;
    for (const [key, why] of Object.entries(CONTROLLER_OWNED[role]) as [keyof typeof c, string][]) {
      if (c[key] !== undefined) problems.push(`${field(`spec.containers[${i}].${key}`)}: must not be set: ${why}`);
    }
  }
  if (containers.length > 0 && !containers.some((c) => c?.name === container)) {
    problems.push(
      `${field("spec.containers")}: must include a container named "${container}" (it is merged onto the default ${container} container), got ${JSON.stringify(containers.map((c) => c?.name))}`,
    );
  }
  for (const list of ["initContainers", "containers"] as const) {
    for (const [i, c] of (Array.isArray(spec[list]) ? spec[list] : []).entries()) {
      const problem = typeof c?.image === "string" ? imageReferenceProblem(c.image) : undefined;
      if (problem) problems.push(`${field(`spec.${list}[${i}].image`)}: "${c.image}" ${problem}`);
    }
  }
  if (spec.restartPolicy !== undefined && spec.restartPolicy !== RESTART_POLICY[role]) {
    problems.push(`${field("spec.restartPolicy")}: must be ${RESTART_POLICY[role]} or unset, got "${spec.restartPolicy}"`);
  }
  problems.push(...(role === "runner" ? runnerCredentialsProblems(template, field) : listenerEnvProblems(template, field)));
  return problems;
}

/**
 * Volumes merge by name and mounts by path, so a template's volume named like the runner's
 * credentials volume, or a mount at its path, would replace the runner token the runner reads.
 */
function runnerCredentialsProblems(template: PodTemplate | undefined, field: FieldOf): string[] {
  const problems: string[] = [];
  const volumes = template?.spec?.volumes;
  const why = "the runner's own (its token, from the Secret the controller writes for each runner), which this would replace";
  for (const [i, volume] of (Array.isArray(volumes) ? volumes : []).entries()) {
    if (volume?.name === CREDENTIALS_VOLUME)
      problems.push(
        `${field(`spec.volumes[${i}].name`)}: must not be "${CREDENTIALS_VOLUME}": that volume is ${why}; name yours otherwise`,
      );
  }
  for (const [i, container] of containersOf(template).entries()) {
    if (container?.name !== RUNNER_CONTAINER) continue;
    for (const [j, mount] of (Array.isArray(container.volumeMounts) ? container.volumeMounts : []).entries()) {
      if (mount?.mountPath?.replace(/\/+$/, "") === CREDENTIALS_DIR)
        problems.push(
          `${field(`spec.containers[${i}].volumeMounts[${j}].mountPath`)}: must not be "${CREDENTIALS_DIR}": that mount is ${why}; mount yours elsewhere`,
        );
    }
  }
  return problems;
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
function listenerEnvProblems(template: PodTemplate | undefined, field: FieldOf): string[] {
  const containers = containersOf(template);
  const index = containers.findIndex((c) => c?.name === LISTENER_CONTAINER);
  if (index < 0) return [];
  const problems: string[] = [];
  const env = Array.isArray(containers[index]!.env) ? containers[index]!.env : [];
  for (const [j, variable] of env.entries()) {
    const why = variable && LISTENER_OWNED_ENV[variable.name];
    if (why) problems.push(`${field(`spec.containers[${index}].env[${j}]`)}: must not set ${variable.name}: ${why}`);
  }
  const literal = Object.fromEntries(env.flatMap((e) => (typeof e?.value === "string" ? [[e.name, e.value]] : [])));
  for (const problem of proxySettingsFromEnv(literal).problems)
    problems.push(`${field(`spec.containers[${index}].env`)}: ${problem}; the listener would not start`);
  return problems;
}

const MAIN_IMAGE_FLAG = {
  runner:
    "set the default runner image with --runner-image (the chart's runner.image), which a RunnerDeployment's spec.runnerImage overrides",
  listener: "set the listener image with --listener-image (the chart's listener.image)",
} as const;

/** The label keys forgejo-arc sets on its pods itself (runnerLabels, listenerPodLabels), over any template's. */
const OWN_POD_LABELS: Record<TemplateRole, readonly string[]> = {
  runner: [LABELS.name, LABELS.component, LABELS.managedBy, LABELS.actRunner, LABELS.jobId, LABELS.runnerDeployment],
  listener: [LABELS.name, LABELS.component, LABELS.managedBy, LABELS.runnerDeployment],
};

/**
 * Problems of the cluster-wide defaults: a template's, an image for the main container (it has a
 * flag of its own), and a label the pods would not carry as given (the webhook only warns about a
 * RunnerDeployment's; a controller's setting has no user to warn).
 */
export function defaultTemplateProblems(role: TemplateRole, template: PodTemplate, field: FieldOf): string[] {
  const problems = templateProblems(role, template, field);
  for (const key of Object.keys(template.metadata?.labels ?? {}))
    if (OWN_POD_LABELS[role].includes(key))
      problems.push(
        `${field(`metadata.labels["${key}"]`)}: must not be set: forgejo-arc sets this label on its pods itself; use a key of your own`,
      );
  for (const [i, c] of containersOf(template).entries())
    if (c?.name === MAIN_CONTAINER[role] && c.image !== undefined)
      problems.push(`${field(`spec.containers[${i}].image`)}: must not be set: ${MAIN_IMAGE_FLAG[role]}`);
  return problems;
}
