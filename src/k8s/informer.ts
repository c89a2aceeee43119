// A watch-backed cache that survives what @kubernetes/client-node's ListWatch does not: it
// restarts with backoff after an error, relists periodically (emitting deletes it missed), and
// says when its first list has been applied. Handlers get add/update/delete; reads are from memory.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../observability/log.ts";

export type InformerEvent = "add" | "update" | "delete";
type Handler<T> = (object: T) => void;

export interface InformerOptions<T extends KubernetesObject> {
  /** For logs, e.g. "actrunners". */
  name: string;
  /** Watch path, e.g. /apis/forgejo.actions.io/v1alpha1/namespaces/ci/actrunners. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Full relist period; a missed delete is noticed at the latest then. */
  relistIntervalMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  logger: Logger;
  onStateChange?: (state: "connected" | "error" | "relisted") => void;
}

function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

/** What is kept of each object beside ListWatch's cache: enough to notice changes and deletes. */
interface Known {
  resourceVersion?: string;
  slim: KubernetesObject;
}

export class Informer<T extends KubernetesObject> {
  private readonly known = new Map<string, Known>();
  /** The ListWatch reads are served from: the previous one until a replacement has synced. */
  private readable?: ListWatch<T>;
  private readonly handlers: Record<InformerEvent, Handler<T>[]> = { add: [], update: [], delete: [] };
  private current?: ListWatch<T>;
  private stopped = true;
  private backoffMs: number;
  private retryTimer?: NodeJS.Timeout;
  private relistTimer?: NodeJS.Timeout;
  private syncedOnce = false;
  private readonly watch: Watch;
  private readonly options: InformerOptions<T>;

  constructor(kc: KubeConfig, options: InformerOptions<T>) {
    this.options = options;
    this.watch = new Watch(kc);
    this.backoffMs = options.initialBackoffMs ?? 1000;
  }

  on(event: InformerEvent, handler: Handler<T>): void {
    this.handlers[event].push(handler);
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  get(name: string, namespace = ""): T | undefined {
    return this.readable?.get(name, namespace || undefined);
  }

  list(): T[] {
    return [...(this.readable?.list() ?? [])];
  }

  /** Starts and resolves after the first list has been applied (retrying until it is). */
  async start(): Promise<void> {
    this.stopped = false;
    while (!this.stopped && !(await this.connect())) {
      await new Promise((r) => setTimeout(r, this.backoffMs));
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
    }
    this.scheduleRelist();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.relistTimer);
    const current = this.current;
    this.current = undefined;
    await current?.stop();
  }

  /** Replaces the ListWatch with a fresh one; true once its list is applied and its watch runs. */
  private async connect(): Promise<boolean> {
    const previous = this.current;
    this.current = undefined;
    await previous?.stop(); // stops watching; its cache still answers reads until the new one synced
    const listWatch = new ListWatch<T>(
      this.options.path,
      this.watch,
      this.options.list,
      false,
      this.options.labelSelector,
      this.options.fieldSelector,
    );
    let failed = false;
    let connecting = true;
    listWatch.on("add", (o) => this.apply(listWatch, o));
    listWatch.on("update", (o) => this.apply(listWatch, o));
    listWatch.on("delete", (o) => this.remove(listWatch, o));
    listWatch.on("error", (error: unknown) => {
      failed = true;
      // While connecting, the caller retries; afterwards the watch restarts itself.
      if (!connecting && this.current === listWatch) this.restartLater(error);
    });
    this.current = listWatch;
    try {
      await listWatch.start();
    } catch (error) {
      failed = true;
      this.options.logger.warn({ informer: this.options.name, err: error }, "Failed to list; retrying");
    }
    connecting = false;
    if (failed || this.current !== listWatch) {
      if (this.current === listWatch) {
        this.current = undefined;
        await listWatch.stop();
      }
      return false;
    }
    this.readable = listWatch;
    // Whatever the fresh list no longer has was deleted while nobody watched.
    const present = new Set(listWatch.list().map(keyOf));
    for (const [key, known] of [...this.known]) {
      if (!present.has(key)) {
        this.known.delete(key);
        this.emit("delete", known.slim as T);
      }
    }
    this.backoffMs = this.options.initialBackoffMs ?? 1000;
    this.syncedOnce = true;
    this.options.onStateChange?.("connected");
    return true;
  }

  private apply(source: ListWatch<T>, object: T): void {
    if (source !== this.current) return;
    // managedFields are often the larger half of an object and nothing here reads them.
    if (object.metadata) delete object.metadata.managedFields;
    const key = keyOf(object);
    const known = this.known.get(key);
    if (known && known.resourceVersion === object.metadata?.resourceVersion) return;
    const { name, namespace, uid, labels, ownerReferences, resourceVersion } = object.metadata ?? {};
    this.known.set(key, {
      resourceVersion,
      slim: { apiVersion: object.apiVersion, kind: object.kind, metadata: { name, namespace, uid, labels, ownerReferences } },
    });
    this.emit(known ? "update" : "add", object);
  }

  private remove(source: ListWatch<T>, object: T): void {
    if (source !== this.current) return;
    if (this.known.delete(keyOf(object))) this.emit("delete", object);
  }

  private emit(event: InformerEvent, object: T): void {
    for (const handler of this.handlers[event]) {
      try {
        handler(object);
      } catch (error) {
        this.options.logger.error({ informer: this.options.name, err: error }, "Informer handler failed");
      }
    }
  }

  private restartLater(error: unknown): void {
    if (this.stopped) return;
    this.options.onStateChange?.("error");
    this.options.logger.warn({ informer: this.options.name, err: error, retryInMs: this.backoffMs }, "Watch failed; restarting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(async () => {
      if (this.stopped) return;
      const delay = this.backoffMs;
      if (!(await this.connect())) {
        this.backoffMs = Math.min(delay * 2, this.options.maxBackoffMs ?? 30_000);
        this.restartLater(new Error("reconnect failed"));
      }
    }, this.backoffMs);
  }

  private scheduleRelist(): void {
    const interval = this.options.relistIntervalMs ?? 5 * 60_000;
    clearTimeout(this.relistTimer);
    this.relistTimer = setTimeout(
      async () => {
        if (this.stopped) return;
        if (await this.connect()) this.options.onStateChange?.("relisted");
        else this.restartLater(new Error("relist failed"));
        this.scheduleRelist();
      },
      interval * (0.9 + Math.random() * 0.2),
    );
    this.relistTimer.unref();
  }
}

/** What readers of a cache use: an Informer, or one Informer per namespace (NamespacedInformers). */
export type ObjectCache<T extends KubernetesObject> = Pick<Informer<T>, "on" | "synced" | "get" | "list" | "start" | "stop">;

/** One Informer per namespace, read as one: for a process whose rights are Roles in these namespaces. */
export class NamespacedInformers<T extends KubernetesObject> implements ObjectCache<T> {
  private readonly byNamespace: Map<string, Informer<T>>;

  constructor(namespaces: string[], informerOf: (namespace: string) => Informer<T>) {
    this.byNamespace = new Map(namespaces.map((namespace) => [namespace, informerOf(namespace)]));
  }

  on(event: InformerEvent, handler: Handler<T>): void {
    for (const informer of this.byNamespace.values()) informer.on(event, handler);
  }

  get synced(): boolean {
    return [...this.byNamespace.values()].every((informer) => informer.synced);
  }

  get(name: string, namespace = ""): T | undefined {
    return this.byNamespace.get(namespace)?.get(name, namespace);
  }

  list(): T[] {
    return [...this.byNamespace.values()].flatMap((informer) => informer.list());
  }

  async start(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((informer) => informer.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((informer) => informer.stop()));
  }
}
