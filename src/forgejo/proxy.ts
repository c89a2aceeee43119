// Which HTTP proxy, if any, a Forgejo server is reached through: HTTPS_PROXY / HTTP_PROXY / NO_PROXY
// (or their lowercase forms) from the environment, as curl and Go programs read them. Node ignores
// these variables unless told, so the Forgejo client decides here and hands its agent the one proxy
// (docs/configuration.md#forgejo-behind-an-http-proxy). The Kubernetes clients never use a proxy.
import { BlockList, isIP } from "node:net";

export interface ProxySettings {
  /** For http:// Forgejo servers. */
  http?: URL;
  /** For https:// Forgejo servers. */
  https?: URL;
  /** NO_PROXY as written: hosts, domains, IP addresses and CIDR ranges, optionally with a port; "*" for all. */
  noProxy: string[];
}

/**
 * Reads the proxy variables; problems (a value that is not a proxy URL, upper and lower case forms
 * that differ) are returned, never the values themselves, which may hold credentials.
 */
export function proxySettingsFromEnv(env: NodeJS.ProcessEnv): { settings: ProxySettings; problems: string[] } {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const upper = env[name.toUpperCase()]?.trim() || undefined;
    const lower = env[name.toLowerCase()]?.trim() || undefined;
    if (upper && lower && upper !== lower)
      problems.push(`$${name.toUpperCase()} and $${name.toLowerCase()} are both set and differ; set one of them`);
    return lower ?? upper;
  };
  const proxyUrl = (name: string): URL | undefined => {
    const text = read(name);
    if (!text) return undefined;
    const url = URL.parse(text.includes("://") ? text : `http://${text}`);
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
      problems.push(`$${name}: not the URL of an HTTP proxy; write it as http://host:port (credentials as http://user:password@host:port)`);
      return undefined;
    }
    return url;
  };
  const settings: ProxySettings = {
    http: proxyUrl("HTTP_PROXY"),
    https: proxyUrl("HTTPS_PROXY"),
    noProxy: (read("NO_PROXY") ?? "")
      .split(",")
      .map((entry) => entry.trim().toLowerCase())
      .filter(Boolean),
  };
  for (const entry of settings.noProxy) {
    if (entry.includes("/") && !cidrRange(entry)) problems.push(`$NO_PROXY: "${entry}" is not a CIDR range such as 10.0.0.0/8 or fd00::/8`);
  }
  return { settings, problems };
}

/** The proxy requests to `server` go through, or undefined when they go direct. */
export function proxyFor(server: URL, settings: ProxySettings): URL | undefined {
  const proxy = server.protocol === "https:" ? settings.https : settings.http;
  if (!proxy) return undefined;
  const host = server.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = Number(server.port || (server.protocol === "https:" ? 443 : 80));
  return settings.noProxy.some((entry) => exempts(entry, host, port)) ? undefined : proxy;
}

/** The proxy as logs and errors may show it: scheme, host and port, never credentials. */
export function describeProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

function exempts(entry: string, host: string, port: number): boolean {
  if (entry === "*") return true;
  if (entry.includes("/")) {
    const family = isIP(host);
    return family !== 0 && (cidrRange(entry)?.check(host, family === 4 ? "ipv4" : "ipv6") ?? false);
  }
  const { name, entryPort } = splitPort(entry);
  if (entryPort !== undefined && entryPort !== port) return false;
  const domain = name.replace(/^\*?\./, "");
  if (isIP(domain)) return normalizeIp(domain) === normalizeIp(host);
  return host === domain || host.endsWith(`.${domain}`);
}

/** "host:port", "[v6]:port" or a bare host or IPv6 address. */
function splitPort(entry: string): { name: string; entryPort?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { name: bracketed[1]!, entryPort: bracketed[2] ? Number(bracketed[2]) : undefined };
  const parts = entry.split(":");
  if (parts.length === 2 && /^\d+$/.test(parts[1]!)) return { name: parts[0]!, entryPort: Number(parts[1]) };
  return { name: entry };
}

function normalizeIp(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]`).hostname : address;
}

/** For the start-up log: the proxies without credentials, and NO_PROXY; undefined when none is set. */
export function describeProxySettings(settings: ProxySettings): Record<string, string> | undefined {
  if (!settings.http && !settings.https) return undefined;
  return {
    ...(settings.http ? { http: describeProxy(settings.http) } : {}),
    ...(settings.https ? { https: describeProxy(settings.https) } : {}),
    noProxy: settings.noProxy.join(","),
  };
}

/** "10.0.0.0/8" or "fd00::/8" as a range, or undefined when it is not one. */
function cidrRange(entry: string): BlockList | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(entry);
  const family = match ? isIP(match[1]!) : 0;
  const prefix = Number(match?.[2]);
  if (!match || family === 0 || prefix > (family === 4 ? 32 : 128)) return undefined;
  const range = new BlockList();
  range.addSubnet(match[1]!, prefix, family === 4 ? "ipv4" : "ipv6");
  return range;
}
