// What the leading replica knows about Forgejo runners registered for ActRunners whose status does
// not name one yet. Registering (POST …/actions/runners) is the one step a retry cannot repeat
// safely: a second call makes a second runner. So a runner is either recorded in the ActRunner's
// status, or known here, or looked for by its name in Forgejo before anything is registered:
// - `unrecorded`: registered by this replica, credentials kept until the status write names it;
// - `suspects`: ActRunners a runner of their name may exist for that this replica does not know —
//   every unrecorded ActRunner that existed when this replica began to lead (an earlier leader or
//   process may have registered for it and died before its status write), and every ActRunner
//   whose registration call failed without a clear answer (Forgejo may have made the runner).
// A suspect's runners are looked for in a listing of its scope taken after it became suspect, so
// the suspects of a new term share one listing per scope instead of one each.
import { forgejoServerKey } from "../api/overlap.ts";
import { isForgejoError, type ForgejoError, type ForgejoErrorKind } from "../forgejo/errors.ts";
import { scopePrefix, type ForgejoScope } from "../forgejo/scope.ts";
import type { ForgejoRunner } from "../forgejo/types.ts";

export interface RunnerCredentials {
  id: number;
  uuid: string;
  token: string;
}

export interface Unrecorded {
  credentials: RunnerCredentials;
  /** The runner Secret holds these credentials already. */
  stored: boolean;
}

interface Listing {
  /** Sequence number when the listing was requested: it shows every runner registered before. */
  takenAt: number;
  runners: Promise<ForgejoRunner[]>;
}

export class Registrations {
  private readonly unrecorded = new Map<string, Unrecorded>();
  /** uid → sequence number when it became suspect. */
  private readonly suspects = new Map<string, number>();
  /** Per Forgejo scope (server and API prefix), the newest listing of its runners. */
  private readonly listings = new Map<string, Listing>();
  private sequence = 0;

  /** Starts a leadership term: `unrecorded` lists every ActRunner that exists now without a runner in its status. */
  beginTerm(unrecordedUids: Iterable<string>): void {
    this.unrecorded.clear();
    this.suspects.clear();
    this.listings.clear();
    const now = ++this.sequence;
    for (const uid of unrecordedUids) this.suspects.set(uid, now);
  }

  /** This replica registered (or adopted) the runner; `stored` once the runner Secret holds it. */
  registered(uid: string, credentials: RunnerCredentials, stored = false): void {
    this.unrecorded.set(uid, { credentials, stored });
  }

  /** The runner this replica registered or adopted for the ActRunner and has not yet recorded in its status. */
  unrecordedFor(uid: string): Unrecorded | undefined {
    return this.unrecorded.get(uid);
  }

  isSuspect(uid: string): boolean {
    return this.suspects.has(uid);
  }

  /** A registration call failed in a way that leaves open whether Forgejo made the runner. */
  registrationFailed(uid: string, error: unknown): void {
    if (!isDefiniteRefusal(error)) this.suspects.set(uid, ++this.sequence);
  }

  /** Runners of the scope, from a listing requested after the ActRunner became suspect. */
  async runnersFor(uid: string, scopeKey: string, list: () => Promise<ForgejoRunner[]>): Promise<ForgejoRunner[]> {
    const since = this.suspects.get(uid) ?? this.sequence;
    let listing = this.listings.get(scopeKey);
    if (!listing || listing.takenAt <= since) {
      const fresh: Listing = { takenAt: ++this.sequence, runners: list() };
      this.listings.set(scopeKey, fresh);
      fresh.runners.catch(() => {
        if (this.listings.get(scopeKey) === fresh) this.listings.delete(scopeKey);
      });
      listing = fresh;
    }
    return listing.runners;
  }

  /** The ActRunner's runners were looked for and dealt with. */
  cleared(uid: string): void {
    this.suspects.delete(uid);
  }

  /** The status names the runner now, or the ActRunner is gone. */
  forget(uid: string): void {
    this.unrecorded.delete(uid);
    this.suspects.delete(uid);
  }
}

/** The key of a listing for runnersFor: Forgejo's runners of one scope on one server share one. */
export function listingKey(forgejoServer: string, scope: ForgejoScope): string {
  return `${forgejoServerKey(forgejoServer)}|${scopePrefix(scope)}`;
}

/** The answers (4xx) with which Forgejo refused a call and so made no runner. */
const REFUSALS: ReadonlySet<ForgejoErrorKind> = new Set(["unauthorized", "forbidden", "not_found", "rate_limited", "rejected"]);

function isDefiniteRefusal(error: unknown): error is ForgejoError {
  return isForgejoError(error) && REFUSALS.has(error.kind);
}
