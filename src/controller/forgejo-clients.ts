// Forgejo clients for ActRunners (and RunnerDeployments): the token comes from the Secret the object
// names (in its own namespace), the CA bundle from the ConfigMap it names. Clients are kept for a
// minute, so a rotated token or bundle is picked up without a restart and a burst of reconciles
// reads the Secret once.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { DEFAULT_CA_BUNDLE_KEY, DEFAULT_TOKEN_KEY } from "../api/defaults.ts";
import { ForgejoClient, type ForgejoClientOptions } from "../forgejo/client.ts";
import { scopeFromSpec, type ForgejoScope } from "../forgejo/scope.ts";
import { apiErrorMessage } from "../k8s/client.ts";
import type { CaBundleConfigMapRef } from "../generated/api.ts";
import type { AR, ClusterCache, RD } from "./cache.ts";

const TTL_MS = 60_000;

export class ForgejoClients {
  private readonly core: CoreV1Api;
  private readonly cache: ClusterCache;
  private readonly clients = new Map<string, { client: ForgejoClient; expires: number }>();
  /** What every client shares: metrics callback, timeout, proxy settings. */
  private readonly shared: Pick<ForgejoClientOptions, "onCall" | "timeoutMs" | "proxy">;

  constructor(kc: KubeConfig, cache: ClusterCache, shared: Pick<ForgejoClientOptions, "onCall" | "timeoutMs" | "proxy"> = {}) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.cache = cache;
    this.shared = shared;
  }

  /**
   * The ActRunner's own copy of the CA bundle reference comes first: its finalizer runs after its
   * RunnerDeployment is gone when that is deleted. ActRunners made before they carried one use the
   * RunnerDeployment's.
   */
  async for(ar: AR): Promise<{ client: ForgejoClient; scope: ForgejoScope }> {
    const caRef = ar.spec.caBundleConfigMapRef ?? this.cache.runnerDeploymentOf(ar)?.spec.caBundleConfigMapRef;
    const client = await this.clientFor(ar.metadata!.namespace!, ar.spec, caRef);
    return { client, scope: scopeFromSpec(ar.spec) };
  }

  /** The client of a RunnerDeployment's own scope and token (the orphan sweep's). */
  async forRunnerDeployment(rd: RD): Promise<{ client: ForgejoClient; scope: ForgejoScope }> {
    const client = await this.clientFor(rd.metadata!.namespace!, rd.spec, rd.spec.caBundleConfigMapRef);
    return { client, scope: scopeFromSpec(rd.spec) };
  }

  private async clientFor(
    namespace: string,
    spec: { forgejoServer: string; tokenSecretRef: { name: string; key?: string } },
    caRef: CaBundleConfigMapRef | undefined,
  ): Promise<ForgejoClient> {
    const ref = spec.tokenSecretRef;
    const ca = caRef ? `${caRef.name}/${caRef.key ?? DEFAULT_CA_BUNDLE_KEY}` : "";
    const key = `${spec.forgejoServer}|${namespace}/${ref.name}/${ref.key ?? DEFAULT_TOKEN_KEY}|${ca}`;
    const cached = this.clients.get(key);
    if (cached && cached.expires > Date.now()) return cached.client;
    const secret = await this.core.readNamespacedSecret({ name: ref.name, namespace }).catch((error: unknown) => {
      throw new Error(`reading token Secret ${namespace}/${ref.name}: ${apiErrorMessage(error)}`, { cause: error });
    });
    const encoded = secret.data?.[ref.key ?? DEFAULT_TOKEN_KEY];
    if (!encoded) throw new Error(`Secret ${namespace}/${ref.name} has no key "${ref.key ?? DEFAULT_TOKEN_KEY}"`);
    cached?.client.close();
    const client = new ForgejoClient({
      server: spec.forgejoServer,
      token: Buffer.from(encoded, "base64").toString("utf8").trim(),
      caBundle: await this.caBundle(namespace, caRef),
      ...this.shared,
    });
    this.clients.set(key, { client, expires: Date.now() + TTL_MS });
    return client;
  }

  private async caBundle(namespace: string, ref: CaBundleConfigMapRef | undefined): Promise<string | undefined> {
    if (!ref) return undefined;
    const map = await this.core.readNamespacedConfigMap({ name: ref.name, namespace });
    return map.data?.[ref.key ?? DEFAULT_CA_BUNDLE_KEY];
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}
