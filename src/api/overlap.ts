// When two RunnerDeployments are listed the same Forgejo jobs: Forgejo lists a job to every runner
// label set that holds all of its runs-on, so two RunnerDeployments whose scopes share repositories
// on one server both list each job that asks only for label names they share.
import type { ActRunner } from "../generated/api.ts";
import { parseLabels } from "./labels.ts";
import type { ScopeFields } from "./names.ts";

export interface ListingFields extends ScopeFields {
  forgejoServer: string;
  labels: string;
}

/** A Forgejo server URL as one key: scheme, host (lower case) and path without trailing slashes. */
export function forgejoServerKey(server: string): string {
  try {
    const url = new URL(server);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    return server;
  }
}

/**
 * One Forgejo job attempt as a key: its server and handle. Not its job id and attempt number, which
 * start again on another server, or on the same one after its database was restored or reset.
 */
export function jobAttemptKey(forgejoServer: string, handle: string): string {
  return `${forgejoServerKey(forgejoServer)} ${handle}`;
}

/** The job attempt an ActRunner is for (jobAttemptKey). */
export function actRunnerAttemptKey(ar: Pick<ActRunner, "spec">): string {
  return jobAttemptKey(ar.spec.forgejoServer, ar.spec.jobHandle);
}

/**
 * The label names through which both RunnerDeployments list the same jobs; empty when their jobs
 * never meet. Two `user` scopes are taken as apart (their tokens' users are not known here).
 */
export function sharedLabelNames(a: ListingFields, b: ListingFields): string[] {
  if (forgejoServerKey(a.forgejoServer) !== forgejoServerKey(b.forgejoServer) || !scopesMeet(a, b)) return [];
  const namesOfB = new Set(parseLabels(b.labels).labels.map((label) => label.name));
  return parseLabels(a.labels)
    .labels.map((label) => label.name)
    .filter((name) => namesOfB.has(name));
}

/** Whether some repository's jobs are in both scopes. Forgejo owner and repository names ignore case. */
function scopesMeet(a: ScopeFields, b: ScopeFields): boolean {
  if (a.instance === true || b.instance === true) return true;
  const owner = (spec: ScopeFields) => (spec.organization ?? spec.repository?.split("/")[0])?.toLowerCase();
  if (owner(a) === undefined || owner(a) !== owner(b)) return false;
  return a.repository === undefined || b.repository === undefined || a.repository.toLowerCase() === b.repository.toLowerCase();
}
