// What the chart's pre-delete hook (forgejo-arc before-uninstall) may do, cluster-wide: list what is
// left, and with uninstall.runnerDeployments=delete delete RunnerDeployments. The chart's ClusterRole
// renders these rules (generated into chart/forgejo-arc/files/); tests run the hook under them.
import type { V1PolicyRule } from "@kubernetes/client-node";
import { API_GROUP } from "../api/schemas.ts";
import type { RunnerDeploymentPolicy } from "./before-uninstall.ts";

export function beforeUninstallRules(policy: RunnerDeploymentPolicy): V1PolicyRule[] {
  return [
    { apiGroups: [API_GROUP], resources: ["runnerdeployments"], verbs: policy === "delete" ? ["list", "delete"] : ["list"] },
    { apiGroups: [API_GROUP], resources: ["actrunners"], verbs: ["list"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
    // RunnerDeployments in a namespace being deleted are waited for, not refused.
    { apiGroups: [""], resources: ["namespaces"], verbs: ["list"] },
  ];
}
