// A test executor: plays the kubelet for one node, "executor-0", so that the listener Deployment
// the controller creates really runs in tests. Pods the scheduler puts there (they need the node's
// toleration and selector, see EXECUTOR_POD_TEMPLATE) run as host processes of the image's own
// program, the bundled CLI (dist/forgejo-arc.mjs, npm run build), with the pod's args and env
// (value, secretKeyRef, configMapKeyRef and fieldRef resolved from the real API objects) and a
// token of the pod's ServiceAccount from TokenRequest. Secret, configMap and emptyDir volumes are
// written to a folder per pod process, and the mount paths in args and env are rewritten to it (a
// poor man's mount namespace). Status is reported like a kubelet:
// Running, Ready from the container's readiness probe, restarts — or, for restartPolicy Never,
// Succeeded/Failed with the exit code —, CreateContainerConfigError (tried again) while a Secret or
// ConfigMap it reads is missing, and on deletion SIGTERM then removal. The node's kubelet
// port serves the processes' output as container logs (container-logs.ts), so `kubectl logs` works.
// Everything listens on 127.0.0.1 only.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesListObject,
  type KubernetesObject,
  type V1ConfigMap,
  type V1Container,
  type V1ContainerStateTerminated,
  type V1Pod,
  type V1Secret,
} from "@kubernetes/client-node";
import { apiErrorCode } from "../../src/k8s/client.ts";
import { Informer } from "../../src/k8s/informer.ts";
import { BUNDLE } from "../../scripts/build.ts";
import { LOOPBACK_SERVING, freePort, issueCertificate, type ClusterState } from "../../scripts/cluster/cluster.ts";
import { serveContainerLogs, type ContainerLog, type ContainerLogServer } from "./container-logs.ts";
import { eventually } from "../integration/helpers.ts";
import type { Logger } from "../../src/observability/log.ts";

export const EXECUTOR_NODE = "executor-0";
export const EXECUTOR_TAINT_KEY = "forgejo-arc.test/executor";
/** What a pod template needs to land on the executor node. */
export const EXECUTOR_POD_TEMPLATE = {
  spec: {
    nodeSelector: { [EXECUTOR_TAINT_KEY]: "true" },
    tolerations: [{ key: EXECUTOR_TAINT_KEY, operator: "Equal", value: "true", effect: "NoSchedule" }],
  },
};

interface Running {
  pod: V1Pod;
  child?: ChildProcess;
  port: number;
  restarts: number;
  ready: boolean;
  stopping: boolean;
  startedAt: string;
  /** Every output line of the pod's processes, restarts included (outputOf). */
  output: string[];
  /** Where the current process's lines begin in `output`. */
  runStart: number;
  /** The previous process's lines, once it restarted (`kubectl logs --previous`). */
  previousRun?: string[];
  /** `kubectl logs -f` readers of the current process's output. */
  followers: Set<{ onLine: (line: string) => void; onEnd: () => void }>;
  /** The current process's volumes and kubeconfig (a token): removed when it is replaced or stopped. */
  folder?: string;
  /** Set once a run-to-completion pod's process has exited. */
  exitCode?: number;
  /** How the previous process of a restarted pod ended (the kubelet's lastState). */
  lastTermination?: V1ContainerStateTerminated;
  /** The next start of a process that exited or could not be configured. */
  retry?: NodeJS.Timeout;
}

/** How soon a pod whose Secret or ConfigMap is missing is tried again (a kubelet: within seconds). */
const CONFIG_RETRY_MS = 2_000;

export interface ExecutorOptions {
  kc: KubeConfig;
  /** The local cluster: its API server URL and CA file go into the kubeconfig handed to each process,
   *  its CA signs the certificate of the node's log endpoint. */
  cluster: Pick<ClusterState, "server" | "stateDir" | "caFile" | "caKeyFile">;
  logger: Logger;
  /** Called with every output line of every process (the demo writes them to its log). */
  onOutput?: (podName: string, line: string) => void;
}

export class Executor {
  private readonly core: CoreV1Api;
  private readonly options: ExecutorOptions;
  private readonly running = new Map<string, Running>();
  private informer?: Informer<V1Pod & KubernetesObject>;
  private heartbeat?: NodeJS.Timeout;
  private probes?: NodeJS.Timeout;
  private logServer?: ContainerLogServer;

  constructor(options: ExecutorOptions) {
    this.options = options;
    this.core = options.kc.makeApiClient(CoreV1Api);
  }

  /** Output lines of the process of a pod, for assertions and debugging. */
  outputOf(podName: string): string[] {
    return [...this.running.values()].find((r) => r.pod.metadata?.name === podName)?.output ?? [];
  }

  async start(): Promise<void> {
    if (!existsSync(BUNDLE)) throw new Error(`executor: ${BUNDLE} is missing; run \`npm run build\` first`);
    const serving = issueCertificate(this.options.cluster, "executor", `/CN=${EXECUTOR_NODE}`, LOOPBACK_SERVING);
    this.logServer = await serveContainerLogs(serving, (namespace, name, container) => this.containerLog(namespace, name, container));
    await this.core
      .createNode({
        body: {
          metadata: { name: EXECUTOR_NODE, labels: { [EXECUTOR_TAINT_KEY]: "true", "kubernetes.io/hostname": EXECUTOR_NODE } },
          spec: { taints: [{ key: EXECUTOR_TAINT_KEY, value: "true", effect: "NoSchedule" }] },
        },
      })
      .catch((error: { code?: number }) => {
        if (error.code !== 409) throw error;
      });
    await this.reportNode();
    this.heartbeat = setInterval(() => void this.reportNode().catch(() => undefined), 10_000);
    const fieldSelector = `spec.nodeName=${EXECUTOR_NODE}`;
    this.informer = new Informer<V1Pod & KubernetesObject>(this.options.kc, {
      name: "executor-pods",
      path: "/api/v1/pods",
      fieldSelector,
      list: () => this.core.listPodForAllNamespaces({ fieldSelector }) as Promise<KubernetesListObject<V1Pod & KubernetesObject>>,
      logger: this.options.logger,
    });
    this.informer.on("add", (pod) => void this.sync(pod));
    this.informer.on("update", (pod) => void this.sync(pod));
    this.informer.on("delete", (pod) => this.kill(pod));
    await this.informer.start();
    this.probes = setInterval(() => void this.probeAll(), 1_000);
  }

  /**
   * Waits until no pod (of the namespace, if given) is bound to this node any more. Call it after
   * deleting a namespace and before stop(): only a running executor confirms its pods' deletion,
   * without it they stay Terminating until the pod garbage collector gives up on the node, and the
   * namespace with them (minutes).
   */
  async drained(namespace?: string, timeoutMs = 60_000): Promise<void> {
    const fieldSelector = `spec.nodeName=${EXECUTOR_NODE}`;
    await eventually(
      `no pod left on ${EXECUTOR_NODE}`,
      async () => {
        const pods = namespace
          ? await this.core.listNamespacedPod({ namespace, fieldSelector })
          : await this.core.listPodForAllNamespaces({ fieldSelector });
        if (pods.items.length === 0) return true;
        throw new Error(`still there: ${pods.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).join(", ")}`);
      },
      timeoutMs,
      500,
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.probes);
    await this.informer?.stop();
    await Promise.all([...this.running.values()].map((r) => this.terminate(r)));
    await this.core.deleteNode({ name: EXECUTOR_NODE }).catch(() => undefined);
    await this.logServer?.close();
  }

  /** The output of a pod's (only) container, for the log endpoint. */
  private containerLog(namespace: string, name: string, container: string): ContainerLog | undefined {
    const entry = [...this.running.values()].find(
      (r) => r.pod.metadata?.namespace === namespace && r.pod.metadata?.name === name && r.pod.spec?.containers[0]?.name === container,
    );
    if (!entry) return undefined;
    return {
      lines: (previous) => (previous ? entry.previousRun : entry.output.slice(entry.runStart)),
      follow: (onLine, onEnd) => {
        const follower = { onLine, onEnd };
        if (entry.child?.exitCode === null && !entry.stopping) entry.followers.add(follower);
        else setImmediate(onEnd);
        return () => entry.followers.delete(follower);
      },
    };
  }

  /** The current process ended: its followers' streams end too. */
  private endRun(entry: Running): void {
    for (const follower of entry.followers) follower.onEnd();
    entry.followers.clear();
  }

  private async reportNode(): Promise<void> {
    const now = new Date();
    await this.core.patchNodeStatus(
      {
        name: EXECUTOR_NODE,
        body: {
          status: {
            conditions: [
              {
                type: "Ready",
                status: "True",
                reason: "ExecutorReady",
                message: "forgejo-arc test executor",
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
            addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
            daemonEndpoints: { kubeletEndpoint: { Port: this.logServer!.port } },
            allocatable: { cpu: "64", memory: "64Gi", pods: "100" },
            capacity: { cpu: "64", memory: "64Gi", pods: "100" },
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  private key(pod: V1Pod): string {
    return pod.metadata!.uid!;
  }

  private async sync(pod: V1Pod): Promise<void> {
    const key = this.key(pod);
    const known = this.running.get(key);
    if (pod.metadata?.deletionTimestamp) {
      if (known && !known.stopping) await this.terminate(known);
      await this.core
        .deleteNamespacedPod({ name: pod.metadata.name!, namespace: pod.metadata.namespace!, gracePeriodSeconds: 0 })
        .catch(() => undefined);
      return;
    }
    if (known) {
      known.pod = pod;
      return;
    }
    const entry: Running = {
      pod,
      port: await freePort(),
      restarts: 0,
      ready: false,
      stopping: false,
      startedAt: new Date().toISOString(),
      output: [],
      runStart: 0,
      followers: new Set(),
    };
    this.running.set(key, entry);
    await this.startProcess(entry);
  }

  /**
   * Launches the pod's process; when its configuration cannot be made (a Secret or ConfigMap it
   * reads is missing), reports CreateContainerConfigError and tries again, as a kubelet does.
   */
  private async startProcess(entry: Running): Promise<void> {
    try {
      await this.launch(entry);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      entry.output.push(`executor: ${message}`);
      await this.reportWaiting(entry, "CreateContainerConfigError", message).catch(() => undefined);
      if (!entry.stopping) entry.retry = setTimeout(() => void this.startProcess(entry), CONFIG_RETRY_MS);
    }
  }

  private async launch(entry: Running): Promise<void> {
    const pod = entry.pod;
    const container = pod.spec!.containers[0]!;
    if (entry.folder) rmSync(entry.folder, { recursive: true, force: true });
    entry.folder = mkdtempSync(join(tmpdir(), "executor-"));
    const mounts = await this.materializeVolumes(pod, container, join(entry.folder, "volumes"));
    const env = mapPaths(await this.resolveEnv(pod, container), mounts);
    env.KUBECONFIG = await this.kubeconfigFor(pod, entry.folder);
    env.FORGEJO_ARC_PORT = String(entry.port);
    env.FORGEJO_ARC_HOST = "127.0.0.1";
    env.FORGEJO_ARC_WEBHOOK_HOST = "127.0.0.1";
    env.PATH = process.env.PATH ?? "";
    const args = Object.values(mapPaths(Object.fromEntries((container.args ?? []).map((arg, i) => [String(i), arg])), mounts));
    const child = spawn(process.execPath, [BUNDLE, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    entry.child = child;
    const collect = (line: string) => {
      if (!line) return;
      entry.output.push(line);
      for (const follower of entry.followers) follower.onLine(line);
      this.options.onOutput?.(pod.metadata!.name!, line);
    };
    // Whole lines: a pipe read can end in the middle of one.
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", collect);
    createInterface({ input: child.stderr!, crlfDelay: Infinity }).on("line", collect);
    // "close", not "exit": by then the last output lines are read too.
    child.once("close", (code) => {
      this.endRun(entry);
      if (entry.stopping) return;
      entry.ready = false;
      if (pod.spec?.restartPolicy === "Never") {
        entry.exitCode = code ?? 137;
        void this.reportStatus(entry).catch(() => undefined);
        return;
      }
      entry.restarts++;
      entry.lastTermination = termination(entry, pod.spec!.containers[0]!, code ?? 137);
      entry.previousRun = entry.output.slice(entry.runStart);
      entry.output.push(`executor: process exited with ${code}; restarting`);
      entry.runStart = entry.output.length;
      void this.reportStatus(entry)
        .catch(() => undefined)
        .then(() => {
          if (!entry.stopping) entry.retry = setTimeout(() => void this.startProcess(entry), 1_000);
        });
    });
    // The process runs: a failed report is no configuration error (startProcess would start another); its next readiness change or its exit reports again.
    await this.reportStatus(entry).catch(() => undefined);
  }

  /** A Secret the pod reads; missing, an error worded as a kubelet's. */
  private secret(name: string, namespace: string): Promise<V1Secret> {
    return this.core.readNamespacedSecret({ name, namespace }).catch((error: unknown) => {
      throw apiErrorCode(error) === 404 ? new Error(`secret "${name}" not found`) : error;
    });
  }

  private configMap(name: string, namespace: string): Promise<V1ConfigMap> {
    return this.core.readNamespacedConfigMap({ name, namespace }).catch((error: unknown) => {
      throw apiErrorCode(error) === 404 ? new Error(`configmap "${name}" not found`) : error;
    });
  }

  private async resolveEnv(pod: V1Pod, container: V1Container): Promise<Record<string, string>> {
    const namespace = pod.metadata!.namespace!;
    const env: Record<string, string> = {};
    for (const variable of container.env ?? []) {
      const from = variable.valueFrom;
      if (variable.value !== undefined) env[variable.name] = variable.value;
      else if (from?.secretKeyRef) {
        const secret = await this.secret(from.secretKeyRef.name!, namespace);
        const value = secret.data?.[from.secretKeyRef.key];
        if (value === undefined) throw new Error(`secret "${from.secretKeyRef.name}" has no key "${from.secretKeyRef.key}"`);
        env[variable.name] = Buffer.from(value, "base64").toString("utf8");
      } else if (from?.configMapKeyRef) {
        const map = await this.configMap(from.configMapKeyRef.name!, namespace);
        env[variable.name] = map.data?.[from.configMapKeyRef.key] ?? "";
      } else if (from?.fieldRef) {
        const path = from.fieldRef.fieldPath;
        env[variable.name] =
          path === "metadata.namespace"
            ? namespace
            : path === "metadata.name"
              ? pod.metadata!.name!
              : path === "spec.serviceAccountName"
                ? (pod.spec?.serviceAccountName ?? "default")
                : "127.0.0.1";
      }
    }
    return env;
  }

  /** Writes the container's secret, configMap and emptyDir mounts under a folder of the pod; returns mount path → folder. */
  private async materializeVolumes(pod: V1Pod, container: V1Container, root: string): Promise<Map<string, string>> {
    const mounts = new Map<string, string>();
    const namespace = pod.metadata!.namespace!;
    for (const mount of container.volumeMounts ?? []) {
      const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
      // The ServiceAccount token (a projected volume) reaches the process as KUBECONFIG instead.
      if (!volume || volume.projected) continue;
      const dir = join(root, mount.name);
      mkdirSync(dir, { recursive: true });
      let files: Record<string, Buffer> = {};
      let items: { key: string; path: string }[] | undefined;
      if (volume.secret) {
        const secret = await this.secret(volume.secret.secretName!, namespace);
        files = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")]));
        items = volume.secret.items;
      } else if (volume.configMap) {
        const map = await this.configMap(volume.configMap.name!, namespace);
        files = Object.fromEntries(Object.entries(map.data ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
        items = volume.configMap.items;
      } else if (!volume.emptyDir) {
        throw new Error(`volume "${volume.name}": the test executor supports secret, configMap and emptyDir volumes only`);
      }
      for (const { key, path } of items ?? Object.keys(files).map((key) => ({ key, path: key }))) {
        if (!files[key]) throw new Error(`volume "${volume.name}": key "${key}" not found`);
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), files[key]);
      }
      mounts.set(mount.mountPath, dir);
    }
    return mounts;
  }

  /** A kubeconfig with a token of the pod's ServiceAccount, as the in-cluster mount would give. */
  private async kubeconfigFor(pod: V1Pod, folder: string): Promise<string> {
    const serviceAccount = pod.spec?.serviceAccountName ?? "default";
    const token = await this.core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace: pod.metadata!.namespace!,
      body: {
        spec: {
          audiences: [],
          expirationSeconds: 3600,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata!.name, uid: pod.metadata!.uid },
        },
      },
    });
    const file = join(folder, "kubeconfig");
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: this.options.cluster.server, "certificate-authority": this.options.cluster.caFile } }],
        users: [{ name: serviceAccount, user: { token: token.status!.token } }],
        contexts: [{ name: "c", context: { cluster: "c", user: serviceAccount, namespace: pod.metadata!.namespace } }],
        "current-context": "c",
      }),
    );
    return file;
  }

  private async probeAll(): Promise<void> {
    for (const entry of this.running.values()) {
      if (!entry.child || entry.stopping) continue;
      const path = entry.pod.spec?.containers[0]?.readinessProbe?.httpGet?.path ?? "/readyz";
      const ready = await fetch(`http://127.0.0.1:${entry.port}${path}`, { signal: AbortSignal.timeout(900) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ready !== entry.ready) {
        entry.ready = ready;
        await this.reportStatus(entry).catch(() => undefined);
      }
    }
  }

  private async reportStatus(entry: Running): Promise<void> {
    const now = new Date();
    const container = entry.pod.spec!.containers[0]!;
    const alive = entry.child !== undefined && entry.child.exitCode === null;
    if (entry.exitCode !== undefined) {
      await this.patchPodStatus(entry.pod, {
        phase: entry.exitCode === 0 ? "Succeeded" : "Failed",
        containerStatuses: [
          {
            name: container.name,
            image: container.image ?? "",
            imageID: "",
            ready: false,
            started: false,
            restartCount: entry.restarts,
            state: { terminated: termination(entry, container, entry.exitCode) },
          },
        ],
      });
      return;
    }
    await this.patchPodStatus(entry.pod, {
      phase: "Running",
      hostIP: "127.0.0.1",
      podIP: "127.0.0.1",
      podIPs: [{ ip: "127.0.0.1" }],
      startTime: entry.startedAt,
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: now },
        { type: "Initialized", status: "True", lastTransitionTime: now },
        { type: "ContainersReady", status: entry.ready ? "True" : "False", lastTransitionTime: now },
        { type: "Ready", status: entry.ready ? "True" : "False", lastTransitionTime: now },
      ],
      containerStatuses: [
        {
          name: container.name,
          image: container.image ?? "",
          imageID: "",
          ready: entry.ready,
          started: alive,
          restartCount: entry.restarts,
          state: alive ? { running: { startedAt: now } } : { waiting: { reason: "CrashLoopBackOff", message: "restarting" } },
          ...(entry.lastTermination ? { lastState: { terminated: entry.lastTermination } } : {}),
        },
      ],
    });
  }

  private async reportWaiting(entry: Running, reason: string, message: string): Promise<void> {
    const container = entry.pod.spec!.containers[0]!;
    await this.patchPodStatus(entry.pod, {
      phase: "Pending",
      containerStatuses: [
        {
          name: container.name,
          image: container.image ?? "",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason, message } },
        },
      ],
    }).catch(() => undefined);
  }

  private async patchPodStatus(pod: V1Pod, status: object): Promise<void> {
    await this.core.patchNamespacedPodStatus(
      { name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { status } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  private kill(pod: V1Pod): void {
    const entry = this.running.get(this.key(pod));
    if (entry) void this.terminate(entry);
  }

  private async terminate(entry: Running): Promise<void> {
    entry.stopping = true;
    clearTimeout(entry.retry);
    this.running.delete(this.key(entry.pod));
    const child = entry.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (entry.folder) rmSync(entry.folder, { recursive: true, force: true });
  }
}

/** Rewrites values that start with a mount path to the folder that holds the mount's files. */
function mapPaths(values: Record<string, string>, mounts: Map<string, string>): Record<string, string> {
  const byLength = [...mounts.entries()].sort(([a], [b]) => b.length - a.length);
  const mapped: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    mapped[name] = value.replace(/(^|=)(\/[^\s]*)/, (match, prefix: string, path: string) => {
      const mount = byLength.find(([mountPath]) => path === mountPath || path.startsWith(`${mountPath}/`));
      return mount ? `${prefix}${mount[1]}${path.slice(mount[0].length)}` : match;
    });
  }
  return mapped;
}

/** How a pod's process ended, as the kubelet reports a container's: with FallbackToLogsOnError, a failure's log tail as its message. */
function termination(entry: Running, container: V1Container, exitCode: number): V1ContainerStateTerminated {
  return {
    exitCode,
    reason: exitCode === 0 ? "Completed" : "Error",
    startedAt: new Date(entry.startedAt),
    finishedAt: new Date(),
    ...(exitCode !== 0 && container.terminationMessagePolicy === "FallbackToLogsOnError"
      ? { message: logTail(entry.output.slice(entry.runStart)) }
      : {}),
  };
}

/** As the kubelet's FallbackToLogsOnError: the log's last 80 lines, at most 2048 bytes of them. */
function logTail(output: string[]): string {
  const tail = Buffer.from(output.slice(-80).join("\n"));
  return tail.subarray(Math.max(0, tail.length - 2048)).toString("utf8");
}
