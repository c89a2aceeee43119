// Names shared by every part of the operator: labels, finalizers, field managers.
import { API_GROUP } from "./schemas.ts";

export const LABELS = {
  runnerDeployment: `${API_GROUP}/runner-deployment`,
  jobId: `${API_GROUP}/job-id`,
  jobAttempt: `${API_GROUP}/job-attempt`,
  jobHandle: `${API_GROUP}/job-handle`,
  repositoryId: `${API_GROUP}/repository-id`,
  actRunner: `${API_GROUP}/act-runner`,
  managedBy: "app.kubernetes.io/managed-by",
  name: "app.kubernetes.io/name",
  component: "app.kubernetes.io/component",
  instance: "app.kubernetes.io/instance",
} as const;

export const MANAGED_BY = "forgejo-arc";
export const FINALIZER = `${API_GROUP}/runner-cleanup`;
export const FIELD_MANAGER = "forgejo-arc";
export const LISTENER_FIELD_MANAGER = "forgejo-arc-listener";
/** On each CRD: a digest of its spec, which the controller compares with the one it was built with. */
export const CRD_SCHEMA_DIGEST_ANNOTATION = `${API_GROUP}/schema-digest`;
/**
 * On every runner pod unless its template sets them otherwise: a runner pod runs one job and cannot
 * move elsewhere, so node autoscalers (Cluster Autoscaler, Karpenter) are told not to evict it to
 * empty a node; it ends with its job.
 */
export const RUNNER_POD_ANNOTATIONS: Readonly<Record<string, string>> = {
  "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
  "karpenter.sh/do-not-disrupt": "true",
};
