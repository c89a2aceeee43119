// The listener's configuration: flags set by the controller on the listener Deployment, with
// environment fallbacks. The token comes from FORGEJO_TOKEN (a secretKeyRef) or --token-file.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_POLL_INTERVAL, LISTENER_NAMESPACE_ENV, LISTENER_TOKEN_ENV } from "../api/defaults.ts";
import { parseDuration } from "../api/duration.ts";
import { parseLabels, type RunnerLabel } from "../api/labels.ts";
import { scopeProblems } from "../api/names.ts";
import { DEFAULT_LABEL_PROPAGATION_EXCLUDE } from "../api/propagated-labels.ts";
import { commaSeparated } from "../api/naming.ts";
import { proxySettingsFromEnv, type ProxySettings } from "../forgejo/proxy.ts";
import { scopeFromSpec, type ForgejoScope } from "../forgejo/scope.ts";

export interface ListenerConfig {
  runnerDeployment: string;
  namespace: string;
  forgejoServer: string;
  scope: ForgejoScope;
  labels: RunnerLabel[];
  pollIntervalMs: number;
  token: string;
  /** --ca-file: read at start and again before each poll, so a rotated bundle takes effect without a restart. */
  caFile?: string;
  caBundle?: string;
  /** Port of /healthz, /readyz and /metrics. */
  port: number;
  host: string;
  maxBackoffMs: number;
  /** Label key prefixes the RunnerDeployment's labels are not copied to ActRunners with. */
  labelPropagationExclude: string[];
  /** From HTTP_PROXY, HTTPS_PROXY and NO_PROXY (set through the RunnerDeployment's listenerTemplate). */
  proxy: ProxySettings;
}

export const LISTENER_FLAGS = {
  "runner-deployment": { type: "string", env: "FORGEJO_ARC_RUNNER_DEPLOYMENT", help: "Name of the RunnerDeployment served (required)." },
  namespace: { type: "string", env: LISTENER_NAMESPACE_ENV, help: "Its namespace (required)." },
  "forgejo-server": { type: "string", env: "FORGEJO_ARC_FORGEJO_SERVER", help: "Forgejo base URL (required)." },
  organization: { type: "string", env: "FORGEJO_ARC_ORGANIZATION", help: "Scope: organization." },
  repository: { type: "string", env: "FORGEJO_ARC_REPOSITORY", help: "Scope: repository owner/name." },
  user: { type: "string", env: "FORGEJO_ARC_USER", help: 'Scope: "true" for every repository of the token\'s user.' },
  instance: { type: "string", env: "FORGEJO_ARC_INSTANCE", help: 'Scope: "true" for the whole instance (a site administrator\'s token).' },
  labels: { type: "string", env: "FORGEJO_ARC_LABELS", help: "Runner labels, comma-separated (required)." },
  "poll-interval": { type: "string", env: "FORGEJO_ARC_POLL_INTERVAL", help: `Poll interval (default ${DEFAULT_POLL_INTERVAL}).` },
  "token-file": { type: "string", env: "FORGEJO_ARC_TOKEN_FILE", help: "File holding the Forgejo token; else $FORGEJO_TOKEN." },
  "ca-file": { type: "string", env: "FORGEJO_ARC_CA_FILE", help: "PEM CA bundle for a private Forgejo, read again before each poll." },
  port: { type: "string", env: "FORGEJO_ARC_PORT", help: "Health and metrics port (default 8080)." },
  host: { type: "string", env: "FORGEJO_ARC_HOST", help: "Health and metrics address (default 0.0.0.0)." },
  "max-backoff": { type: "string", env: "FORGEJO_ARC_MAX_BACKOFF", help: "Cap of the error backoff (default 1m)." },
  "label-propagation-exclude": {
    type: "string",
    env: "FORGEJO_ARC_LABEL_PROPAGATION_EXCLUDE",
    help: `Label key prefixes, comma-separated, not copied from the RunnerDeployment to its ActRunners; the controller passes its own (default ${DEFAULT_LABEL_PROPAGATION_EXCLUDE.join(",")}).`,
  },
} as const;

export function parseListenerConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ListenerConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(LISTENER_FLAGS).map((name) => [name, { type: "string" as const }])),
    strict: true,
  });
  const value = (name: keyof typeof LISTENER_FLAGS): string | undefined =>
    (values[name] as string | undefined) ?? env[LISTENER_FLAGS[name].env] ?? undefined;
  const { settings: proxy, problems } = proxySettingsFromEnv(env);
  const required = (name: keyof typeof LISTENER_FLAGS): string => {
    const v = value(name);
    if (!v) problems.push(`--${name} (or $${LISTENER_FLAGS[name].env}) is required`);
    return v ?? "";
  };
  const runnerDeployment = required("runner-deployment");
  const namespace = required("namespace");
  const forgejoServer = required("forgejo-server");
  const labelsText = required("labels");
  const trueFlag = (name: "user" | "instance"): true | undefined => {
    const text = value(name);
    if (text !== undefined && text !== "true") problems.push(`--${name}: must be "true" when set, got "${text}"`);
    return text === undefined ? undefined : true;
  };
  const scopeFields = {
    organization: value("organization"),
    repository: value("repository"),
    user: trueFlag("user"),
    instance: trueFlag("instance"),
  };
  problems.push(...scopeProblems(scopeFields).map((p) => p.replace(/^spec: /, "").replace(/spec\.(\w+)/g, "--$1")));
  const labels = parseLabels(labelsText);
  if (labelsText) problems.push(...labels.errors.map((e) => `--labels: ${e}`));
  const duration = (name: "poll-interval" | "max-backoff", fallback: string) => {
    const text = value(name) ?? fallback;
    const ms = parseDuration(text);
    if (ms === undefined) problems.push(`--${name}: must be a duration such as "10s", got "${text}"`);
    return ms ?? 0;
  };
  const pollIntervalMs = duration("poll-interval", DEFAULT_POLL_INTERVAL);
  const maxBackoffMs = duration("max-backoff", "1m");
  const tokenFile = value("token-file");
  const token = (tokenFile ? readFileSync(tokenFile, "utf8") : (env[LISTENER_TOKEN_ENV] ?? "")).trim();
  if (!token) problems.push("no Forgejo token: set $FORGEJO_TOKEN (from the token Secret) or --token-file");
  const port = Number(value("port") ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`--port: must be a port number, got "${value("port")}"`);
  if (problems.length > 0) throw new Error(`listener configuration: ${problems.join("; ")}`);
  const caFile = value("ca-file");
  return {
    runnerDeployment,
    namespace,
    forgejoServer,
    scope: scopeFromSpec(scopeFields),
    labels: labels.labels,
    pollIntervalMs,
    token,
    caFile,
    caBundle: caFile ? readFileSync(caFile, "utf8") : undefined,
    port,
    host: value("host") ?? "0.0.0.0",
    maxBackoffMs,
    labelPropagationExclude: commaSeparated(value("label-propagation-exclude") ?? DEFAULT_LABEL_PROPAGATION_EXCLUDE.join(",")),
    proxy,
  };
}
