// The kubelet's container log endpoint for the executor's node, so that `kubectl logs` (the API
// server's pods/log) works for the pods it runs, as on a real node: the controller's and listeners'
// output in the demo, and the logs chart-testing prints when an install fails. HTTPS on 127.0.0.1
// with a certificate of the cluster's CA (the API server checks it, see scripts/cluster/cluster.ts).
// Serves GET /containerLogs/{namespace}/{pod}/{container} with tailLines, limitBytes, previous and
// follow; timestamps and sinceSeconds are not kept, so they are ignored.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";

/** The output of one container of a running pod. */
export interface ContainerLog {
  /** Lines of the current run, or with `previous` of the run before the last restart (undefined: there was none). */
  lines(previous: boolean): string[] | undefined;
  /** Calls onLine with each new line of the current run and onEnd once it ends (later, never from within); returns the unsubscribe. */
  follow(onLine: (line: string) => void, onEnd: () => void): () => void;
}

export interface ContainerLogServer {
  port: number;
  close(): Promise<void>;
}

export async function serveContainerLogs(
  tls: { certFile: string; keyFile: string },
  find: (namespace: string, pod: string, container: string) => ContainerLog | undefined,
): Promise<ContainerLogServer> {
  const server: Server = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    const fail = (status: number, message: string) => res.writeHead(status, { "content-type": "text/plain" }).end(message);
    if (req.method !== "GET" || !match)
      return fail(404, `the test executor serves only GET /containerLogs/…, not ${req.method} ${url.pathname}`);
    const [namespace, pod, container] = match.slice(1).map(decodeURIComponent) as [string, string, string];
    const log = find(namespace, pod, container);
    if (!log) return fail(404, `container "${container}" of pod "${namespace}/${pod}" is not running on the executor node`);
    const previous = url.searchParams.get("previous") === "true";
    const lines = log.lines(previous);
    if (!lines) return fail(400, `previous terminated container "${container}" in pod "${pod}" not found`);
    const tailLines = Number(url.searchParams.get("tailLines") ?? NaN);
    const limitBytes = Number(url.searchParams.get("limitBytes") ?? NaN);
    let budget = Number.isInteger(limitBytes) && limitBytes > 0 ? limitBytes : Infinity;
    const write = (line: string): boolean => {
      const bytes = Buffer.from(`${line}\n`);
      res.write(bytes.subarray(0, Math.min(bytes.length, budget)));
      budget -= bytes.length;
      return budget > 0;
    };
    res.writeHead(200, { "content-type": "text/plain" });
    const shown = Number.isInteger(tailLines) && tailLines >= 0 ? lines.slice(lines.length - Math.min(tailLines, lines.length)) : lines;
    for (const line of shown) if (!write(line)) return res.end();
    if (previous || url.searchParams.get("follow") !== "true") return res.end();
    let stop = () => {};
    const end = () => {
      stop();
      res.end();
    };
    stop = log.follow((line) => {
      if (!write(line)) end();
    }, end);
    req.once("close", () => stop());
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
