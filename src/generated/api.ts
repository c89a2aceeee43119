// Generated from schemas/*.schema.json by `npm run generate`. Do not edit: change the schema and regenerate.

/**
 * Observations of the object's state.
 */
export type Conditions = Condition[];

/**
 * Every forgejo-arc custom resource.
 */
export interface ForgejoArcResources {
  RunnerDeployment?: RunnerDeployment;
  ActRunner?: ActRunner;
}
/**
 * Serves the Forgejo Actions jobs of one scope (an organization or a repository) with ephemeral runners: a listener watches the queue and every waiting job whose runs-on matches the labels gets one fresh runner pod.
 */
export interface RunnerDeployment {
  /**
   * forgejo.actions.io/v1alpha1
   */
  apiVersion?: string;
  /**
   * RunnerDeployment
   */
  kind?: string;
  metadata?: import("@kubernetes/client-node").V1ObjectMeta;
  spec: RunnerDeploymentSpec;
  status?: RunnerDeploymentStatus;
}
/**
 * What to serve and how runners are made.
 */
export interface RunnerDeploymentSpec {
  /**
   * Base URL of the Forgejo server, e.g. "https://code.example.com". https is expected; http is allowed with a warning. No credentials, query or fragment, nor the API path /api/v1.
   */
  forgejoServer: string;
  /**
   * Scope: the Forgejo organization whose jobs are served (API prefix orgs/{organization}). Exactly one scope field is set.
   */
  organization?: string;
  /**
   * Scope: the Forgejo repository "owner/name" whose jobs are served (API prefix repos/{owner}/{name}). Exactly one scope field is set.
   */
  repository?: string;
  /**
   * Scope: the jobs of every repository of the token's user (API prefix user; token scopes read:user and write:user). Exactly one scope field is set.
   */
  user?: true;
  /**
   * Scope: the jobs of every repository of the Forgejo instance (API prefix admin; a site administrator's token with read:admin and write:admin). Exactly one scope field is set.
   */
  instance?: true;
  /**
   * Comma-separated runner labels in forgejo-runner syntax name[:docker://image | :host], e.g. "docker" or "ubuntu-22.04:docker://node:20-bullseye". The names (before the first ":") are what a job's runs-on matches; the full labels go to the runner.
   */
  labels: string;
  tokenSecretRef: TokenSecretRef;
  /**
   * How often the listener asks Forgejo for waiting jobs, between 2s and 1h (below 5s draws a warning).
   */
  pollInterval?: string;
  /**
   * Upper bound on active (not yet finished) ActRunners. Absent: unbounded.
   */
  maxRunners?: number;
  /**
   * While true the listener creates no ActRunners: jobs stay waiting in Forgejo, and ActRunners made before run their jobs to the end. Set it, wait until status.activeActRunners is 0, then delete or replace the RunnerDeployment without cancelling running jobs. Absent: false.
   */
  suspend?: boolean;
  /**
   * Reserved for warm runners; must not exceed maxRunners. Currently only validated.
   */
  minRunners?: number;
  /**
   * Image of the runner container (forgejo-runner >= 12.8). Absent: the operator's default runner image. An image set on the runner container of runnerTemplate wins over this one (the webhook warns).
   */
  runnerImage?: string;
  /**
   * How long a runner may wait for Forgejo to hand it its job before it is stopped and marked Failed, counted from the creation of its Job: it includes the wait for a node (one a node autoscaler adds too).
   */
  pickupTimeout?: string;
  /**
   * How long a finished ActRunner (and its Job and pod) is kept for inspection before it is deleted.
   */
  retentionAfterFinish?: string;
  caBundleConfigMapRef?: CaBundleConfigMapRef;
  /**
   * Pod template merged onto the listener pod. A container named "listener" overrides the default listener container, except its command and args, which are the controller's.
   */
  listenerTemplate?: PodTemplate;
  /**
   * Pod template merged onto every runner pod. When containers are given, one must be named "runner"; restartPolicy, when set, must be Never. The runner container's args are the controller's (forgejo-runner one-job with the runner's --uuid and the job's --handle); a command set here wraps them.
   */
  runnerTemplate?: PodTemplate;
}
/**
 * The Secret holding the Forgejo API token (a personal access token of an owner of the scope).
 */
export interface TokenSecretRef {
  /**
   * Name of the Secret.
   */
  name: string;
  /**
   * Namespace of the Secret. Defaults to, and must equal, the namespace of the object that refers to it.
   */
  namespace?: string;
  /**
   * Key in the Secret's data that holds the token.
   */
  key?: string;
}
/**
 * A ConfigMap in the same namespace holding PEM CA certificates that sign a private Forgejo's certificate.
 */
export interface CaBundleConfigMapRef {
  /**
   * Name of the ConfigMap.
   */
  name: string;
  /**
   * Key in the ConfigMap that holds the PEM bundle.
   */
  key?: string;
}
/**
 * A Kubernetes PodTemplateSpec (metadata and spec) merged onto the operator's defaults; containers are merged by name. Validated at admission by a server-side dry-run of the resulting Pod, so the CRD keeps only its outline.
 */
export interface PodTemplate {
  /**
   * Labels and annotations added to the Pod.
   */
  metadata?: {
    /**
     * Labels added to the Pod.
     */
    labels?: {
      [k: string]: string;
    };
    /**
     * Annotations added to the Pod.
     */
    annotations?: {
      [k: string]: string;
    };
  };
  /**
   * A Kubernetes PodSpec (see kubectl explain pod.spec).
   */
  spec?: Partial<import("@kubernetes/client-node").V1PodSpec>;
}
/**
 * Observed state, written by the controller and the listener.
 */
export interface RunnerDeploymentStatus {
  /**
   * The metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Name of the running listener pod.
   */
  listenerPodName?: string;
  /**
   * When the listener last asked Forgejo for waiting jobs successfully.
   */
  lastPollTime?: string;
  /**
   * Jobs waiting in Forgejo with matching labels at the last poll.
   */
  waitingJobs?: number;
  /**
   * ActRunners that have not finished (Pending or Running).
   */
  activeActRunners?: number;
  /**
   * Version reported by the Forgejo server.
   */
  forgejoVersion?: string;
  /**
   * Why the listener's last poll failed; absent after a successful poll. The controller turns it into the ForgejoReachable and TokenValid conditions.
   */
  lastPollError?: {
    /**
     * unreachable, timeout, unauthorized, forbidden, not_found, rate_limited, server_error, malformed, rejected or unsupported.
     */
    kind: string;
    /**
     * What failed and what to change.
     */
    message: string;
    /**
     * When the poll failed.
     */
    time: string;
    /**
     * When polls started failing.
     */
    since?: string;
  };
  /**
   * Pending ActRunners whose job left Forgejo's queue before a runner took it (cancelled or re-run), as the listener saw at its last poll. The controller stops them.
   *
   * @maxItems 1000
   */
  vanishedActRunners?: string[];
  /**
   * ActRunners not yet marked PickedUp whose job Forgejo lists as running (a runner took it), as the listener saw at its last poll. The controller asks Forgejo whether their runner took it.
   *
   * @maxItems 1000
   */
  startedActRunners?: string[];
  /**
   * Unfinished ActRunners marked PickedUp whose job Forgejo no longer lists (it ended, was cancelled, or was reaped as a zombie), as the listener saw at its last poll. A runner exits once its job ends; the controller stops the pod of one still running after --lost-runner-grace whose Forgejo runner is gone (reason RunnerLost).
   *
   * @maxItems 1000
   */
  endedActRunners?: string[];
  /**
   * Ready, ListenerAvailable, ForgejoReachable, TokenValid, with spec.caBundleConfigMapRef CABundleValid, and once a runner ended RunnersHealthy.
   */
  conditions?: Conditions;
}
/**
 * A status condition in the Kubernetes convention.
 */
export interface Condition {
  /**
   * Type of the condition, e.g. Ready.
   */
  type: string;
  /**
   * True, False or Unknown.
   */
  status: "True" | "False" | "Unknown";
  /**
   * The metadata.generation the condition was computed from.
   */
  observedGeneration?: number;
  /**
   * When the status last changed.
   */
  lastTransitionTime: string;
  /**
   * A short UpperCamelCase reason for the status.
   */
  reason: string;
  /**
   * What happened and what to change, for humans.
   */
  message: string;
}
/**
 * One waiting Forgejo job and the ephemeral runner that runs exactly that job: a Forgejo runner registration, a Secret with its credentials and a batch/v1 Job. Created by a RunnerDeployment's listener; its spec never changes.
 */
export interface ActRunner {
  /**
   * forgejo.actions.io/v1alpha1
   */
  apiVersion?: string;
  /**
   * ActRunner
   */
  kind?: string;
  metadata?: import("@kubernetes/client-node").V1ObjectMeta;
  spec: ActRunnerSpec;
  status?: ActRunnerStatus;
}
/**
 * The job to run and where its runner registers. Immutable after creation.
 */
export interface ActRunnerSpec {
  /**
   * ID of the Forgejo job this runner runs.
   */
  forgejoJobID: number;
  /**
   * Handle of the job attempt (Forgejo >= 15); the runner is bound to it with one-job --handle, so it can take no other job.
   */
  jobHandle: string;
  /**
   * Base URL of the Forgejo server, e.g. "https://code.example.com". https is expected; http is allowed with a warning. No credentials, query or fragment, nor the API path /api/v1.
   */
  forgejoServer: string;
  /**
   * Scope: the Forgejo organization whose jobs are served (API prefix orgs/{organization}). Exactly one scope field is set.
   */
  organization?: string;
  /**
   * Scope: the Forgejo repository "owner/name" whose jobs are served (API prefix repos/{owner}/{name}). Exactly one scope field is set.
   */
  repository?: string;
  /**
   * Scope: the jobs of every repository of the token's user (API prefix user; token scopes read:user and write:user). Exactly one scope field is set.
   */
  user?: true;
  /**
   * Scope: the jobs of every repository of the Forgejo instance (API prefix admin; a site administrator's token with read:admin and write:admin). Exactly one scope field is set.
   */
  instance?: true;
  tokenSecretRef: TokenSecretRef;
  /**
   * Comma-separated runner labels in forgejo-runner syntax name[:docker://image | :host], e.g. "docker" or "ubuntu-22.04:docker://node:20-bullseye". The names (before the first ":") are what a job's runs-on matches; the full labels go to the runner.
   */
  labels: string;
  jobData: ForgejoJob;
  /**
   * The RunnerDeployment's runnerTemplate when this ActRunner was created.
   */
  jobTemplate?: PodTemplate;
  /**
   * Copied from the RunnerDeployment: the ConfigMap with the CA certificates of a private Forgejo, which the runner pod trusts too.
   */
  caBundleConfigMapRef?: CaBundleConfigMapRef;
  /**
   * Image of the runner container, copied from the RunnerDeployment. Absent: the operator's default.
   */
  runnerImage?: string;
  /**
   * Copied from the RunnerDeployment: how long the runner may wait for its job.
   */
  pickupTimeout?: string;
  /**
   * Copied from the RunnerDeployment: how long this ActRunner is kept after it finished.
   */
  retentionAfterFinish?: string;
}
/**
 * The job as Forgejo listed it when the ActRunner was created.
 */
export interface ForgejoJob {
  /**
   * Job ID.
   */
  id: number;
  /**
   * Attempt number; a re-run is a new attempt.
   */
  attempt?: number;
  /**
   * Handle of this attempt.
   */
  handle: string;
  /**
   * ID of the repository the job belongs to.
   */
  repo_id: number;
  /**
   * ID of the repository's owner.
   */
  owner_id: number;
  /**
   * Name of the job.
   */
  name: string;
  /**
   * Names of the jobs this one needs.
   *
   * @maxItems 256
   */
  needs?: string[] | null;
  /**
   * The job's runs-on labels.
   *
   * @maxItems 64
   */
  runs_on: string[];
  /**
   * Task ID; 0 while the job waits.
   */
  task_id: number;
  /**
   * Job status when listed, normally "waiting".
   */
  status: string;
}
/**
 * Observed state, written by the controller.
 */
export interface ActRunnerStatus {
  /**
   * The metadata.generation the controller last acted on.
   */
  observedGeneration?: number;
  /**
   * Pending until the runner pod runs, then Running, then Succeeded or Failed.
   */
  phase?: "Pending" | "Running" | "Succeeded" | "Failed";
  /**
   * Why the ActRunner is in its phase, UpperCamelCase, e.g. PickupTimeout.
   */
  reason?: string;
  /**
   * Details for humans.
   */
  message?: string;
  /**
   * Name of the batch/v1 Job running the runner.
   */
  kubernetesJobName?: string;
  /**
   * ID of the ephemeral runner registered in Forgejo.
   */
  runnerId?: number;
  /**
   * Name of the ephemeral runner in Forgejo: k8s-<namespace>-<name>, so a controller that restarts finds by name a runner registered before it could record it.
   */
  runnerName?: string;
  /**
   * UUID of the ephemeral runner (not secret; its token is in the runner Secret).
   */
  runnerUUID?: string;
  /**
   * When the runner pod started.
   */
  startedAt?: string;
  /**
   * When the runner finished.
   */
  completedAt?: string;
  /**
   * Registered, JobCreated, PickedUp and RunnerDeleted.
   */
  conditions?: Conditions;
}
