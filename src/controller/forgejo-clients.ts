// Forgejo clients for ActRunners (and RunnerDeployments): the token comes from the Secret the object
// names (in its own namespace), the CA bundle from the ConfigMap it names. Clients are kept for a
// minute, so a rotated token or bundle is picked up without a restart and a burst of reconciles
// reads the Secret once. Deleting a Forgejo runner may use the token last read from a Secret that
// is gone since: `kubectl delete -f`, a GitOps prune or a namespace deletion takes the token Secret
// with the RunnerDeployment, and its ActRunners' finalizers still have runners to delete.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { DEFAULT_CA_BUNDLE_KEY, DEFAULT_TOKEN_KEY } from "../api/defaults.ts";
import { ForgejoClient, type ForgejoClientOptions } from "../forgejo/client.ts";
import { scopeFromSpec, type ForgejoScope } from "../forgejo/scope.ts";
import { apiErrorCode, apiErrorMessage } from "../k8s/client.ts";
import type { CaBundleConfigMapRef } from "../generated/api.ts";
import type { AR, ClusterCache, RD } from "./cache.ts";

const TTL_MS = 60_000;

export class ForgejoClients {
  private readonly core: CoreV1Api;
  private readonly cache: Pick<ClusterCache, "actRunners" | "runnerDeployments" | "runnerDeploymentOf">;
  private readonly clients = new Map<string, { client: ForgejoClient; expires: number }>();
  private nextPrune = 0;
  /** What every client shares: metrics callback, timeout, proxy settings. */
  private readonly shared: Pick<ForgejoClientOptions, "onCall" | "timeoutMs" | "proxy">;

  private readonly now: () => number;

  constructor(
    kc: KubeConfig,
    cache: Pick<ClusterCache, "actRunners" | "runnerDeployments" | "runnerDeploymentOf">,
    shared: Pick<ForgejoClientOptions, "onCall" | "timeoutMs" | "proxy"> = {},
    now: () => number = Date.now,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.cache = cache;
    this.shared = shared;
    this.now = now;
  }

  /**
   * The ActRunner's own copy of the CA bundle reference comes first: its finalizer runs after its
   * RunnerDeployment is gone when that is deleted. ActRunners made before they carried one use the
   * RunnerDeployment's.
   */
  async for(ar: AR): Promise<{ client: ForgejoClient; scope: ForgejoScope }> {
    const { client } = await this.clientFor(ar.metadata!.namespace!, ar.spec, this.caRefOf(ar));
    return { client, scope: scopeFromSpec(ar.spec) };
  }

  /**
   * The client that deletes an ActRunner's Forgejo runner: when its token Secret (or the key in it)
   * is gone, the one made from the token last read from it, if this process read it; `lastKnown`
   * then says so.
   */
  async forCleanup(ar: AR): Promise<{ client: ForgejoClient; scope: ForgejoScope; lastKnown: boolean }> {
    const { client, lastKnown } = await this.clientFor(ar.metadata!.namespace!, ar.spec, this.caRefOf(ar), true);
    return { client, scope: scopeFromSpec(ar.spec), lastKnown };
  }

  /** The client of a RunnerDeployment's own scope and token (the orphan sweep's). */
  async forRunnerDeployment(rd: RD): Promise<{ client: ForgejoClient; scope: ForgejoScope }> {
    const { client } = await this.clientFor(rd.metadata!.namespace!, rd.spec, rd.spec.caBundleConfigMapRef);
    return { client, scope: scopeFromSpec(rd.spec) };
  }

  private caRefOf(ar: AR): CaBundleConfigMapRef | undefined {
    return ar.spec.caBundleConfigMapRef ?? this.cache.runnerDeploymentOf(ar)?.spec.caBundleConfigMapRef;
  }

  private async clientFor(
    namespace: string,
    spec: { forgejoServer: string; tokenSecretRef: { name: string; key?: string } },
    caRef: CaBundleConfigMapRef | undefined,
    lastKnownIfGone = false,
  ): Promise<{ client: ForgejoClient; lastKnown: boolean }> {
    this.pruneUnreferenced();
    const key = clientKey(namespace, spec, caRef);
    const cached = this.clients.get(key);
    if (cached && cached.expires > this.now()) return { client: cached.client, lastKnown: false };
    const ref = spec.tokenSecretRef;
    const gone = () => {
      if (lastKnownIfGone && cached) return { client: cached.client, lastKnown: true };
      return undefined;
    };
    const secret = await this.core.readNamespacedSecret({ name: ref.name, namespace }).catch((error: unknown) => {
      if (apiErrorCode(error) === 404) return undefined;
      throw new Error(`reading token Secret ${namespace}/${ref.name}: ${apiErrorMessage(error)}`, { cause: error });
    });
    if (!secret) return gone() ?? fail(`token Secret ${namespace}/${ref.name} not found (spec.tokenSecretRef)`);
    const encoded = secret.data?.[ref.key ?? DEFAULT_TOKEN_KEY];
    if (!encoded) return gone() ?? fail(`Secret ${namespace}/${ref.name} has no key "${ref.key ?? DEFAULT_TOKEN_KEY}"`);
    cached?.client.close();
    const client = new ForgejoClient({
      server: spec.forgejoServer,
      token: Buffer.from(encoded, "base64").toString("utf8").trim(),
      caBundle: await this.caBundle(namespace, caRef),
      ...this.shared,
    });
    this.clients.set(key, { client, expires: this.now() + TTL_MS });
    return { client, lastKnown: false };
  }

  /**
   * Expired clients stay while an ActRunner or RunnerDeployment in the cache names their Secret (a
   * finalizer may need the token); the others are dropped, at most once a minute.
   */
  private pruneUnreferenced(): void {
    const now = this.now();
    if (now < this.nextPrune) return;
    this.nextPrune = now + TTL_MS;
    const referenced = new Set<string>();
    for (const ar of this.cache.actRunners.list()) referenced.add(clientKey(ar.metadata!.namespace!, ar.spec, this.caRefOf(ar)));
    for (const rd of this.cache.runnerDeployments.list())
      referenced.add(clientKey(rd.metadata!.namespace!, rd.spec, rd.spec.caBundleConfigMapRef));
    for (const [key, { client, expires }] of this.clients) {
      if (expires > now || referenced.has(key)) continue;
      client.close();
      this.clients.delete(key);
    }
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

function clientKey(
  namespace: string,
  spec: { forgejoServer: string; tokenSecretRef: { name: string; key?: string } },
  caRef: CaBundleConfigMapRef | undefined,
): string {
  const ref = spec.tokenSecretRef;
  const ca = caRef ? `${caRef.name}/${caRef.key ?? DEFAULT_CA_BUNDLE_KEY}` : "";
  return `${spec.forgejoServer}|${namespace}/${ref.name}/${ref.key ?? DEFAULT_TOKEN_KEY}|${ca}`;
}

function fail(message: string): never {
  throw new Error(message);
}
