// Exactly what the controller may do: in the namespaces it watches (all, or --watch-namespaces),
// on the cluster-scoped objects it reads, and in its own namespace for leader election. The chart's
// ClusterRole and Roles render these rules (docs/operations.md explains each); tests run the
// controller under them.
import type { V1PolicyRule } from "@kubernetes/client-node";
import { API_GROUP } from "../api/schemas.ts";
import { CRD_SCHEMA_DIGESTS } from "../generated/crds.ts";

/** Cluster-wide without --watch-namespaces (the chart's ClusterRole); else both parts, apart. */
export function controllerClusterRoleRules(): V1PolicyRule[] {
  return [...controllerNamespacedRules(), ...controllerClusterScopedRules()];
}

/** On the objects of the namespaces the controller watches: one Role in each with --watch-namespaces. */
export function controllerNamespacedRules(): V1PolicyRule[] {
  return [
    { apiGroups: [API_GROUP], resources: ["runnerdeployments"], verbs: ["get", "list", "watch"] },
    { apiGroups: [API_GROUP], resources: ["runnerdeployments/status"], verbs: ["get", "patch", "update"] },
    // create: a Role may only grant what its creator holds, and listeners create ActRunners.
    { apiGroups: [API_GROUP], resources: ["actrunners"], verbs: ["get", "list", "watch", "create", "patch", "update", "delete"] },
    { apiGroups: [API_GROUP], resources: ["actrunners/status"], verbs: ["get", "patch", "update"] },
    // Token Secrets are read; runner credential Secrets are created, read (is a waiting pod's still there?) and replaced;
    // the webhook sees whether the image pull Secrets named for the pods exist.
    { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "delete"] },
    { apiGroups: [""], resources: ["configmaps"], verbs: ["get"] },
    { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["get", "create", "patch"] },
    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: ["get", "create", "patch"] },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "create", "patch"] },
    { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "list", "watch", "create", "delete"] },
    // create: the webhook's server-side dry-run of the pods the controller makes (nothing is stored).
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create"] },
    // The webhook warns about a spec.maxRunners above what the namespace's ResourceQuotas allow.
    { apiGroups: [""], resources: ["resourcequotas"], verbs: ["list"] },
    // A runner stopped at its pickup timeout quotes its log's last lines.
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    // list: a runner Job without a pod has its FailedCreate Events read, to say why.
    { apiGroups: [""], resources: ["events"], verbs: ["create", "patch", "list"] },
  ];
}

/** On cluster-scoped objects, whichever namespaces the controller watches. */
export function controllerClusterScopedRules(): V1PolicyRule[] {
  return [
    // The cluster's identity (kube-system's uid) marks the Forgejo runners this cluster registers.
    { apiGroups: [""], resources: ["namespaces"], resourceNames: ["kube-system"], verbs: ["get"] },
    // Are the CRDs this release's (crd-check.ts)? Helm does not upgrade them.
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      resourceNames: Object.keys(CRD_SCHEMA_DIGESTS),
      verbs: ["get"],
    },
  ];
}

/** Leader election, in the Lease's namespace only (the chart's Role in the release namespace). */
export function controllerLeaderElectionRules(): V1PolicyRule[] {
  return [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }];
}
