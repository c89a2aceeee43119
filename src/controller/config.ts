// The controller's flags, each with an environment fallback and a default. `forgejo-arc controller
// --help` prints this table; docs/configuration.md lists the same.
import { parseArgs } from "node:util";
import { parseDuration } from "../api/duration.ts";
import { imageReferenceProblem } from "../api/image-reference.ts";
import { DEFAULT_LABEL_PROPAGATION_EXCLUDE } from "../api/propagated-labels.ts";
import { commaSeparated, isNamespaceName, isObjectName } from "../api/naming.ts";
import { proxySettingsFromEnv, type ProxySettings } from "../forgejo/proxy.ts";
import type { ListenerOptions } from "./listener-resources.ts";
import type { RunnerJobOptions } from "./runner-job.ts";
import { defaultTemplateProblems, type TemplateRole } from "./template-rules.ts";
import type { PodTemplate } from "../generated/api.ts";
import { sharedSchemaValidator } from "../../webhooks/schema-validation.ts";
import { VERSION } from "../version.ts";

export const CONTROLLER_FLAGS = {
  "listener-image": {
    env: "FORGEJO_ARC_LISTENER_IMAGE",
    default: `ghcr.io/forgejo-arc/forgejo-arc:${VERSION}`,
    help: "Image of listener pods (the operator's own image).",
  },
  "listener-image-pull-policy": {
    env: "FORGEJO_ARC_LISTENER_IMAGE_PULL_POLICY",
    default: "",
    help: "imagePullPolicy of listener pods (empty: Kubernetes' default).",
  },
  "listener-image-pull-secrets": {
    env: "FORGEJO_ARC_LISTENER_IMAGE_PULL_SECRETS",
    default: "",
    help: "Image pull Secrets of listener pods, comma-separated names; each RunnerDeployment's namespace must hold them (the webhook warns where one is missing).",
  },
  "listener-pod-template": {
    env: "FORGEJO_ARC_LISTENER_POD_TEMPLATE",
    default: "",
    help: "A pod template in JSON (metadata.labels, metadata.annotations, spec) merged under every RunnerDeployment's spec.listenerTemplate, e.g. a node pool's nodeSelector and tolerations; empty: none.",
  },
  "runner-pod-template": {
    env: "FORGEJO_ARC_RUNNER_POD_TEMPLATE",
    default: "",
    help: "A pod template in JSON, as --listener-pod-template, merged under every RunnerDeployment's spec.runnerTemplate in the runner Jobs made from then on; empty: none.",
  },
  "runner-image": {
    env: "FORGEJO_ARC_RUNNER_IMAGE",
    default: "code.forgejo.org/forgejo/runner:12.8.0",
    help: "Default runner image (forgejo-runner >= 12.8).",
  },
  "docker-image": { env: "FORGEJO_ARC_DOCKER_IMAGE", default: "docker:28-dind", help: "Docker-in-Docker sidecar image for docker labels." },
  "job-timeout": {
    env: "FORGEJO_ARC_JOB_TIMEOUT",
    default: "3h",
    help: "Longest a picked-up job may run; with the pickup timeout it is the Job's activeDeadlineSeconds.",
  },
  "runner-cleanup-timeout": {
    env: "FORGEJO_ARC_RUNNER_CLEANUP_TIMEOUT",
    default: "10m",
    help: "How long a deleted ActRunner's finalizer retries deleting its Forgejo runner before it gives up with an Event.",
  },
  "pickup-check-interval": {
    env: "FORGEJO_ARC_PICKUP_CHECK_INTERVAL",
    default: "10s",
    help: "Least time between two questions to Forgejo whether one runner took its job; asked only while the listener reports the job running, and before the pickup timeout.",
  },
  "lost-runner-grace": {
    env: "FORGEJO_ARC_LOST_RUNNER_GRACE",
    default: "2m",
    help: "How long a runner pod may run on after Forgejo ended its job (the listener no longer lists it); then, once Forgejo confirms the runner gone, its Job is deleted (reason RunnerLost): a lost node or a hung runner frees its place.",
  },
  "orphan-sweep-interval": {
    env: "FORGEJO_ARC_ORPHAN_SWEEP_INTERVAL",
    default: "10m",
    help: "How often the leader deletes Forgejo runners this cluster registered for ActRunners that no longer exist; 0s disables it.",
  },
  "forgejo-timeout": { env: "FORGEJO_ARC_FORGEJO_TIMEOUT", default: "10s", help: "Timeout of one Forgejo request." },
  workers: { env: "FORGEJO_ARC_WORKERS", default: "4", help: "Concurrent reconciles per resource kind." },
  port: { env: "FORGEJO_ARC_PORT", default: "8080", help: "Port of /healthz, /readyz and /metrics." },
  host: { env: "FORGEJO_ARC_HOST", default: "0.0.0.0", help: "Address of /healthz, /readyz and /metrics." },
  "webhook-port": { env: "FORGEJO_ARC_WEBHOOK_PORT", default: "9443", help: "HTTPS port of the admission webhooks; 0 disables them." },
  "webhook-host": { env: "FORGEJO_ARC_WEBHOOK_HOST", default: "0.0.0.0", help: "Address of the admission webhooks." },
  "webhook-cert-dir": {
    env: "FORGEJO_ARC_WEBHOOK_CERT_DIR",
    default: "/etc/forgejo-arc/webhook-certs",
    help: "Folder with tls.crt and tls.key, reloaded when they change.",
  },
  "leader-elect": {
    env: "FORGEJO_ARC_LEADER_ELECT",
    default: "false",
    help: "Elect a leader with a Lease; only the leader reconciles (set with more than one replica).",
  },
  "leader-election-namespace": { env: "POD_NAMESPACE", default: "default", help: "Namespace of the leader election Lease." },
  "leader-election-id": {
    env: "FORGEJO_ARC_LEADER_ELECTION_ID",
    default: "forgejo-arc-controller",
    help: "Name of the leader election Lease.",
  },
  identity: { env: "POD_NAME", default: "", help: "This replica's name in the Lease (default: host name and PID)." },
  "relist-interval": {
    env: "FORGEJO_ARC_RELIST_INTERVAL",
    default: "5m",
    help: "Full relist period of every informer; also how often each listener's ServiceAccount, Role, RoleBinding and Deployment are applied again, undoing edits and deletions from outside.",
  },
  "watch-namespaces": {
    env: "FORGEJO_ARC_WATCH_NAMESPACES",
    default: "",
    help: "Namespaces whose RunnerDeployments and ActRunners the controller serves, comma-separated; it watches and may act only there, and the webhook refuses RunnerDeployments elsewhere; empty: every namespace.",
  },
  "label-propagation-exclude": {
    env: "FORGEJO_ARC_LABEL_PROPAGATION_EXCLUDE",
    default: DEFAULT_LABEL_PROPAGATION_EXCLUDE.join(","),
    help: "Label key prefixes, comma-separated, not copied from a RunnerDeployment to the objects made for it (GitOps tools' tracking labels); empty copies every label.",
  },
} as const;

type Flag = keyof typeof CONTROLLER_FLAGS;

export interface ControllerConfig {
  listenerImage: string;
  listenerImagePullPolicy?: string;
  /** Names of Secrets in each RunnerDeployment's namespace that listener pods pull their image with. */
  listenerImagePullSecrets: string[];
  runnerImage: string;
  dockerImage: string;
  jobTimeoutMs: number;
  cleanupTimeoutMs: number;
  pickupCheckIntervalMs: number;
  lostRunnerGraceMs: number;
  /** 0: no orphan sweep. */
  orphanSweepIntervalMs: number;
  forgejoTimeoutMs: number;
  workers: number;
  port: number;
  host: string;
  webhookPort: number;
  webhookHost: string;
  webhookCertDir: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  identity: string;
  relistIntervalMs: number;
  /** The namespaces served; undefined: every namespace. */
  watchNamespaces?: string[];
  /** Label key prefixes a RunnerDeployment's labels are not copied with. */
  labelPropagationExclude: string[];
  /** The cluster's pod templates, merged under each RunnerDeployment's listenerTemplate and runnerTemplate. */
  listenerPodTemplate?: PodTemplate;
  runnerPodTemplate?: PodTemplate;
  /** From HTTP_PROXY, HTTPS_PROXY and NO_PROXY: how the Forgejo servers are reached. */
  proxy: ProxySettings;
}

export function controllerUsage(): string {
  return Object.entries(CONTROLLER_FLAGS)
    .map(([name, f]) => `  --${name.padEnd(28)} $${f.env.padEnd(38)} ${f.help} (default ${f.default === "" ? "empty" : `"${f.default}"`})`)
    .join("\n");
}

export function parseControllerConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(CONTROLLER_FLAGS).map((n) => [n, { type: "string" as const }])),
    strict: true,
  });
  const value = (name: Flag): string =>
    (values[name] as string | undefined) ?? env[CONTROLLER_FLAGS[name].env] ?? CONTROLLER_FLAGS[name].default;
  const { settings: proxy, problems } = proxySettingsFromEnv(env);
  const duration = (name: Flag) => {
    const ms = parseDuration(value(name));
    if (ms === undefined) problems.push(`--${name}: must be a duration such as "10m", got "${value(name)}"`);
    return ms ?? 0;
  };
  const integer = (name: Flag, min: number, max: number) => {
    const n = Number(value(name));
    if (!Number.isInteger(n) || n < min || n > max)
      problems.push(`--${name}: must be a whole number from ${min} to ${max}, got "${value(name)}"`);
    return n;
  };
  const boolean = (name: Flag) => {
    const text = value(name);
    if (text !== "true" && text !== "false") problems.push(`--${name}: must be true or false, got "${text}"`);
    return text === "true";
  };
  const podTemplate = (name: "listener-pod-template" | "runner-pod-template", role: TemplateRole) => {
    const { template, problems: found } = parsePodTemplate(`--${name}`, role, value(name));
    problems.push(...found);
    return template;
  };
  const watchNamespaces = [...new Set(commaSeparated(value("watch-namespaces")))];
  const config: ControllerConfig = {
    listenerImage: value("listener-image"),
    listenerImagePullPolicy: value("listener-image-pull-policy") || undefined,
    listenerImagePullSecrets: commaSeparated(value("listener-image-pull-secrets")),
    runnerImage: value("runner-image"),
    dockerImage: value("docker-image"),
    jobTimeoutMs: duration("job-timeout"),
    cleanupTimeoutMs: duration("runner-cleanup-timeout"),
    pickupCheckIntervalMs: duration("pickup-check-interval"),
    lostRunnerGraceMs: duration("lost-runner-grace"),
    orphanSweepIntervalMs: duration("orphan-sweep-interval"),
    forgejoTimeoutMs: duration("forgejo-timeout"),
    workers: integer("workers", 1, 64),
    port: integer("port", 0, 65535),
    host: value("host"),
    webhookPort: integer("webhook-port", 0, 65535),
    webhookHost: value("webhook-host"),
    webhookCertDir: value("webhook-cert-dir"),
    leaderElect: boolean("leader-elect"),
    leaderElectionNamespace: value("leader-election-namespace"),
    leaderElectionId: value("leader-election-id"),
    identity: value("identity") || `${env.HOSTNAME ?? "forgejo-arc"}-${process.pid}`,
    relistIntervalMs: duration("relist-interval"),
    watchNamespaces: watchNamespaces.length > 0 ? watchNamespaces : undefined,
    labelPropagationExclude: commaSeparated(value("label-propagation-exclude")),
    listenerPodTemplate: podTemplate("listener-pod-template", "listener"),
    runnerPodTemplate: podTemplate("runner-pod-template", "runner"),
    proxy,
  };
  for (const name of ["listener-image", "runner-image", "docker-image"] as const) {
    const problem = imageReferenceProblem(value(name));
    if (problem) problems.push(`--${name}: "${value(name)}" ${problem}`);
  }
  for (const name of (config.watchNamespaces ?? []).filter((n) => !isNamespaceName(n)))
    problems.push(`--watch-namespaces: "${name}" is not a namespace name (at most 63 lowercase letters, digits and "-")`);
  for (const name of config.listenerImagePullSecrets.filter((n) => !isObjectName(n)))
    problems.push(`--listener-image-pull-secrets: "${name}" is not a Secret name (lowercase letters, digits, "-" and ".")`);
  // A runner needs a moment to exit after its job ends; with no grace it would be taken for lost.
  if (config.lostRunnerGraceMs < 1000)
    problems.push(
      `--lost-runner-grace: must be at least 1s (a runner exits moments after its job ends), got "${value("lost-runner-grace")}"`,
    );
  if (config.orphanSweepIntervalMs > 0 && config.orphanSweepIntervalMs < 1000)
    problems.push(`--orphan-sweep-interval: must be 0s (off) or at least 1s, got "${value("orphan-sweep-interval")}"`);
  if (problems.length > 0) throw new Error(`controller configuration: ${problems.join("; ")}`);
  return config;
}

/** A pod template flag's value: empty for none, else JSON that the schema's podTemplate and the template rules admit. */
function parsePodTemplate(flag: string, role: TemplateRole, text: string): { template?: PodTemplate; problems: string[] } {
  if (text.trim() === "") return { problems: [] };
  const field = (path: string) => `${flag}: ${path}`;
  let template: unknown;
  try {
    template = JSON.parse(text);
  } catch (error) {
    const example = '{"spec": {"nodeSelector": {"pool": "ci"}}}';
    return { problems: [`${flag}: must be a pod template in JSON such as ${example}: ${(error as Error).message}`] };
  }
  const shape = sharedSchemaValidator().podTemplateProblems(template);
  if (shape.length > 0) return { problems: shape.map((problem) => field(problem)) };
  return { template: template as PodTemplate, problems: defaultTemplateProblems(role, template as PodTemplate, field) };
}

/** What the runner Jobs and listener objects are built with, from the controller's flags. */
export function podOptionsOf(config: ControllerConfig): { job: RunnerJobOptions; listener: ListenerOptions } {
  return {
    job: {
      runnerImage: config.runnerImage,
      dockerImage: config.dockerImage,
      jobTimeoutSeconds: Math.round(config.jobTimeoutMs / 1000),
      labelPropagationExclude: config.labelPropagationExclude,
      podTemplate: config.runnerPodTemplate,
    },
    listener: {
      image: config.listenerImage,
      imagePullPolicy: config.listenerImagePullPolicy,
      imagePullSecrets: config.listenerImagePullSecrets,
      labelPropagationExclude: config.labelPropagationExclude,
      podTemplate: config.listenerPodTemplate,
    },
  };
}
