// A fake Forgejo (>= 15) of the project's own, faithful to shared/design/forgejo.md: the jobs
// endpoint with its quirks (one comma-separated labels value trimmed only as a whole, subset
// matching, waiting AND running jobs, newest first, `null` when empty), runners over REST with
// ephemeral runners deleted when their job ends, token scopes with 401/403, and a new handle for
// every re-run attempt. Tests and the demo drive it through the control API under /_fake.
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";

export interface FakeToken {
  user: string;
  /** Forgejo token scopes, e.g. ["read:organization", "write:organization"] or ["all"]. */
  scopes: string[];
  admin?: boolean;
}

export interface FakeJob {
  id: number;
  attempt: number;
  handle: string;
  repo_id: number;
  owner_id: number;
  name: string;
  needs: string[] | null;
  runs_on: string[];
  task_id: number;
  status: "waiting" | "running" | "blocked" | "success" | "failure" | "cancelled";
  runnerId?: number;
}

export interface FakeRunner {
  id: number;
  uuid: string;
  token: string;
  name: string;
  description: string;
  ephemeral: boolean;
  owner_id: number;
  repo_id: number;
  status: "offline" | "idle" | "active";
  labels: string[];
  version: string;
  /** Jobs this runner has been handed (an ephemeral runner gets at most one). */
  jobIds: number[];
}

export interface Fault {
  /** Added to every affected request before it is answered. */
  latencyMs?: number;
  /** Answer with this HTTP status (e.g. 500, 502, 429). */
  status?: number;
  /** With `status`: a Retry-After header (seconds or an HTTP date), as a rate limit or an overloaded server sends. */
  retryAfter?: string;
  /** Answer 200 with a body that is not JSON. */
  malformed?: boolean;
  /** Destroy the connection without an answer. */
  reset?: boolean;
  /** Carry the request out, then destroy the connection instead of answering (the answer is lost). */
  lostAnswer?: boolean;
  /** Take the request and never answer it, as a server that hangs or a black-holed address does; close() ends the connection. */
  noAnswer?: boolean;
  /** Only requests whose path starts with this (under /api/v1). */
  pathPrefix?: string;
  /** Only requests with this method, e.g. "POST". */
  method?: string;
  /** How many requests to affect; absent: until cleared. */
  count?: number;
}

export interface FakeForgejoOptions {
  version?: string;
  tokens?: Record<string, FakeToken>;
  /** Organizations and their owners. */
  organizations?: Record<string, { owners: string[] }>;
  /** Repositories "owner/name" (the owner a user or an organization). */
  repositories?: string[];
}

interface Scope {
  kind: "organization" | "repository" | "user" | "instance";
  /** Repository ids the scope covers. */
  repoIds: Set<number>;
  ownerId: number;
  repoId: number;
  area: string;
}

const API = "/api/v1";

export class FakeForgejo {
  readonly version: string;
  readonly tokens = new Map<string, FakeToken>();
  readonly organizations = new Map<string, { id: number; owners: string[] }>();
  readonly users = new Map<string, number>();
  readonly repositories = new Map<string, { id: number; ownerId: number; owner: string }>();
  readonly jobs = new Map<number, FakeJob>();
  readonly runners = new Map<number, FakeRunner>();
  readonly calls: { method: string; route: string; status: number }[] = [];
  /** Ids of runners deleted through the API, recorded when deleted (a call is recorded only once answered). */
  readonly runnersDeletedByApi: number[] = [];
  private faults: Fault[] = [];
  private nextId = { account: 1, repo: 1, job: 1, runner: 1, task: 1 };
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(options: FakeForgejoOptions = {}) {
    this.version = options.version ?? "15.0.1+gitea-1.22.0";
    for (const [token, value] of Object.entries(options.tokens ?? {})) this.addToken(token, value);
    for (const [name, org] of Object.entries(options.organizations ?? {})) this.addOrganization(name, org.owners);
    for (const repo of options.repositories ?? []) this.addRepository(repo);
  }

  addToken(token: string, value: FakeToken): void {
    this.tokens.set(token, value);
    this.userId(value.user);
  }

  addOrganization(name: string, owners: string[]): void {
    this.organizations.set(name, { id: this.nextId.account++, owners });
  }

  addRepository(fullName: string): number {
    const existing = this.repositories.get(fullName);
    if (existing) return existing.id;
    const [owner = ""] = fullName.split("/");
    const ownerId = this.organizations.get(owner)?.id ?? this.userId(owner);
    const id = this.nextId.repo++;
    this.repositories.set(fullName, { id, ownerId, owner });
    return id;
  }

  private userId(name: string): number {
    let id = this.users.get(name);
    if (id === undefined) {
      id = this.nextId.account++;
      this.users.set(name, id);
    }
    return id;
  }

  // ---- control API (also exposed over HTTP under /_fake) ----

  enqueueJob(input: { repository: string; name?: string; runs_on: string[]; needs?: string[] | null; blocked?: boolean }): FakeJob {
    const repoId = this.addRepository(input.repository);
    const repo = this.repositories.get(input.repository)!;
    const job: FakeJob = {
      id: this.nextId.job++,
      attempt: 1,
      handle: randomUUID(),
      repo_id: repoId,
      owner_id: repo.ownerId,
      name: input.name ?? "build",
      needs: input.needs ?? null,
      runs_on: input.runs_on,
      task_id: 0,
      status: input.blocked ? "blocked" : "waiting",
    };
    this.jobs.set(job.id, job);
    return job;
  }

  /** What `forgejo-runner one-job --handle` achieves: the runner is handed exactly that job attempt. */
  assignJob(jobId: number, runnerRef: { id?: number; uuid?: string }, handle: string, labels: string[] = []): FakeJob {
    const job = this.job(jobId);
    const runner = [...this.runners.values()].find((r) => r.id === runnerRef.id || r.uuid === runnerRef.uuid);
    if (!runner) throw new FakeError(404, "runner not found");
    if (job.status !== "waiting") throw new FakeError(409, `job ${jobId} is ${job.status}, not waiting`);
    if (job.handle !== handle) throw new FakeError(409, `job ${jobId} has another handle (a re-run makes a new one)`);
    if (runner.ephemeral && runner.jobIds.length > 0) throw new FakeError(409, `ephemeral runner ${runner.id} already had a job`);
    // A repository's runner takes only its jobs, an owner's only its repositories' jobs, an instance runner any.
    if (runner.repo_id !== 0 ? runner.repo_id !== job.repo_id : runner.owner_id !== 0 && runner.owner_id !== job.owner_id)
      throw new FakeError(409, `runner ${runner.id} is not registered for the repository of job ${jobId}`);
    if (!job.runs_on.every((label) => labels.length === 0 || labels.includes(label)))
      throw new FakeError(409, "runner labels do not match runs-on");
    job.status = "running";
    job.task_id = this.nextId.task++;
    job.runnerId = runner.id;
    runner.jobIds.push(job.id);
    runner.status = "active";
    if (labels.length > 0) runner.labels = labels;
    return job;
  }

  finishJob(jobId: number, result: "success" | "failure" | "cancelled" = "success"): FakeJob {
    const job = this.job(jobId);
    if (job.status !== "running") throw new FakeError(409, `job ${jobId} is ${job.status}, not running`);
    job.status = result;
    this.releaseRunner(job);
    return job;
  }

  cancelJob(jobId: number): FakeJob {
    const job = this.job(jobId);
    job.status = "cancelled";
    this.releaseRunner(job);
    return job;
  }

  /** A re-run: a new attempt with a new handle, waiting again. */
  rerunJob(jobId: number): FakeJob {
    const job = this.job(jobId);
    this.releaseRunner(job);
    Object.assign(job, { attempt: job.attempt + 1, handle: randomUUID(), status: "waiting", task_id: 0, runnerId: undefined });
    return job;
  }

  /**
   * As after Forgejo's database was restored from a backup taken before runner `id` registered:
   * another runner, registered since the restore, has its id (a uuid, token, name and description of
   * its own; the description carries the identity of whoever registered it).
   */
  giveRunnerIdToAnother(id: number, registered: { name: string; description: string }): FakeRunner {
    const earlier = this.runners.get(id);
    if (!earlier) throw new FakeError(404, `runner ${id} not found`);
    const other: FakeRunner = {
      ...earlier,
      uuid: randomUUID(),
      token: randomUUID().replaceAll("-", ""),
      ...registered,
      status: "offline",
      jobIds: [],
    };
    this.runners.set(id, other);
    return other;
  }

  unblockJob(jobId: number): FakeJob {
    const job = this.job(jobId);
    if (job.status === "blocked") job.status = "waiting";
    return job;
  }

  /** The stored fault: its `count` shows how many requests it still affects. */
  addFault(fault: Fault): Fault {
    const stored = { ...fault };
    this.faults.push(stored);
    return stored;
  }

  clearFaults(): void {
    this.faults = [];
  }

  callCount(method?: string, routePrefix?: string): number {
    return this.calls.filter((c) => (!method || c.method === method) && (!routePrefix || c.route.startsWith(routePrefix))).length;
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  private job(jobId: number): FakeJob {
    const job = this.jobs.get(jobId);
    if (!job) throw new FakeError(404, `job ${jobId} not found`);
    return job;
  }

  /** Forgejo deletes an ephemeral runner when its job ends, is cancelled or is re-run. */
  private releaseRunner(job: FakeJob): void {
    if (job.runnerId === undefined) return;
    const runner = this.runners.get(job.runnerId);
    if (runner?.ephemeral) this.runners.delete(runner.id);
    else if (runner) runner.status = "idle";
  }

  // ---- HTTP ----

  app(): express.Express {
    const app = express();
    app.disable("x-powered-by");
    app.use(express.json({ limit: "1mb" }));
    app.use(API, (req, res, next) => this.recordAndInjectFaults(req, res, next));

    app.get(`${API}/version`, (req, res) => {
      if (!this.authenticate(req, res)) return;
      res.json({ version: this.version });
    });

    const jobsRoutes = [
      `${API}/orgs/:org/actions/runners/jobs`,
      `${API}/repos/:owner/:repo/actions/runners/jobs`,
      `${API}/user/actions/runners/jobs`,
      `${API}/admin/actions/runners/jobs`,
      `${API}/admin/runners/jobs`,
    ];
    app.get(jobsRoutes, (req, res) => {
      const scope = this.authorize(req, res, "read");
      if (!scope) return;
      const raw = req.query.labels;
      let jobs = [...this.jobs.values()].filter((j) => scope.repoIds.has(j.repo_id) && (j.status === "waiting" || j.status === "running"));
      if (typeof raw === "string") {
        // One value, split on commas, trimmed only as a whole: "a, b" yields "a" and " b".
        const wanted = raw.trim() === "" ? [] : raw.trim().split(",");
        jobs = jobs.filter((j) => j.runs_on.every((label) => wanted.includes(label)));
      }
      jobs.sort((a, b) => b.id - a.id);
      res.json(jobs.length === 0 ? null : jobs.map(({ runnerId: _runnerId, ...job }) => job));
    });

    const runnersRoutes = [
      `${API}/orgs/:org/actions/runners`,
      `${API}/repos/:owner/:repo/actions/runners`,
      `${API}/user/actions/runners`,
      `${API}/admin/actions/runners`,
    ];
    app.get(runnersRoutes, (req, res) => {
      const scope = this.authorize(req, res, "read");
      if (!scope) return;
      const page = Math.max(1, Number(req.query.page ?? 1));
      const limit = Math.max(1, Math.min(50, Number(req.query.limit ?? 30)));
      const all = this.runnersOf(scope);
      res.setHeader("X-Total-Count", String(all.length));
      res.json(all.slice((page - 1) * limit, page * limit).map(publicRunner));
    });
    app.post(runnersRoutes, (req, res) => {
      const scope = this.authorize(req, res, "write");
      if (!scope) return;
      const body = (req.body ?? {}) as { name?: unknown; description?: unknown; ephemeral?: unknown };
      if (typeof body.name !== "string" || body.name === "") {
        res.status(422).json({ message: "[Name]: Required" });
        return;
      }
      const runner: FakeRunner = {
        id: this.nextId.runner++,
        uuid: randomUUID(),
        token: randomUUID().replaceAll("-", ""),
        name: body.name,
        description: typeof body.description === "string" ? body.description : "",
        ephemeral: body.ephemeral === true,
        owner_id: scope.ownerId,
        repo_id: scope.repoId,
        status: "offline",
        labels: [],
        version: "",
        jobIds: [],
      };
      this.runners.set(runner.id, runner);
      res.status(201).json({ id: runner.id, uuid: runner.uuid, token: runner.token });
    });
    app.get(
      runnersRoutes.map((r) => `${r}/:id`),
      (req, res) => {
        const scope = this.authorize(req, res, "read");
        if (!scope) return;
        const runner = this.runnerIn(scope, Number(req.params.id));
        if (!runner) res.status(404).json({ message: "runner not found" });
        else res.json(publicRunner(runner));
      },
    );
    app.delete(
      runnersRoutes.map((r) => `${r}/:id`),
      (req, res) => {
        const scope = this.authorize(req, res, "write");
        if (!scope) return;
        const runner = this.runnerIn(scope, Number(req.params.id));
        if (!runner) {
          res.status(404).json({ message: "runner not found" });
          return;
        }
        this.runners.delete(runner.id);
        this.runnersDeletedByApi.push(runner.id);
        res.status(204).end();
      },
    );

    this.controlRoutes(app);
    app.use((req: Request, res: Response) => res.status(404).json({ message: `fake forgejo: no route ${req.method} ${req.path}` }));
    app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
      const status = error instanceof FakeError ? error.status : 500;
      res.status(status).json({ message: error.message });
    });
    return app;
  }

  private controlRoutes(app: express.Express): void {
    const id = (req: Request) => Number(req.params.id);
    app.post("/_fake/jobs", (req, res) => res.status(201).json(this.enqueueJob(req.body)));
    app.post("/_fake/jobs/:id/assign", (req, res) => res.json(this.assignJob(id(req), req.body.runner, req.body.handle, req.body.labels)));
    app.post("/_fake/jobs/:id/finish", (req, res) => res.json(this.finishJob(id(req), req.body?.result)));
    app.post("/_fake/jobs/:id/cancel", (req, res) => res.json(this.cancelJob(id(req))));
    app.post("/_fake/jobs/:id/rerun", (req, res) => res.json(this.rerunJob(id(req))));
    app.post("/_fake/jobs/:id/unblock", (req, res) => res.json(this.unblockJob(id(req))));
    app.post("/_fake/faults", (req, res) => {
      this.addFault(req.body);
      res.status(204).end();
    });
    app.delete("/_fake/faults", (_req, res) => {
      this.clearFaults();
      res.status(204).end();
    });
    app.get("/_fake/state", (_req, res) =>
      res.json({ jobs: [...this.jobs.values()], runners: [...this.runners.values()].map(publicRunner) }),
    );
    app.get("/_fake/calls", (_req, res) => res.json(this.calls));
    app.delete("/_fake/calls", (_req, res) => {
      this.resetCalls();
      res.status(204).end();
    });
  }

  private recordAndInjectFaults(req: Request, res: Response, next: NextFunction): void {
    const route = `${API}${req.path}`;
    res.on("finish", () => this.calls.push({ method: req.method, route, status: res.statusCode }));
    const fault = this.faults.find(
      (f) =>
        (f.count === undefined || f.count > 0) &&
        (!f.pathPrefix || req.path.startsWith(f.pathPrefix)) &&
        (!f.method || f.method === req.method),
    );
    if (!fault) {
      next();
      return;
    }
    if (fault.count !== undefined) fault.count--;
    if (fault.noAnswer) {
      req.socket.once("close", () => this.calls.push({ method: req.method, route, status: 0 }));
      return;
    }
    setTimeout(() => {
      if (fault.reset) {
        this.calls.push({ method: req.method, route, status: 0 });
        req.socket.destroy();
      } else if (fault.lostAnswer) {
        res.end = (() => {
          this.calls.push({ method: req.method, route, status: 0 });
          req.socket.destroy();
          return res;
        }) as Response["end"];
        next();
      } else if (fault.status) {
        if (fault.retryAfter !== undefined) res.set("retry-after", fault.retryAfter);
        res.status(fault.status).json({ message: `injected ${fault.status}` });
      } else if (fault.malformed) res.status(200).type("application/json").send('{"truncated": [');
      else next();
    }, fault.latencyMs ?? 0);
  }

  private authenticate(req: Request, res: Response): FakeToken | undefined {
    const header = req.get("authorization") ?? "";
    const token = this.tokens.get(header.replace(/^token\s+/i, ""));
    if (!header.toLowerCase().startsWith("token ") || !token) {
      res.status(401).json({ message: "user does not exist [uid: 0, name: ]" });
      return undefined;
    }
    return token;
  }

  /** Resolves the scope of the path and checks the token's scopes and the user's rights over it. */
  private authorize(req: Request, res: Response, access: "read" | "write"): Scope | undefined {
    const token = this.authenticate(req, res);
    if (!token) return undefined;
    let scope: Scope;
    let allowed: boolean;
    if (req.params.org !== undefined) {
      const org = this.organizations.get(String(req.params.org));
      if (!org) {
        res.status(404).json({ message: "GetOrgByName" });
        return undefined;
      }
      const repoIds = new Set([...this.repositories.values()].filter((r) => r.ownerId === org.id).map((r) => r.id));
      scope = { kind: "organization", repoIds, ownerId: org.id, repoId: 0, area: "organization" };
      allowed = org.owners.includes(token.user) || token.admin === true;
    } else if (req.params.owner !== undefined) {
      const repo = this.repositories.get(`${String(req.params.owner)}/${String(req.params.repo)}`);
      if (!repo) {
        res.status(404).json({ message: "GetRepositoryByName" });
        return undefined;
      }
      scope = { kind: "repository", repoIds: new Set([repo.id]), ownerId: 0, repoId: repo.id, area: "repository" };
      allowed =
        repo.owner === token.user || this.organizations.get(repo.owner)?.owners.includes(token.user) === true || token.admin === true;
    } else if (req.path.startsWith(`${API}/user/`)) {
      const userId = this.userId(token.user);
      const repoIds = new Set([...this.repositories.values()].filter((r) => r.ownerId === userId).map((r) => r.id));
      scope = { kind: "user", repoIds, ownerId: userId, repoId: 0, area: "user" };
      allowed = true;
    } else {
      scope = {
        kind: "instance",
        repoIds: new Set([...this.repositories.values()].map((r) => r.id)),
        ownerId: 0,
        repoId: 0,
        area: "admin",
      };
      allowed = token.admin === true;
    }
    const required = `${access}:${scope.area}`;
    const granted =
      token.scopes.includes("all") ||
      token.scopes.includes(required) ||
      (access === "read" && token.scopes.includes(`write:${scope.area}`));
    if (!granted) {
      res.status(403).json({ message: `token does not have at least one of required scope(s): [${required}]` });
      return undefined;
    }
    if (!allowed) {
      res.status(403).json({ message: "user should be an owner or a site admin" });
      return undefined;
    }
    return scope;
  }

  private runnersOf(scope: Scope): FakeRunner[] {
    return [...this.runners.values()].filter(
      (r) => scope.kind === "instance" || (r.owner_id === scope.ownerId && r.repo_id === scope.repoId),
    );
  }

  private runnerIn(scope: Scope, id: number): FakeRunner | undefined {
    return this.runnersOf(scope).find((r) => r.id === id);
  }

  async listen(port = 0): Promise<string> {
    const server = this.app().listen(port, "127.0.0.1");
    this.server = server;
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export class FakeError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function publicRunner(runner: FakeRunner) {
  const { token: _token, jobIds: _jobIds, ...visible } = runner;
  return visible;
}
