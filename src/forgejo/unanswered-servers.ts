// Calls to a Forgejo server that stopped answering fail at once for a while instead of each waiting
// out its timeout. In the controller a call holds one of the few workers that every
// RunnerDeployment shares: one server that takes requests and never answers (a host behind a
// firewall that drops packets, a hung Forgejo) would otherwise keep every worker waiting on its
// ActRunners and hold up the runners of all the others.
import { ForgejoError } from "./errors.ts";

/** A failed call that held its caller this long without an answer counts as unanswered (a timeout always does). */
export const SLOW_FAILURE_MS = 2_000;

export interface UnansweredServersOptions {
  /** How long calls fail at once after one went unanswered; doubled each time a trial call goes unanswered too. */
  quietMs?: number;
  maxQuietMs?: number;
  now?: () => number;
  /** A server stopped answering (`until`: when a trial call goes out), or answers again. */
  onChange?: (change: { server: string; answering: boolean; until?: Date; cause?: ForgejoError }) => void;
}

/** A call not sent because its server answers no call: not worth trying again within the same call. */
export class NotSentError extends ForgejoError {}

interface Silence {
  /** When the first unanswered call of this spell failed, and how. */
  since: number;
  cause: ForgejoError;
  quietMs: number;
  /** Calls before this fail at once; the first one after it is the trial. */
  until: number;
  trial: boolean;
}

export class UnansweredServers {
  private readonly silences = new Map<string, Silence>();
  private readonly quietMs: number;
  private readonly maxQuietMs: number;
  private readonly now: () => number;
  private readonly onChange: UnansweredServersOptions["onChange"];

  constructor(options: UnansweredServersOptions = {}) {
    this.quietMs = options.quietMs ?? 10_000;
    this.maxQuietMs = options.maxQuietMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.onChange = options.onChange;
  }

  /**
   * Before a call to `server` (the origin of its URL): throws the error the call fails
   * with while the server answers nothing; true when this call is the trial that may end that.
   */
  admit(server: string, operation: string, target: string): boolean {
    const silence = this.silences.get(server);
    if (!silence) return false;
    const now = this.now();
    if (!silence.trial && now >= silence.until) {
      silence.trial = true;
      return true;
    }
    throw new NotSentError(
      silence.cause.kind,
      operation,
      `${target} on ${server}: not sent: ${server} has answered no call since ${new Date(silence.since).toISOString()} (${silence.cause.message}); its calls fail at once until a trial call gets an answer`,
      undefined,
      undefined,
      silence.trial ? undefined : silence.until - now,
    );
  }

  /** After a call to `server`: `unanswered` is its error when it failed without an answer after waiting (see SLOW_FAILURE_MS). */
  settled(server: string, trial: boolean, unanswered?: ForgejoError): void {
    if (!unanswered) return this.heardFrom(server);
    const silence = this.silences.get(server);
    if (silence && !trial) return; // sent before the spell began; a trial is under way or due
    const quietMs = silence ? Math.min(silence.quietMs * 2, this.maxQuietMs) : this.quietMs;
    const now = this.now();
    this.silences.set(server, {
      since: silence?.since ?? now,
      cause: silence?.cause ?? unanswered,
      quietMs,
      until: now + quietMs,
      trial: false,
    });
    if (!silence) this.onChange?.({ server, answering: false, until: new Date(now + quietMs), cause: unanswered });
  }

  /** The server answered, here or elsewhere (the listener's polls): its calls go out again. */
  heardFrom(server: string): void {
    if (!this.silences.delete(server)) return;
    this.onChange?.({ server, answering: true });
  }
}
