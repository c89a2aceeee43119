// Serves the webhook app over HTTPS and swaps in a rotated certificate when its files change
// (cert-manager and Secret volume updates replace the files in place or through symlinks).
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { RequestListener } from "node:http";
import type { Logger } from "../src/observability/log.ts";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface ServeOptions extends TlsFiles {
  host: string;
  port: number;
  /** How often the files are compared with what is being served. */
  reloadIntervalMs?: number;
  logger: Logger;
}

export interface WebhookServer {
  server: Server;
  port: number;
  /** Reads the files again and switches to them if they changed; true when it switched. */
  reload(): boolean;
  close(): Promise<void>;
}

function readPair(files: TlsFiles): { cert: string; key: string } {
  return { cert: readFileSync(files.certFile, "utf8"), key: readFileSync(files.keyFile, "utf8") };
}

export async function serve(app: RequestListener, options: ServeOptions): Promise<WebhookServer> {
  let current = readPair(options);
  const server = createServer({ ...current, minVersion: "TLSv1.2" }, app);
  const reload = (): boolean => {
    let next: { cert: string; key: string };
    try {
      next = readPair(options);
    } catch (error) {
      options.logger.warn({ err: error, certFile: options.certFile }, "Failed to read webhook certificate; keeping the current one");
      return false;
    }
    if (next.cert === current.cert && next.key === current.key) return false;
    try {
      server.setSecureContext({ ...next, minVersion: "TLSv1.2" });
    } catch (error) {
      options.logger.warn({ err: error, certFile: options.certFile }, "Rejected webhook certificate; keeping the current one");
      return false;
    }
    current = next;
    options.logger.info({ certFile: options.certFile }, "Reloaded webhook certificate");
    return true;
  };
  const timer = setInterval(reload, options.reloadIntervalMs ?? 10_000);
  timer.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  options.logger.info({ host: options.host, port }, "Serving admission webhooks");
  return {
    server,
    port,
    reload,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
