// Forgejo clients for ActRunners (and RunnerDeployments): the token comes from the Secret the object
// names (in its own namespace), the CA bundle from the ConfigMap it names. Clients are kept for a
// minute, so a rotated token or bundle is picked up without a restart and a burst of reconciles
// reads the Secret once. Deleting a Forgejo runner may use the token last read from a Secret that
// is gone since: `kubectl delete -f`, a GitOps prune or a namespace deletion takes the token Secret
// with the RunnerDeployment, and its ActRunners' finalizers still have runners to delete.
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Secret } from "@kubernetes/client-node";
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
  /** What every client shares: metrics callback, timeout, proxy settings, which servers answer no call. */
  private readonly shared: Pick<ForgejoClientOptions, "onCall" | "timeoutMs" | "proxy" | "unanswered">;

  private readonly now: () => number;

  constructor(
    kc: KubeConfig,
    cache: Pick<ClusterCache, "actRunners" | "runnerDeployments" | "runnerDeploymentOf">,
    shared: Pick<ForgejoClientOptions, "onCall" | "timeoutMs" | "proxy" | "unanswered"> = {},
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
   * The client that deletes an ActRunner's Forgejo runner: when its token Secret or CA bundle (or the
   * key in it) is gone, the one made from what this process last read from them, if it did;
   * `lastKnownBecause` then says what is gone.
   */
  async forCleanup(ar: AR): Promise<{ client: ForgejoClient; scope: ForgejoScope; lastKnownBecause?: string }> {
    const { client, lastKnownBecause } = await this.clientFor(ar.metadata!.namespace!, ar.spec, this.caRefOf(ar), true);
    return { client, scope: scopeFromSpec(ar.spec), lastKnownBecause };
  }

  /** The client of a RunnerDeployment's own scope and token (the orphan sweep's). */
  async forRunnerDeployment(rd: RD): Promise<{ client: ForgejoClient; scope: ForgejoScope }> {
    const { client } = await this.clientFor(rd.metadata!.namespace!, rd.spec, rd.spec.caBundleConfigMapRef);
    return { client, scope: scopeFromSpec(rd.spec) };
  }

  /** The ActRunner's next call reads its Secret again (Forgejo refused the token; it may have been replaced). */
  expire(ar: AR): void {
    const cached = this.clients.get(clientKey(ar.metadata!.namespace!, ar.spec, this.caRefOf(ar)));
    if (cached) cached.expires = 0;
  }

  private caRefOf(ar: AR): CaBundleConfigMapRef | undefined {
    return ar.spec.caBundleConfigMapRef ?? this.cache.runnerDeploymentOf(ar)?.spec.caBundleConfigMapRef;
  }

  private async clientFor(
    namespace: string,
    spec: { forgejoServer: string; tokenSecretRef: { name: string; key?: string } },
    caRef: CaBundleConfigMapRef | undefined,
    lastKnownIfGone = false,
  ): Promise<{ client: ForgejoClient; lastKnownBecause?: string }> {
    this.pruneUnreferenced();
    const key = clientKey(namespace, spec, caRef);
    const cached = this.clients.get(key);
    if (cached && cached.expires > this.now()) return { client: cached.client };
    const ref = spec.tokenSecretRef;
    const secret = await this.read(
      "token Secret",
      () => this.core.readNamespacedSecret({ name: ref.name, namespace }),
      namespace,
      ref.name,
    );
    const encoded = secret?.data?.[ref.key ?? DEFAULT_TOKEN_KEY];
    // Without a token the bundle is not needed (missingCredentials names the Secret first).
    const caMap =
      caRef && encoded
        ? await this.read(
            "CA bundle ConfigMap",
            () => this.core.readNamespacedConfigMap({ name: caRef.name, namespace }),
            namespace,
            caRef.name,
          )
        : undefined;
    const caBundle = caMap?.data?.[caRef?.key ?? DEFAULT_CA_BUNDLE_KEY];
    const missing = missingCredentials(namespace, ref, secret, caRef, caMap);
    if (missing) {
      if (lastKnownIfGone && cached) return { client: cached.client, lastKnownBecause: missing.message };
      throw missing;
    }
    cached?.client.close();
    const client = new ForgejoClient({
      server: spec.forgejoServer,
      token: Buffer.from(encoded!, "base64").toString("utf8").trim(),
      caBundle,
      ...this.shared,
    });
    this.clients.set(key, { client, expires: this.now() + TTL_MS });
    return { client };
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

  /** The object `read` returns, or undefined when it does not exist. */
  private async read<T>(what: string, read: () => Promise<T>, namespace: string, name: string): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      if (apiErrorCode(error) === 404) return undefined;
      throw new Error(`reading ${what} ${namespace}/${name}: ${apiErrorMessage(error)}`, { cause: error });
    }
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}

/** The token Secret or CA bundle ConfigMap an object names, or the key in it, does not exist; `reason` as the RunnerDeployment's conditions say it. */
export class CredentialsMissing extends Error {
  readonly reason: "SecretNotFound" | "KeyNotFound" | "CABundleNotFound" | "CABundleKeyNotFound";

  constructor(reason: CredentialsMissing["reason"], message: string) {
    super(message);
    this.name = "CredentialsMissing";
    this.reason = reason;
  }
}

/** What is missing of the token Secret's key and the CA bundle's, if anything. */
function missingCredentials(
  namespace: string,
  ref: { name: string; key?: string },
  secret: V1Secret | undefined,
  caRef: CaBundleConfigMapRef | undefined,
  caMap: V1ConfigMap | undefined,
): CredentialsMissing | undefined {
  const tokenKey = ref.key ?? DEFAULT_TOKEN_KEY;
  if (!secret) return new CredentialsMissing("SecretNotFound", `token Secret ${namespace}/${ref.name} not found (spec.tokenSecretRef)`);
  if (!secret.data?.[tokenKey])
    return new CredentialsMissing("KeyNotFound", `Secret ${namespace}/${ref.name} has no key "${tokenKey}" (spec.tokenSecretRef.key)`);
  if (!caRef) return undefined;
  const caKey = caRef.key ?? DEFAULT_CA_BUNDLE_KEY;
  if (!caMap)
    return new CredentialsMissing(
      "CABundleNotFound",
      `CA bundle ConfigMap ${namespace}/${caRef.name} not found (spec.caBundleConfigMapRef)`,
    );
  if (!caMap.data?.[caKey])
    return new CredentialsMissing(
      "CABundleKeyNotFound",
      `ConfigMap ${namespace}/${caRef.name} has no key "${caKey}" (spec.caBundleConfigMapRef.key)`,
    );
  return undefined;
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
