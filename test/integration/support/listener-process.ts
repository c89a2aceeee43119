// A listener as a real process for RunnerDeployment `rdName` (runner label `<rdName>:host` unless
// given, org "acme", 2 s polls), running with a token of a ServiceAccount bound to listenerRoleRules().
import { listenerRoleRules } from "../../../src/listener/rbac.ts";
import { startRole, type RoleProcess } from "./process.ts";
import { serviceAccountKubeconfig } from "./service-account.ts";

export async function startListenerProcess(options: {
  namespace: string;
  rdName: string;
  forgejoUrl: string;
  token: string;
  /** The scope flag(s); the organization acme unless given. */
  scope?: string[];
  labels?: string;
  extraArgs?: string[];
}): Promise<RoleProcess> {
  const { namespace, rdName, forgejoUrl, token, scope = ["--organization", "acme"], labels = `${rdName}:host`, extraArgs = [] } = options;
  const kubeconfig = await serviceAccountKubeconfig(
    namespace,
    `listener-${rdName}-${Math.random().toString(36).slice(2, 7)}`,
    listenerRoleRules(rdName),
  );
  return startRole(
    "listener",
    [
      "--runner-deployment",
      rdName,
      "--namespace",
      namespace,
      "--forgejo-server",
      forgejoUrl,
      ...scope,
      "--labels",
      labels,
      "--poll-interval",
      "2s",
      ...extraArgs,
    ],
    { KUBECONFIG: kubeconfig, FORGEJO_TOKEN: token },
  );
}
