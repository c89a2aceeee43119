// Defaults of the API, shared by the defaulting webhook and the code that reads the resources.
// test/unit/api/defaults.test.ts checks them against the schemas' `default` keywords.
export const DEFAULT_POLL_INTERVAL = "10s";
export const DEFAULT_TOKEN_KEY = "token";
export const DEFAULT_PICKUP_TIMEOUT = "10m";
export const DEFAULT_RETENTION_AFTER_FINISH = "10m";
export const DEFAULT_CA_BUNDLE_KEY = "ca.crt";
/** Where listener and runner pods mount spec.caBundleConfigMapRef. */
export const FORGEJO_CA_DIR = "/etc/forgejo-arc/ca";

export const POLL_INTERVAL_MIN_MS = 2_000;
export const POLL_INTERVAL_MAX_MS = 3_600_000;
export const POLL_INTERVAL_WARN_BELOW_MS = 5_000;
export const PICKUP_TIMEOUT_MIN_MS = 30_000;
export const PICKUP_TIMEOUT_MAX_MS = 86_400_000;
export const RETENTION_MAX_MS = 7 * 86_400_000;
/** Below this, a job whose runner failed before taking it is tried at every poll: the listener counts tries from kept ActRunners. */
export const RETENTION_WARN_BELOW_MS = 30_000;

/** Container names the operator's pods are built around; templates override them by name. */
export const RUNNER_CONTAINER = "runner";
export const LISTENER_CONTAINER = "listener";
/** The listener container's variables that the controller sets: the token (a secretKeyRef) and its namespace. */
export const LISTENER_TOKEN_ENV = "FORGEJO_TOKEN";
export const LISTENER_NAMESPACE_ENV = "POD_NAMESPACE";
/** The Docker-in-Docker sidecar of runner pods with docker labels. */
export const DOCKER_CONTAINER = "docker";
