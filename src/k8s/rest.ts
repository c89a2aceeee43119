// A lean JSON client for the controller's per-ActRunner writes (Secret, Job, status, Event).
// @kubernetes/client-node 2.0 spends about 2.5 ms of CPU on each typed call — it re-reads the
// kubeconfig's certificate files, goes through fetch and (de)serializes every model field — against
// about 0.9 ms here (docs/architecture.md); on a busy control plane that CPU
// is taken from the API server. Same kubeconfig, same credentials: the TLS material is loaded
// once, the Authorization header (a rotated ServiceAccount token, an exec plugin) refreshed every
// minute. Failures are client-node's ApiException, so apiErrorCode and apiErrorMessage apply.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { ApiException, type KubeConfig } from "@kubernetes/client-node";

const HEADER_TTL_MS = 60_000;
const TIMEOUT_MS = 30_000;

export type PatchType = "application/merge-patch+json" | "application/json-patch+json";

export interface RestClient {
  /** A request under the cluster's server URL, e.g. ("POST", "/api/v1/namespaces/a/secrets", secret). */
  request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
  close(): void;
}

export function makeRestClient(kc: KubeConfig): RestClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig: no current cluster; set current-context");
  if (cluster.proxyUrl)
    throw new Error(`kubeconfig cluster "${cluster.name}": proxy-url is not supported by the controller; reach the API server directly`);
  const server = new URL(cluster.server);
  const secure = server.protocol === "https:";
  let prepared: Promise<{ agent: HttpAgent; headers: Record<string, string>; expires: number }> | undefined;

  const prepare = async (agent?: HttpAgent): Promise<{ agent: HttpAgent; headers: Record<string, string>; expires: number }> => {
    const options: RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(options);
    const tls = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      pfx: options.pfx,
      passphrase: options.passphrase,
      rejectUnauthorized: !cluster.skipTLSVerify,
      servername: cluster.tlsServerName,
    };
    return {
      agent: agent ?? (secure ? new HttpsAgent({ keepAlive: true, ...tls }) : new HttpAgent({ keepAlive: true })),
      headers: {
        ...(options.headers as Record<string, string>),
        ...(options.auth ? { authorization: `Basic ${Buffer.from(options.auth).toString("base64")}` } : {}),
      },
      expires: Date.now() + HEADER_TTL_MS,
    };
  };
  const connection = async () => {
    const current = await (prepared ??= prepare());
    if (current.expires > Date.now()) return current;
    prepared = prepare(current.agent);
    return prepared;
  };

  return {
    async request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
      const { agent, headers } = await connection();
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const url = new URL(`${server.pathname.replace(/\/$/, "")}${path}`, server);
      return new Promise<T>((resolve, reject) => {
        const req = (secure ? httpsRequest : httpRequest)(
          url,
          {
            method,
            agent,
            timeout: TIMEOUT_MS,
            headers: {
              ...headers,
              accept: "application/json",
              ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
            },
          },
          (res: IncomingMessage) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("error", reject);
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) {
                try {
                  resolve((text ? JSON.parse(text) : undefined) as T);
                } catch (error) {
                  reject(
                    new Error(`${method} ${url.pathname}: the API server answered ${status} with a body that is not JSON`, {
                      cause: error,
                    }),
                  );
                }
                return;
              }
              reject(new ApiException(status, `${method} ${url.pathname} answered ${status}`, text, flatHeaders(res)));
            });
          },
        );
        req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname}: no answer from the API server within ${TIMEOUT_MS} ms`)));
        req.on("error", reject);
        req.end(payload);
      });
    },
    close() {
      void prepared?.then(({ agent }) => agent.destroy()).catch(() => undefined);
    },
  };
}

function flatHeaders(res: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(res.headers).map(([key, value]) => [key, Array.isArray(value) ? value.join(", ") : (value ?? "")]),
  );
}
