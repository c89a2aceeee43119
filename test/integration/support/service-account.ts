// A kubeconfig for a ServiceAccount bound to given Role rules, with a TokenRequest token.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, RbacAuthorizationV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { clusterState, kubeConfig } from "../helpers.ts";

export async function serviceAccountKubeconfig(namespace: string, name: string, rules: V1PolicyRule[]): Promise<string> {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const state = clusterState();
  const file = join(mkdtempSync(join(tmpdir(), "forgejo-arc-sa-")), "kubeconfig");
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "local", cluster: { server: state.server, "certificate-authority": state.caFile } }],
      users: [{ name, user: { token: token.status!.token } }],
      contexts: [{ name, context: { cluster: "local", user: name, namespace } }],
      "current-context": name,
    }),
  );
  return file;
}

/** A kubeconfig for a ServiceAccount bound cluster-wide to given ClusterRole rules, and in its namespace to namespaced rules. */
export async function clusterServiceAccountKubeconfig(
  namespace: string,
  name: string,
  rules: V1PolicyRule[],
  namespacedRules: V1PolicyRule[] = [],
): Promise<string> {
  const kc = kubeConfig();
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const clusterName = `${namespace}-${name}`;
  await rbac.createClusterRole({ body: { metadata: { name: clusterName, labels: { "forgejo-arc.test/namespace": namespace } }, rules } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: clusterName, labels: { "forgejo-arc.test/namespace": namespace } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterName },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  });
  return serviceAccountKubeconfig(namespace, name, namespacedRules);
}

export async function deleteClusterServiceAccount(namespace: string, name: string): Promise<void> {
  const rbac = kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  await rbac.deleteClusterRoleBinding({ name: `${namespace}-${name}` }).catch(() => undefined);
  await rbac.deleteClusterRole({ name: `${namespace}-${name}` }).catch(() => undefined);
}
