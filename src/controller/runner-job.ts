// The objects one ActRunner runs with: a Secret with its ephemeral runner's credentials and a
// batch/v1 Job whose `runner` container runs exactly the ActRunner's job (forgejo.md, "Running
// exactly one job"): forgejo-runner one-job --url … --uuid … --token-url file:… --label … --handle … --wait
import type {
  V1Container,
  V1EnvVar,
  V1Job,
  V1OwnerReference,
  V1PodTemplateSpec,
  V1Secret,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { parseDuration } from "../api/duration.ts";
import { DEFAULT_CA_BUNDLE_KEY, DEFAULT_PICKUP_TIMEOUT, DOCKER_CONTAINER, FORGEJO_CA_DIR, RUNNER_CONTAINER } from "../api/defaults.ts";
import { parseLabels } from "../api/labels.ts";
import { propagatedLabels } from "../api/propagated-labels.ts";
import { fitName } from "../api/naming.ts";
import { mergePodTemplate } from "../api/pod-template.ts";
import { API_GROUP_VERSION } from "../api/schemas.ts";
import { LABELS, MANAGED_BY, RUNNER_POD_ANNOTATIONS } from "../api/well-known.ts";
import type { ActRunner, PodTemplate } from "../generated/api.ts";

export const CREDENTIALS_DIR = "/var/run/forgejo-arc/runner";
/** The runner pod's volume of its token (from the runner Secret), mounted at CREDENTIALS_DIR. */
export const CREDENTIALS_VOLUME = "credentials";
export const TOKEN_FILE = `${CREDENTIALS_DIR}/token`;

export interface RunnerJobOptions {
  /** Default runner image (forgejo-runner >= 12.8) when the ActRunner names none. */
  runnerImage: string;
  /** Docker-in-Docker image for the sidecar of docker labels. */
  dockerImage: string;
  /** How long a job may run once picked up; with the pickup timeout it bounds the Job (activeDeadlineSeconds). */
  jobTimeoutSeconds: number;
  /** Label key prefixes the ActRunner's labels are not copied to its Secret and Job with. */
  labelPropagationExclude: readonly string[];
  /** The cluster's runner pod template (--runner-pod-template), merged under the ActRunner's jobTemplate. */
  podTemplate?: PodTemplate;
}

export function runnerObjectName(ar: ActRunner): string {
  return fitName(ar.metadata!.name!, "");
}

export function runnerSecretName(ar: ActRunner): string {
  return fitName(ar.metadata!.name!, "-runner", 253);
}

/** The Forgejo runner's name: unique per namespace and ActRunner, so a retry can find it. */
export function forgejoRunnerName(ar: ActRunner): string {
  return `k8s-${ar.metadata!.namespace}-${ar.metadata!.name}`.slice(0, 255);
}

/**
 * The Forgejo runner's description. With the cluster's identity it ends in "(uid <ActRunner uid>,
 * cluster <id>)", which is how the orphan sweep (orphan-sweep.ts) knows a runner as this cluster's.
 */
export function forgejoRunnerDescription(ar: ActRunner, clusterId: string | undefined): string {
  const text = `forgejo-arc: ActRunner ${ar.metadata!.namespace}/${ar.metadata!.name} for job ${ar.spec.forgejoJobID}`;
  return clusterId ? `${text} (uid ${ar.metadata!.uid}, cluster ${clusterId})` : text;
}

const OWNER_MARK = /^forgejo-arc: ActRunner ([^/\s]+)\/.* \(uid ([^\s,()]+), cluster ([^\s,()]+)\)$/;

/** The ActRunner's namespace and uid and the cluster a runner's description names, when forgejoRunnerDescription marked it. */
export function forgejoRunnerOwner(description: string | undefined): { namespace: string; uid: string; clusterId: string } | undefined {
  const match = OWNER_MARK.exec(description ?? "");
  return match ? { namespace: match[1]!, uid: match[2]!, clusterId: match[3]! } : undefined;
}

function ownerReference(ar: ActRunner): V1OwnerReference {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: "ActRunner",
    name: ar.metadata!.name!,
    uid: ar.metadata!.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The labels of the runner's pod: the operator's own. */
export function runnerLabels(ar: ActRunner): Record<string, string> {
  const labels = ar.metadata?.labels ?? {};
  return {
    [LABELS.name]: "forgejo-arc",
    [LABELS.component]: "runner",
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.actRunner]: runnerObjectName(ar),
    [LABELS.jobId]: String(ar.spec.forgejoJobID),
    ...(labels[LABELS.runnerDeployment] ? { [LABELS.runnerDeployment]: labels[LABELS.runnerDeployment] } : {}),
  };
}

/** The labels of the runner Secret and Job: the ActRunner's (those passed on) and the operator's own. */
function runnerObjectLabels(ar: ActRunner, options: Pick<RunnerJobOptions, "labelPropagationExclude">): Record<string, string> {
  return { ...propagatedLabels(ar.metadata?.labels, options.labelPropagationExclude), ...runnerLabels(ar) };
}

export function runnerSecret(
  ar: ActRunner,
  credentials: { id: number; uuid: string; token: string },
  options: Pick<RunnerJobOptions, "labelPropagationExclude">,
): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: runnerSecretName(ar),
      namespace: ar.metadata!.namespace,
      labels: runnerObjectLabels(ar, options),
      ownerReferences: [ownerReference(ar)],
    },
    stringData: { uuid: credentials.uuid, token: credentials.token, id: String(credentials.id) },
    // Kubelets keep no watch on an immutable Secret; credentials change only by replacing it.
    immutable: true,
  };
}

/** The --uuid a runner Job was made with (its runner container's arguments). */
export function runnerUUIDOf(job: V1Job): string | undefined {
  const args = job.spec?.template.spec?.containers.find((c) => c.name === RUNNER_CONTAINER)?.args ?? [];
  const at = args.indexOf("--uuid");
  return at >= 0 ? args[at + 1] : undefined;
}

/** The runner container's arguments, exactly the one-job command of forgejo.md. */
export function runnerArgs(ar: ActRunner, uuid: string): string[] {
  const labels = parseLabels(ar.spec.labels).labels;
  return [
    "one-job",
    "--url",
    ar.spec.forgejoServer,
    "--uuid",
    uuid,
    "--token-url",
    `file:${TOKEN_FILE}`,
    ...labels.flatMap((label) => ["--label", label.raw]),
    "--handle",
    ar.spec.jobHandle,
    "--wait",
  ];
}

export function usesDocker(ar: ActRunner): boolean {
  return parseLabels(ar.spec.labels).labels.some((label) => label.scheme === "docker");
}

/**
 * A native sidecar (init container that keeps running) so the Job completes when the runner exits.
 * It is privileged: Docker-in-Docker needs it. Only docker labels get it.
 */
function dockerSidecar(image: string, registryCa: V1VolumeMount | undefined): V1Container {
  return {
    name: DOCKER_CONTAINER,
    image,
    restartPolicy: "Always",
    env: [{ name: "DOCKER_TLS_CERTDIR", value: "/certs" }],
    terminationMessagePolicy: "FallbackToLogsOnError",
    securityContext: { privileged: true, runAsUser: 0, runAsNonRoot: false },
    startupProbe: { exec: { command: ["docker", "info"] }, periodSeconds: 1, failureThreshold: 120 },
    volumeMounts: [
      { name: "docker-certs", mountPath: "/certs" },
      { name: "docker-data", mountPath: "/var/lib/docker" },
      ...(registryCa ? [registryCa] : []),
    ],
  };
}

/**
 * The cluster's runner pod template for one pod: its settings of the Docker sidecar (dockerd's flags
 * such as --mtu, its resources) apply to the pods that have one, those of docker labels; elsewhere
 * the entry would add an init container with no image.
 */
function clusterTemplateFor(template: PodTemplate | undefined, docker: boolean): PodTemplate | undefined {
  const initContainers = template?.spec?.initContainers;
  if (docker || !Array.isArray(initContainers) || !initContainers.some((c) => c.name === DOCKER_CONTAINER)) return template;
  const others = initContainers.filter((c) => c.name !== DOCKER_CONTAINER);
  return { ...template, spec: { ...template!.spec, initContainers: others.length > 0 ? others : undefined } };
}

export function runnerJob(ar: ActRunner, uuid: string, options: RunnerJobOptions): V1Job {
  const docker = usesDocker(ar);
  const podLabels = runnerLabels(ar);
  const env: V1EnvVar[] = [{ name: "HOME", value: "/data" }];
  const mounts: V1VolumeMount[] = [
    { name: CREDENTIALS_VOLUME, mountPath: CREDENTIALS_DIR, readOnly: true },
    { name: "data", mountPath: "/data" },
    { name: "tmp", mountPath: "/tmp" },
  ];
  const volumes: V1Volume[] = [
    {
      name: CREDENTIALS_VOLUME,
      secret: { secretName: runnerSecretName(ar), defaultMode: 0o440, items: [{ key: "token", path: "token" }] },
    },
    { name: "data", emptyDir: {} },
    { name: "tmp", emptyDir: {} },
  ];
  const ca = ar.spec.caBundleConfigMapRef;
  if (ca) {
    // forgejo-runner (Go) trusts every file in SSL_CERT_DIR besides the image's CA bundle file; the
    // usual certificate directories stay listed after the mounted one.
    env.push({ name: "SSL_CERT_DIR", value: `${FORGEJO_CA_DIR}:/etc/ssl/certs:/etc/pki/tls/certs` });
    mounts.push({ name: "forgejo-ca", mountPath: FORGEJO_CA_DIR, readOnly: true });
    volumes.push({
      name: "forgejo-ca",
      configMap: { name: ca.name, items: [{ key: ca.key ?? DEFAULT_CA_BUNDLE_KEY, path: "forgejo-ca.crt" }] },
    });
  }
  const initContainers: V1Container[] = [];
  if (docker) {
    env.push(
      { name: "DOCKER_HOST", value: "tcp://localhost:2376" },
      { name: "DOCKER_TLS_VERIFY", value: "1" },
      { name: "DOCKER_CERT_PATH", value: "/certs/client" },
    );
    mounts.push({ name: "docker-certs", mountPath: "/certs", readOnly: true });
    volumes.push({ name: "docker-certs", emptyDir: {} }, { name: "docker-data", emptyDir: {} });
    // dockerd trusts the *.crt files of /etc/docker/certs.d/<registry host> for that registry:
    // images from Forgejo's own container registry are pulled with its CA.
    const registryCa = ca && {
      name: "forgejo-ca",
      mountPath: `/etc/docker/certs.d/${new URL(ar.spec.forgejoServer).host}`,
      readOnly: true,
    };
    initContainers.push(dockerSidecar(options.dockerImage, registryCa));
  }
  const base: V1PodTemplateSpec = {
    metadata: { labels: podLabels, annotations: { ...RUNNER_POD_ANNOTATIONS } },
    spec: {
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 30,
      securityContext: { fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
      ...(initContainers.length > 0 ? { initContainers } : {}),
      containers: [
        {
          name: RUNNER_CONTAINER,
          image: ar.spec.runnerImage ?? options.runnerImage,
          command: ["forgejo-runner"],
          args: runnerArgs(ar, uuid),
          env,
          volumeMounts: mounts,
          // A failed runner's last log lines become its termination message, which the ActRunner's
          // status and Warning Event quote (job-status.ts).
          terminationMessagePolicy: "FallbackToLogsOnError",
          resources: { requests: { cpu: "100m", memory: "256Mi" } },
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
          },
        },
      ],
      volumes,
    },
  };
  const template = mergePodTemplate(mergePodTemplate(base, clusterTemplateFor(options.podTemplate, docker)), ar.spec.jobTemplate);
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...podLabels } };
  const pickupSeconds = Math.ceil(pickupTimeoutMs(ar) / 1000);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: runnerObjectName(ar),
      namespace: ar.metadata!.namespace,
      labels: runnerObjectLabels(ar, options),
      ownerReferences: [ownerReference(ar)],
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: pickupSeconds + options.jobTimeoutSeconds,
      podReplacementPolicy: "Failed",
      template,
    },
  };
}

/** How long the runner may wait for its job, as written (spec.pickupTimeout, default 10m). */
export function pickupTimeout(ar: ActRunner): string {
  return ar.spec.pickupTimeout ?? DEFAULT_PICKUP_TIMEOUT;
}

export function pickupTimeoutMs(ar: ActRunner): number {
  return parseDuration(pickupTimeout(ar)) ?? 600_000;
}
