// The controller's view of the cluster: one informer per kind it reads, cluster-wide (or one per
// watched namespace, --watch-namespaces) and filtered to what forgejo-arc owns. Reconcilers read
// only from here, never LIST — except a runner
// Job's pods, which are fetched when wanted (runner-pods.ts): watching every runner pod cost the
// controller about 40% of its CPU and the API server a watch event per pod change.
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Deployment,
  type V1Job,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import { API_GROUP, API_GROUP_VERSION, API_VERSION } from "../api/schemas.ts";
import { LABELS, MANAGED_BY } from "../api/well-known.ts";
import type { ActRunner, RunnerDeployment } from "../generated/api.ts";
import { Informer, NamespacedInformers, type ObjectCache } from "../k8s/informer.ts";
import type { Logger } from "../observability/log.ts";

export type RD = RunnerDeployment & KubernetesObject;
export type AR = ActRunner & KubernetesObject;

const MANAGED = `${LABELS.managedBy}=${MANAGED_BY}`;
const LISTENER_PODS = `${MANAGED},${LABELS.component}=listener`;

/** A kind the cache watches: its path's prefix and plural, and its list, cluster-wide or in one namespace. */
interface WatchedKind {
  prefix: string;
  plural: string;
  /** For logs, when the plural does not say it (listener pods). */
  name?: string;
  labelSelector?: string;
  list: (namespace: string | undefined) => Promise<object>;
}

export class ClusterCache {
  readonly runnerDeployments: ObjectCache<RD>;
  readonly actRunners: ObjectCache<AR>;
  readonly deployments: ObjectCache<V1Deployment & KubernetesObject>;
  readonly jobs: ObjectCache<V1Job & KubernetesObject>;
  readonly listenerPods: ObjectCache<V1Pod & KubernetesObject>;
  /** Every ActRunner it watches, read from the API server now (the informer may lag). */
  readonly listActRunnersNow: () => Promise<AR[]>;

  /** `namespaces`: watch only these (--watch-namespaces), one informer per kind in each; else cluster-wide. */
  constructor(kc: KubeConfig, logger: Logger, relistIntervalMs?: number, namespaces?: string[]) {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const apps = kc.makeApiClient(AppsV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const cacheOf = <T extends KubernetesObject>(kind: WatchedKind): ObjectCache<T> => {
      const informer = (namespace?: string) =>
        new Informer<T>(kc, {
          logger,
          relistIntervalMs,
          name: namespace ? `${kind.name ?? kind.plural}/${namespace}` : (kind.name ?? kind.plural),
          path: namespace ? `${kind.prefix}/namespaces/${namespace}/${kind.plural}` : `${kind.prefix}/${kind.plural}`,
          labelSelector: kind.labelSelector,
          list: () => kind.list(namespace) as Promise<KubernetesListObject<T>>,
        });
      return namespaces ? new NamespacedInformers(namespaces, informer) : informer();
    };
    const ours = (plural: string): WatchedKind => {
      const kind = { group: API_GROUP, version: API_VERSION, plural };
      return {
        prefix: `/apis/${API_GROUP_VERSION}`,
        plural,
        list: (namespace) => (namespace ? custom.listNamespacedCustomObject({ ...kind, namespace }) : custom.listClusterCustomObject(kind)),
      };
    };
    this.runnerDeployments = cacheOf<RD>(ours("runnerdeployments"));
    const actRunners = ours("actrunners");
    this.actRunners = cacheOf<AR>(actRunners);
    this.listActRunnersNow = async () => {
      const lists = await Promise.all((namespaces ?? [undefined]).map((namespace) => actRunners.list(namespace)));
      return (lists as KubernetesListObject<AR>[]).flatMap((list) => list.items);
    };
    /** A built-in kind filtered by labels, listed in one namespace or in all with its typed client's two calls. */
    const labelled = (
      prefix: string,
      plural: string,
      labelSelector: string,
      inNamespace: (query: { namespace: string; labelSelector: string }) => Promise<object>,
      everywhere: (query: { labelSelector: string }) => Promise<object>,
    ): WatchedKind => ({
      prefix,
      plural,
      labelSelector,
      list: (namespace) => (namespace ? inNamespace({ namespace, labelSelector }) : everywhere({ labelSelector })),
    });
    this.deployments = cacheOf(
      labelled(
        "/apis/apps/v1",
        "deployments",
        MANAGED,
        (q) => apps.listNamespacedDeployment(q),
        (q) => apps.listDeploymentForAllNamespaces(q),
      ),
    );
    this.jobs = cacheOf(
      labelled(
        "/apis/batch/v1",
        "jobs",
        MANAGED,
        (q) => batch.listNamespacedJob(q),
        (q) => batch.listJobForAllNamespaces(q),
      ),
    );
    this.listenerPods = cacheOf({
      ...labelled(
        "/api/v1",
        "pods",
        LISTENER_PODS,
        (q) => core.listNamespacedPod(q),
        (q) => core.listPodForAllNamespaces(q),
      ),
      name: "listener-pods",
    });
  }

  private get all() {
    return [this.runnerDeployments, this.actRunners, this.deployments, this.jobs, this.listenerPods];
  }

  get synced(): boolean {
    return this.all.every((informer) => informer.synced);
  }

  async start(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.stop()));
  }

  /** ActRunners of a RunnerDeployment, by the label the listener sets. */
  actRunnersOf(rd: RD): AR[] {
    return this.actRunners
      .list()
      .filter(
        (ar) => ar.metadata?.namespace === rd.metadata?.namespace && ar.metadata?.labels?.[LABELS.runnerDeployment] === rd.metadata?.name,
      );
  }

  /** The Deployment in the pod's namespace whose selector selects it (a listener pod's). */
  deploymentOf(pod: KubernetesObject): (V1Deployment & KubernetesObject) | undefined {
    return this.deployments
      .list()
      .find((d) => d.metadata?.namespace === pod.metadata?.namespace && matchesLabels(d.spec?.selector?.matchLabels, pod.metadata?.labels));
  }

  /** The RunnerDeployment that owns an object (an ActRunner, a listener Deployment), if it is cached. */
  runnerDeploymentOf(object: KubernetesObject): RD | undefined {
    const name = ownerRunnerDeploymentName(object);
    return name ? this.runnerDeployments.get(name, object.metadata?.namespace) : undefined;
  }
}

/** Whether a matchLabels selector selects an object with these labels (an empty selector selects nothing here). */
export function matchesLabels(matchLabels: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const wanted = Object.entries(matchLabels ?? {});
  return wanted.length > 0 && wanted.every(([key, value]) => labels?.[key] === value);
}

export function ownerRunnerDeploymentRef(object: KubernetesObject): V1OwnerReference | undefined {
  return object.metadata?.ownerReferences?.find((o) => o.kind === "RunnerDeployment");
}

export function ownerRunnerDeploymentName(object: KubernetesObject): string | undefined {
  return ownerRunnerDeploymentRef(object)?.name;
}

export function keyOf(object: { metadata?: { namespace?: string; name?: string } }): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const [namespace = "", name = ""] = key.split("/");
  return { namespace, name };
}

/**
 * The versions our own writes replaced, per object: a cached object still at one of them is older
 * than what was written, and deciding from it would repeat a step (register a second runner, post
 * a transition's Events again). The watch event of the write brings the object back.
 */
export class SupersededVersions {
  private readonly versions = new Map<string, string>();

  /** A write of ours replaced `decidedOn`, the version the decision was made from. */
  replaced(decidedOn: { metadata?: { namespace?: string; name?: string; resourceVersion?: string } }): void {
    if (decidedOn.metadata?.resourceVersion) this.versions.set(keyOf(decidedOn), decidedOn.metadata.resourceVersion);
  }

  /** Whether `cached` is a version a write of ours replaced; once the cache has moved past it, it is forgotten. */
  stale(cached: { metadata?: { namespace?: string; name?: string; resourceVersion?: string } }): boolean {
    const key = keyOf(cached);
    if (this.versions.get(key) === cached.metadata?.resourceVersion) return true;
    this.versions.delete(key);
    return false;
  }

  /** The object is gone. */
  forget(key: string): void {
    this.versions.delete(key);
  }
}
