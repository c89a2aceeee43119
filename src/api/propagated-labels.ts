// A RunnerDeployment's own labels (metadata.labels) are copied to the objects made for it — the
// listener's ServiceAccount, Role, RoleBinding and Deployment, its ActRunners, their runner Secrets
// and Jobs — so that a policy requiring a label on every Deployment or Job (Gatekeeper's
// K8sRequiredLabels, Kyverno's require-labels) is met by labelling the RunnerDeployment, and so
// that `kubectl get … -l team=a` finds them. Pods get their labels from the templates.
import { API_GROUP } from "./schemas.ts";

/**
 * Label key prefixes not copied by default: the labels GitOps tools track their own objects by.
 * Copied to objects the operator makes, they would make Argo CD (label tracking), Flux, kapp or
 * Rancher Fleet take those objects for their own — shown out of sync, or pruned.
 */
export const DEFAULT_LABEL_PROPAGATION_EXCLUDE: readonly string[] = [
  "app.kubernetes.io/instance",
  "argocd.argoproj.io/",
  "kustomize.toolkit.fluxcd.io/",
  "helm.toolkit.fluxcd.io/",
  "kapp.k14s.io/",
  "objectset.rio.cattle.io/",
];

/** The operator's own label keys: never copied, whatever the flag says (they would mislead its own selectors). */
const OWN_PREFIX = `${API_GROUP}/`;

/** The labels of `labels` that are passed on: all but the operator's own and those whose key starts with a prefix of `exclude`. */
export function propagatedLabels(labels: Record<string, string> | undefined, exclude: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels ?? {}).filter(([key]) => !key.startsWith(OWN_PREFIX) && !exclude.some((prefix) => key.startsWith(prefix))),
  );
}
