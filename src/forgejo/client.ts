// The only module that talks to Forgejo's HTTP API (Forgejo >= 15 for runners over REST).
// Typed results and typed errors; GET and DELETE are retried with backoff, POST never.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";
import { USER_AGENT } from "../version.ts";
import { ForgejoError } from "./errors.ts";
import { describeProxy, proxyFor, type ProxySettings } from "./proxy.ts";
import { describeScope, scopePrefix, tokenScopeFor, type ForgejoScope } from "./scope.ts";
import type { ForgejoJob, ForgejoRunner, RegisteredRunner } from "./types.ts";
import { NotSentError, SLOW_FAILURE_MS, type UnansweredServers } from "./unanswered-servers.ts";

export interface ForgejoCall {
  operation: string;
  method: string;
  /** HTTP status, the error kind when no status came back, or "not_sent" (see UnansweredServers). */
  outcome: string;
  durationSeconds: number;
}

export interface ForgejoClientOptions {
  /** Base URL, e.g. https://code.example.com (a path prefix such as /forgejo is kept). */
  server: string;
  token: string;
  /** Extra PEM CA certificates trusted besides the system ones, for a private Forgejo. */
  caBundle?: string;
  timeoutMs?: number;
  /** HTTP(S)_PROXY and NO_PROXY of the process (proxySettingsFromEnv); absent: direct. */
  proxy?: ProxySettings;
  /** Attempts for idempotent calls (GET, DELETE), the first included. */
  attempts?: number;
  retryBaseDelayMs?: number;
  /** Called once per HTTP attempt, for metrics. */
  onCall?: (call: ForgejoCall) => void;
  /** Shared by the clients of a process: calls to a server that answers none fail at once. */
  unanswered?: UnansweredServers;
}

/** One call of Forgejo's API: what it is for (metrics, errors), where it goes and the token scope it needs. */
interface ApiRequest {
  operation: string;
  method: string;
  /** Under /api/v1/, e.g. "orgs/acme/actions/runners". */
  path: string;
  scope?: ForgejoScope;
  /** The token scope the call needs, named in the error a 403 becomes. */
  tokenScope: string;
  body?: unknown;
}

interface Response {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Retry-After up to this long is waited inside the call; a longer one is left to the caller's backoff. */
const MAX_RETRY_AFTER_IN_CALL_MS = 5_000;

export class ForgejoClient {
  private readonly base: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly options: Required<Omit<ForgejoClientOptions, "caBundle" | "onCall" | "proxy" | "unanswered">> &
    Pick<ForgejoClientOptions, "onCall" | "unanswered">;
  /** The server and, when requests go through one, the proxy: "https://code.example.com through proxy http://proxy:3128". */
  private readonly where: string;

  constructor(options: ForgejoClientOptions) {
    this.base = new URL(options.server.endsWith("/") ? options.server : `${options.server}/`);
    this.options = { timeoutMs: 10_000, attempts: 3, retryBaseDelayMs: 250, ...options };
    const secure = this.base.protocol === "https:";
    const proxy = options.proxy && proxyFor(this.base, options.proxy);
    const proxyEnv = proxy && { [secure ? "HTTPS_PROXY" : "HTTP_PROXY"]: proxy.href };
    this.where = proxy ? `${this.base.origin} through proxy ${describeProxy(proxy)}` : this.base.origin;
    this.agent = secure
      ? new HttpsAgent({
          keepAlive: true,
          maxSockets: 16,
          proxyEnv,
          ...(options.caBundle ? { ca: [...rootCertificates, options.caBundle] } : {}),
        })
      : new HttpAgent({ keepAlive: true, maxSockets: 16, proxyEnv });
  }

  close(): void {
    this.agent.destroy();
  }

  /** GET /api/v1/version */
  async version(): Promise<string> {
    const body = await this.json<{ version?: unknown }>({ operation: "version", method: "GET", path: "version", tokenScope: "read:misc" });
    if (typeof body?.version !== "string") throw this.malformed("version", "no version string");
    return body.version;
  }

  /**
   * Jobs waiting for a runner whose runs-on labels are all among `labelNames`, oldest first.
   * Forgejo also lists running jobs, newest first, and answers `null` when there are none.
   */
  async waitingJobs(scope: ForgejoScope, labelNames: string[]): Promise<ForgejoJob[]> {
    return (await this.jobs(scope, labelNames)).filter((job) => job.status === "waiting").sort((a, b) => a.id - b.id);
  }

  /** Every job Forgejo lists for these labels (waiting and running), as returned. */
  async jobs(scope: ForgejoScope, labelNames: string[]): Promise<ForgejoJob[]> {
    // Forgejo splits ONE comma-separated value and trims only the whole value: no spaces.
    const query = `labels=${encodeURIComponent(labelNames.join(","))}`;
    const body = await this.json<unknown>({
      operation: "list_jobs",
      method: "GET",
      path: `${jobsPath(scope)}?${query}`,
      scope,
      tokenScope: tokenScopeFor(scope, "read"),
    });
    if (body === null) return [];
    if (!Array.isArray(body)) throw this.malformed("list_jobs", "expected an array or null");
    return body.map((job, index) => checkJob(job, index, (why) => this.malformed("list_jobs", why)));
  }

  /** POST {scope}/actions/runners — an ephemeral runner, offline until it connects. */
  async registerRunner(scope: ForgejoScope, runner: { name: string; description?: string; ephemeral: boolean }): Promise<RegisteredRunner> {
    const body = await this.json<Partial<RegisteredRunner>>({
      operation: "register_runner",
      method: "POST",
      path: runnersPath(scope),
      scope,
      tokenScope: tokenScopeFor(scope, "write"),
      body: runner,
    });
    if (typeof body?.id !== "number" || typeof body.uuid !== "string" || typeof body.token !== "string") {
      throw this.malformed("register_runner", "expected {id, uuid, token}");
    }
    return { id: body.id, uuid: body.uuid, token: body.token };
  }

  /** GET {scope}/actions/runners/{id}; undefined when Forgejo has no such runner (404). */
  async getRunner(scope: ForgejoScope, id: number): Promise<ForgejoRunner | undefined> {
    try {
      return await this.json<ForgejoRunner>({
        operation: "get_runner",
        method: "GET",
        path: `${runnersPath(scope)}/${id}`,
        scope,
        tokenScope: tokenScopeFor(scope, "read"),
      });
    } catch (error) {
      if (error instanceof ForgejoError && error.kind === "not_found") return undefined;
      throw error;
    }
  }

  /**
   * Runner `runner.id` if it is still the runner registered with `runner.uuid`: after Forgejo's
   * database was restored from a backup or reset, an id recorded before may have been given to
   * another runner since. Without a uuid (a status written by hand), the runner with that id.
   */
  async getRegisteredRunner(scope: ForgejoScope, runner: { id: number; uuid?: string }): Promise<ForgejoRunner | undefined> {
    const current = await this.getRunner(scope, runner.id);
    return runner.uuid === undefined || current?.uuid === runner.uuid ? current : undefined;
  }

  /**
   * Deletes the runner registered as `runner` (getRegisteredRunner): "absent" when Forgejo no longer
   * has it — also when its id now names another runner, which is left alone.
   */
  async deleteRegisteredRunner(scope: ForgejoScope, runner: { id: number; uuid?: string }): Promise<"deleted" | "absent"> {
    if (!(await this.getRegisteredRunner(scope, runner))) return "absent";
    return this.deleteRunner(scope, runner.id);
  }

  /** Every runner of the scope, following pages (X-Total-Count). */
  async listRunners(scope: ForgejoScope, pageSize = 50): Promise<ForgejoRunner[]> {
    const runners: ForgejoRunner[] = [];
    for (let page = 1; ; page++) {
      const response = await this.send({
        operation: "list_runners",
        method: "GET",
        path: `${runnersPath(scope)}?page=${page}&limit=${pageSize}`,
        scope,
        tokenScope: tokenScopeFor(scope, "read"),
      });
      const items = parseJson(response.body);
      if (!Array.isArray(items)) throw this.malformed("list_runners", "expected an array");
      runners.push(...(items as ForgejoRunner[]));
      const total = Number(response.headers["x-total-count"] ?? NaN);
      if (items.length < pageSize || (Number.isFinite(total) && runners.length >= total)) return runners;
    }
  }

  /** DELETE {scope}/actions/runners/{id}; "absent" when it was already gone (404 is success). */
  async deleteRunner(scope: ForgejoScope, id: number): Promise<"deleted" | "absent"> {
    try {
      await this.send({
        operation: "delete_runner",
        method: "DELETE",
        path: `${runnersPath(scope)}/${id}`,
        scope,
        tokenScope: tokenScopeFor(scope, "write"),
      });
      return "deleted";
    } catch (error) {
      if (error instanceof ForgejoError && error.kind === "not_found") return "absent";
      throw error;
    }
  }

  private malformed(operation: string, why: string): ForgejoError {
    return new ForgejoError("malformed", operation, `Forgejo ${this.base.origin} answered ${operation} with a malformed body: ${why}`);
  }

  private async json<T>(request: ApiRequest): Promise<T> {
    const response = await this.send(request);
    const parsed = parseJson(response.body);
    if (parsed === undefined) throw this.malformed(request.operation, notJsonReason(response));
    return parsed as T;
  }

  private async send(request: ApiRequest): Promise<Response> {
    const idempotent = request.method === "GET" || request.method === "DELETE";
    const attempts = idempotent ? this.options.attempts : 1;
    let previous: ForgejoError | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(request);
      } catch (error) {
        // A retry not sent because the server answered nothing since: the failure that says why is the earlier one.
        if (error instanceof NotSentError) throw previous ?? error;
        if (!(error instanceof ForgejoError) || !error.transient || attempt >= attempts) throw error;
        previous = error;
        if ((error.retryAfterMs ?? 0) > MAX_RETRY_AFTER_IN_CALL_MS) throw error;
        const delay = this.options.retryBaseDelayMs * 2 ** (attempt - 1);
        await sleep(Math.max(delay / 2 + Math.random() * (delay / 2), error.retryAfterMs ?? 0));
      }
    }
  }

  private async attempt(request: ApiRequest): Promise<Response> {
    const { operation, method } = request;
    const url = new URL(`api/v1/${request.path}`, this.base);
    const target = `${method} ${url.pathname}`;
    const unanswered = this.options.unanswered;
    if (!unanswered) return this.exchange(request, url, target);
    let trial: boolean;
    try {
      trial = unanswered.admit(this.base.origin, operation, target);
    } catch (error) {
      this.options.onCall?.({ operation, method, outcome: "not_sent", durationSeconds: 0 });
      throw error;
    }
    const started = performance.now();
    try {
      const response = await this.exchange(request, url, target);
      unanswered.settled(this.base.origin, trial);
      return response;
    } catch (error) {
      const slow =
        error instanceof ForgejoError &&
        (error.kind === "timeout" || (error.kind === "unreachable" && performance.now() - started >= SLOW_FAILURE_MS));
      unanswered.settled(this.base.origin, trial, slow ? error : undefined);
      throw error;
    }
  }

  /** One HTTP request and its answer. */
  private exchange(request: ApiRequest, url: URL, target: string): Promise<Response> {
    const { operation, method, body } = request;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = performance.now();
    const report = (outcome: string) =>
      this.options.onCall?.({ operation, method, outcome, durationSeconds: (performance.now() - started) / 1000 });
    return new Promise<Response>((resolve, reject) => {
      const fail = (error: ForgejoError) => {
        report(error.status !== undefined ? String(error.status) : error.kind);
        reject(error);
      };
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const req = send(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            authorization: `token ${this.options.token}`,
            accept: "application/json",
            "user-agent": USER_AGENT,
            ...(payload !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", (error) =>
            fail(new ForgejoError("unreachable", operation, `${target} on ${this.where}: ${error.message}`, undefined, error)),
          );
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString("utf8");
            if (status >= 200 && status < 300) {
              report(String(status));
              resolve({ status, headers: res.headers, body: text });
              return;
            }
            fail(this.statusError(request, target, status, text, res.headers));
          });
        },
      );
      req.setTimeout(this.options.timeoutMs, () => {
        req.destroy(new ForgejoError("timeout", operation, `${target} on ${this.where}: no answer within ${this.options.timeoutMs} ms`));
      });
      req.on("error", (error) => {
        if (error instanceof ForgejoError) fail(error);
        else fail(new ForgejoError("unreachable", operation, `${target} on ${this.where}: ${error.message}`, undefined, error));
      });
      req.end(payload);
    });
  }

  private statusError(
    { operation, scope, tokenScope }: ApiRequest,
    target: string,
    status: number,
    text: string,
    headers: IncomingMessage["headers"],
  ): ForgejoError {
    const serverMessage = (parseJson(text) as { message?: unknown } | undefined)?.message;
    const detail = typeof serverMessage === "string" && serverMessage ? `: ${serverMessage}` : "";
    const where = `${target} on ${this.where}`;
    if (status === 401) {
      return new ForgejoError(
        "unauthorized",
        operation,
        `${where} answered 401${detail}; the token is invalid or expired: replace it in the token Secret`,
        status,
      );
    }
    if (status === 403) {
      const owner =
        scope?.kind === "instance"
          ? " and its user must be a site administrator"
          : scope && scope.kind !== "user"
            ? ` and its user must own ${describeScope(scope)}`
            : "";
      return new ForgejoError(
        "forbidden",
        operation,
        `${where} answered 403${detail}; the token needs the ${tokenScope} scope${owner}`,
        status,
      );
    }
    if (status === 404) return new ForgejoError("not_found", operation, `${where} answered 404${detail}${notFoundHint(scope)}`, status);
    const retryAfterMs = parseRetryAfter(headers["retry-after"]);
    if (status === 429) {
      const wait = retryAfterMs === undefined ? "" : ` and asks to wait ${Math.ceil(retryAfterMs / 1000)} s`;
      return new ForgejoError(
        "rate_limited",
        operation,
        `${where} answered 429${detail}: Forgejo, or a proxy in front of it, limits the rate of requests${wait}; raise that limit for this client or poll less often (spec.pollInterval)`,
        status,
        undefined,
        retryAfterMs,
      );
    }
    if (status >= 500)
      return new ForgejoError("server_error", operation, `${where} answered ${status}${detail}`, status, undefined, retryAfterMs);
    return new ForgejoError("rejected", operation, `${where} answered ${status}${detail}`, status);
  }
}

/**
 * What a 404 on a scope's jobs or runners says: an organization or repository the token's user cannot
 * see is not found, as one that does not exist; a server URL that is not Forgejo's root has no API.
 */
function notFoundHint(scope: ForgejoScope | undefined): string {
  if (!scope) return "";
  const root = "forgejoServer is Forgejo's ROOT_URL";
  const field = { organization: "spec.organization", repository: "spec.repository", user: undefined, instance: undefined }[scope.kind];
  if (!field) return `; check that ${root}`;
  return `; check ${field}: ${describeScope(scope)} does not exist or the token's user cannot see it (or that ${root})`;
}

function jobsPath(scope: ForgejoScope): string {
  return scope.kind === "instance" ? "admin/actions/runners/jobs" : `${scopePrefix(scope)}/actions/runners/jobs`;
}

function runnersPath(scope: ForgejoScope): string {
  return scope.kind === "instance" ? "admin/actions/runners" : `${scopePrefix(scope)}/actions/runners`;
}

/** Milliseconds from a Retry-After header: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date names its day and month; Date.parse would also read "-5" as a year.
  const at = /[A-Za-z]/.test(trimmed) ? Date.parse(trimmed) : NaN;
  return Number.isNaN(at) ? undefined : Math.max(at - now, 0);
}

/**
 * Why a 2xx body that is not JSON came: most often a web page from something in front of Forgejo's
 * API (a sign-in page of a proxy, or Forgejo's own pages under a forgejoServer that is not its root URL).
 */
function notJsonReason(response: Response): string {
  const type = response.headers["content-type"]?.split(";")[0]?.trim() || "no content type";
  const what = `not JSON (${response.status}, ${type}, ${Buffer.byteLength(response.body)} bytes)`;
  return /html/i.test(type) || /^\s*<(!doctype|html)/i.test(response.body)
    ? `${what} but a web page: check that forgejoServer is the URL Forgejo is served at (its ROOT_URL) and that no proxy or sign-in page in front of it answers instead`
    : what;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function checkJob(value: unknown, index: number, malformed: (why: string) => ForgejoError): ForgejoJob {
  const job = value as Partial<ForgejoJob> | null;
  const problem =
    typeof job !== "object" || job === null
      ? "not an object"
      : typeof job.id !== "number"
        ? "id is not a number"
        : typeof job.status !== "string"
          ? "status is not a string"
          : !Array.isArray(job.runs_on)
            ? "runs_on is not an array"
            : undefined;
  if (problem) throw malformed(`job [${index}]: ${problem}`);
  return {
    id: job!.id!,
    attempt: job!.attempt ?? 0,
    handle: job!.handle ?? "",
    repo_id: job!.repo_id ?? 0,
    owner_id: job!.owner_id ?? 0,
    name: job!.name ?? "",
    needs: job!.needs ?? null,
    runs_on: job!.runs_on!,
    task_id: job!.task_id ?? 0,
    status: job!.status!,
  };
}
