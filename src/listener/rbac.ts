// Exactly what a listener may do: read its own RunnerDeployment and patch its status, and create
// and watch ActRunners in its namespace. The controller applies this Role for every listener.
import type { V1PolicyRule } from "@kubernetes/client-node";
import { API_GROUP } from "../api/schemas.ts";

export function listenerRoleRules(runnerDeployment: string): V1PolicyRule[] {
  return [
    // list and watch work with resourceNames when the request selects metadata.name=<name>.
    { apiGroups: [API_GROUP], resources: ["runnerdeployments"], resourceNames: [runnerDeployment], verbs: ["get", "list", "watch"] },
    { apiGroups: [API_GROUP], resources: ["runnerdeployments/status"], resourceNames: [runnerDeployment], verbs: ["patch"] },
    { apiGroups: [API_GROUP], resources: ["actrunners"], verbs: ["get", "list", "watch", "create"] },
  ];
}
