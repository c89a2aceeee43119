// Runs `forgejo-arc <role>` as a real child process (Node 24 runs the TypeScript directly).
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { PROJECT_ROOT, freePort } from "../../../scripts/cluster/cluster.ts";

export interface RoleProcess {
  child: ChildProcess;
  port: number;
  output: string[];
  /** Resolves with the first output line containing `text`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<string>;
  /** Sends the signal and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  get(path: string): Promise<{ status: number; text: string }>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
});

export async function startRole(role: string, args: string[], env: Record<string, string>): Promise<RoleProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(PROJECT_ROOT, "src/cli.ts"), role, "--port", String(port), "--host", "127.0.0.1", ...args], {
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const output: string[] = [];
  const waiters: { text: string; resolve: (line: string) => void }[] = [];
  const onLine = (line: string) => {
    if (!line) return;
    output.push(line);
    for (const w of [...waiters]) {
      if (line.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  // Whole lines: a pipe read can end in the middle of one (a busy machine reads less often).
  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", onLine);
  createInterface({ input: child.stderr!, crlfDelay: Infinity }).on("line", onLine);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  exited.then(() => running.delete(child));
  return {
    child,
    port,
    output,
    waitForOutput(text, timeoutMs = 20_000) {
      const seen = output.find((line) => line.includes(text));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no output containing "${text}" within ${timeoutMs} ms; output:\n${output.slice(-20).join("\n")}`)),
          timeoutMs,
        );
        waiters.push({ text, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      });
    },
    async stop(signal = "SIGTERM") {
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await exited;
      return { ...result, ms: Date.now() - started };
    },
    async get(path) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, text: await res.text() };
    },
  };
}
