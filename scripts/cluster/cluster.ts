// The local test cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
// built from their Go modules (build-tools.sh) and bound to 127.0.0.1 only. Started processes are
// recorded by PID in the state folder; stopping kills exactly those, in reverse order.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = resolve(here, "../..");
export const DEFAULT_STATE_DIR = process.env.FORGEJO_ARC_STATE_DIR ?? join(PROJECT_ROOT, ".state/cluster");
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";
export const KWOK_NODE_NAMES = ["kwok-node-0"];

export interface ClusterProcess {
  name: string;
  pid: number;
  binary: string;
}

export interface ClusterState {
  stateDir: string;
  kubeconfig: string;
  server: string;
  caFile: string;
  caKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  processes: ClusterProcess[];
  startedAt: string;
}

export function toolsBin(): string {
  return execFileSync("bash", [join(here, "build-tools.sh"), "--print"], { encoding: "utf8" }).trim();
}

/** PATH with the project's tools first, so the pinned kubectl wins over any other. */
export function toolsPath(): string {
  return `${toolsBin()}:${process.env.PATH ?? ""}`;
}

function log(message: string): void {
  console.log(`cluster: ${message}`);
}

/** The lowest port the kernel hands out for outgoing connections (and for listen on port 0). */
function ephemeralPortsFrom(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

const FREE_PORTS_FROM = 20000;
/** Ports this process handed out: a port released after its check could otherwise be handed out twice. */
const handedOutPorts = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolveListen) => {
    const server = createServer();
    server.once("error", () => resolveListen(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveListen(true)));
  });
}

/**
 * A port on 127.0.0.1 that is free now, for a process started later to listen on. It is taken below
 * the kernel's ephemeral range, so that no outgoing connection (a watch, a keep-alive) takes it in
 * between and keeps it, and never twice by one process.
 */
export async function freePort(): Promise<number> {
  const below = Math.max(ephemeralPortsFrom(), FREE_PORTS_FROM + 1000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FREE_PORTS_FROM + Math.floor(Math.random() * (below - FREE_PORTS_FROM));
    if (handedOutPorts.has(port)) continue;
    handedOutPorts.add(port); // before the check: calls at once must not both take it
    if (await canListen(port)) return port;
    handedOutPorts.delete(port);
  }
  throw new Error(`no free port on 127.0.0.1 between ${FREE_PORTS_FROM} and ${below - 1} after 200 tries`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.resolve(check()).catch(() => false)) return;
    await sleep(250);
  }
  const tail =
    logFile && existsSync(logFile)
      ? `\n--- last lines of ${logFile}:\n${readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n")}`
      : "";
  throw new Error(`cluster: ${what} did not become ready within ${timeoutMs / 1000}s${tail}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when `pid` is alive and still runs `binary` (guards against a reused PID). */
function runs(process_: ClusterProcess): boolean {
  if (!isAlive(process_.pid)) return false;
  try {
    return readFileSync(`/proc/${process_.pid}/cmdline`, "utf8").split("\0")[0] === process_.binary;
  } catch {
    return false;
  }
}

export function readState(stateDir = DEFAULT_STATE_DIR): ClusterState | undefined {
  const file = join(stateDir, "state.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as ClusterState) : undefined;
}

function writeState(state: ClusterState): void {
  writeFileSync(join(state.stateDir, "state.json"), JSON.stringify(state, null, 2));
}

export function isRunning(state: ClusterState | undefined): state is ClusterState {
  return state !== undefined && state.processes.length > 0 && state.processes.every(runs);
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** Extensions of a serving certificate for 127.0.0.1 (a kubelet endpoint the API server dials). */
export const LOOPBACK_SERVING = ["subjectAltName=IP:127.0.0.1", "extendedKeyUsage=serverAuth", "keyUsage=digitalSignature,keyEncipherment"];

/** Issues a certificate signed by the cluster CA; returns the cert and key paths. */
export function issueCertificate(
  state: Pick<ClusterState, "stateDir" | "caFile" | "caKeyFile">,
  name: string,
  subject: string,
  extensions: string[],
): { certFile: string; keyFile: string } {
  const pki = join(state.stateDir, "pki");
  const keyFile = join(pki, `${name}.key`);
  const certFile = join(pki, `${name}.crt`);
  writeFileSync(join(pki, `${name}.ext`), `${extensions.join("\n")}\n`);
  openssl(
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      subject,
      "-keyout",
      keyFile,
      "-out",
      `${name}.csr`,
    ],
    pki,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      state.caFile,
      "-CAkey",
      state.caKeyFile,
      "-CAcreateserial",
      "-days",
      "365",
      "-sha256",
      "-extfile",
      `${name}.ext`,
      "-out",
      certFile,
    ],
    pki,
  );
  return { certFile, keyFile };
}

function createPki(stateDir: string): Pick<ClusterState, "caFile" | "caKeyFile" | "clientCertFile" | "clientKeyFile"> & {
  serving: { certFile: string; keyFile: string };
  kwokServing: { certFile: string; keyFile: string };
} {
  const pki = join(stateDir, "pki");
  mkdirSync(pki, { recursive: true });
  const caFile = join(pki, "ca.crt");
  const caKeyFile = join(pki, "ca.key");
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "365",
      "-subj",
      "/CN=forgejo-arc-test-ca",
      "-keyout",
      caKeyFile,
      "-out",
      caFile,
    ],
    pki,
  );
  const ca = { stateDir, caFile, caKeyFile };
  const serving = issueCertificate(ca, "apiserver", "/CN=kube-apiserver", [
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
    "extendedKeyUsage=serverAuth",
    "keyUsage=digitalSignature,keyEncipherment",
  ]);
  // kwok's server plays the kubelet's API (container logs) for the API server, which checks it against the CA.
  const kwokServing = issueCertificate(ca, "kwok", "/CN=kwok", LOOPBACK_SERVING);
  const admin = issueCertificate(ca, "admin", "/O=system:masters/CN=forgejo-arc-admin", [
    "extendedKeyUsage=clientAuth",
    "keyUsage=digitalSignature,keyEncipherment",
  ]);
  openssl(["genrsa", "-out", "sa.key", "2048"], pki);
  openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], pki);
  return { caFile, caKeyFile, clientCertFile: admin.certFile, clientKeyFile: admin.keyFile, serving, kwokServing };
}

function kubeconfigYaml(server: string, caFile: string, certFile: string, keyFile: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: forgejo-arc-test",
    "    cluster:",
    `      server: ${server}`,
    `      certificate-authority: ${caFile}`,
    "users:",
    "  - name: admin",
    "    user:",
    `      client-certificate: ${certFile}`,
    `      client-key: ${keyFile}`,
    "contexts:",
    "  - name: forgejo-arc-test",
    "    context: { cluster: forgejo-arc-test, user: admin }",
    "current-context: forgejo-arc-test",
    "",
  ].join("\n");
}

function startProcess(stateDir: string, name: string, binary: string, args: string[]): ClusterProcess {
  const logFile = join(stateDir, "logs", `${name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(binary, args, { detached: true, stdio: ["ignore", fd, fd] });
  child.unref();
  if (!child.pid) throw new Error(`cluster: could not start ${binary}`);
  writeFileSync(join(stateDir, `${name}.pid`), String(child.pid));
  return { name, pid: child.pid, binary };
}

/** GET as the cluster admin (client certificate); the body as bytes (a profile) — `.toString()` for text. */
export function httpsGet(
  url: string,
  state: Pick<ClusterState, "caFile" | "clientCertFile" | "clientKeyFile">,
  timeoutMs = 2000,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolveGet, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(state.caFile),
        cert: readFileSync(state.clientCertFile),
        key: readFileSync(state.clientKeyFile),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolveGet({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

export function kubectl(state: Pick<ClusterState, "kubeconfig">, args: string[], input?: string): string {
  return execFileSync("kubectl", ["--kubeconfig", state.kubeconfig, ...args], {
    encoding: "utf8",
    input,
    env: { ...process.env, PATH: toolsPath() },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Installs (or updates) the generated CRDs and waits until the API server serves them. */
export function installCrds(state: Pick<ClusterState, "kubeconfig">): void {
  kubectl(state, ["apply", "--server-side", "--force-conflicts", "-f", join(PROJECT_ROOT, "chart/forgejo-arc/crds")]);
  kubectl(state, [
    "wait",
    "--for=condition=Established",
    "crd/runnerdeployments.forgejo.actions.io",
    "crd/actrunners.forgejo.actions.io",
    "--timeout=60s",
  ]);
}

/** What `kubectl logs` (and the API server's pods/log) shows for every container of a kwok pod. */
export const KWOK_CONTAINER_LOG_LINES = [
  "kwok test cluster: every container of a kwok pod has this log (scripts/cluster/cluster.ts)",
  "kwok test cluster: no runner ran here, so nothing asked Forgejo for a job",
];

/** Writes the log kwok serves for every container (CRI log format) and the kwok config that says so; returns the config's path. */
function writeKwokLogs(stateDir: string): string {
  const logsFile = join(stateDir, "kwok-container.log");
  const time = new Date().toISOString().replace("Z", "000000Z");
  writeFileSync(logsFile, KWOK_CONTAINER_LOG_LINES.map((line) => `${time} stdout F ${line}\n`).join(""));
  const config = join(stateDir, "kwok-logs.yaml");
  writeFileSync(
    config,
    JSON.stringify({
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "ClusterLogs",
      metadata: { name: "every-container" },
      spec: { selector: {}, logs: [{ logsFile }] },
    }),
  );
  return config;
}

function nodeManifest(name: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" },
    },
    spec: {},
  });
}

export async function clusterUp(stateDir = DEFAULT_STATE_DIR): Promise<{ state: ClusterState; started: boolean }> {
  const existing = readState(stateDir);
  if (isRunning(existing)) return { state: existing, started: false };
  if (existing) {
    log(`found a stale cluster state in ${stateDir}; stopping what is left of it`);
    await clusterDown(stateDir);
  }
  const bin = toolsBin();
  const binary = (name: string) => {
    const path = join(bin, name);
    if (!existsSync(path)) throw new Error(`cluster: ${path} is missing; run \`npm run tools\``);
    return path;
  };
  mkdirSync(join(stateDir, "logs"), { recursive: true });
  const pki = createPki(stateDir);
  const [etcdClient, etcdPeer, apiserverPort, kwokPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const server = `https://127.0.0.1:${apiserverPort}`;
  const kubeconfig = join(stateDir, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(server, pki.caFile, pki.clientCertFile, pki.clientKeyFile));
  const state: ClusterState = {
    stateDir,
    kubeconfig,
    server,
    caFile: pki.caFile,
    caKeyFile: pki.caKeyFile,
    clientCertFile: pki.clientCertFile,
    clientKeyFile: pki.clientKeyFile,
    processes: [],
    startedAt: new Date().toISOString(),
  };
  const logOf = (name: string) => join(stateDir, "logs", `${name}.log`);
  const start = (name: string, args: string[]) => {
    state.processes.push(startProcess(stateDir, name, binary(name), args));
    writeState(state);
  };
  const pkiDir = join(stateDir, "pki");
  try {
    start("etcd", [
      "--name=default",
      `--data-dir=${join(stateDir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await waitFor("etcd", 30_000, async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, logOf("etcd"));

    start("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiserverPort}`,
      "--endpoint-reconciler-type=none",
      `--cert-dir=${pkiDir}`,
      `--tls-cert-file=${pki.serving.certFile}`,
      `--tls-private-key-file=${pki.serving.keyFile}`,
      `--client-ca-file=${pki.caFile}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${join(pkiDir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(pkiDir, "sa.key")}`,
      "--authorization-mode=RBAC",
      "--allow-privileged=true",
      "--service-cluster-ip-range=10.96.0.0/16",
      // Container logs come from kwok's server at the node's InternalIP (127.0.0.1), over TLS it checks.
      "--kubelet-preferred-address-types=InternalIP",
      `--kubelet-certificate-authority=${pki.caFile}`,
      process.env.CLUSTER_APISERVER_PROFILING ? "--profiling=true" : "--profiling=false",
      "--v=1",
    ]);
    await waitFor(
      "kube-apiserver",
      90_000,
      async () => (await httpsGet(`${server}/readyz`, state)).status === 200,
      logOf("kube-apiserver"),
    );

    // Before kube-controller-manager starts: its garbage collector finds the resources to watch at
    // start and after that only every 30 s, and until then it does not see an ActRunner deleted, so
    // the Jobs and Secrets it owns would stay up to 30 s longer than on a cluster that had the CRDs.
    installCrds(state);

    start("kube-controller-manager", [
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      "--secure-port=0",
      `--service-account-private-key-file=${join(pkiDir, "sa.key")}`,
      `--root-ca-file=${pki.caFile}`,
      "--controllers=*",
      "--use-service-account-credentials=false",
      "--concurrent-job-syncs=20",
      "--kube-api-qps=200",
      "--kube-api-burst=400",
      "--v=1",
    ]);
    start("kube-scheduler", [
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      "--secure-port=0",
      "--kube-api-qps=200",
      "--kube-api-burst=400",
      "--v=1",
    ]);
    start("kwok", [
      `--kubeconfig=${kubeconfig}`,
      "--manage-all-nodes=false",
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      "--node-ip=127.0.0.1",
      `--server-address=127.0.0.1:${kwokPort}`,
      `--node-port=${kwokPort}`,
      `--tls-cert-file=${pki.kwokServing.certFile}`,
      `--tls-private-key-file=${pki.kwokServing.keyFile}`,
      `--config=${join(here, "kwok-stages.yaml")}`,
      `--config=${writeKwokLogs(stateDir)}`,
    ]);

    kubectl(
      state,
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: KWOK_NODE_NAMES.map((n) => JSON.parse(nodeManifest(n))) }),
    );
    await waitFor(
      "the kwok node",
      60_000,
      () =>
        kubectl(state, ["get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}"])
          .split(" ")
          .every((s) => s === "True"),
      logOf("kwok"),
    );
    await waitFor(
      "the default ServiceAccount",
      60_000,
      () => kubectl(state, ["get", "serviceaccount", "default", "-o", "name"]).trim() !== "",
      logOf("kube-controller-manager"),
    );
    for (const process_ of state.processes) {
      if (!runs(process_)) throw new Error(`cluster: ${process_.name} exited; see ${logOf(process_.name)}`);
    }
  } catch (error) {
    await clusterDown(stateDir);
    throw error;
  }
  return { state, started: true };
}

async function stop(process_: ClusterProcess): Promise<void> {
  if (!runs(process_)) return;
  process.kill(process_.pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (isAlive(process_.pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(process_.pid)) process.kill(process_.pid, "SIGKILL");
  while (isAlive(process_.pid)) await sleep(50);
}

/** Stops the recorded processes in reverse start order and removes the state folder. */
export async function clusterDown(stateDir = DEFAULT_STATE_DIR): Promise<ClusterProcess[]> {
  const state = readState(stateDir);
  const processes = state?.processes ?? [];
  for (const process_ of [...processes].reverse()) await stop(process_);
  rmSync(stateDir, { recursive: true, force: true });
  return processes;
}
