// Where a RunnerDeployment's jobs and runners live in Forgejo's API. All scopes share the same
// endpoints under different prefixes (forgejo.md, "Waiting jobs" and "Runners over REST").
import type { ScopeFields } from "../api/names.ts";

export type ForgejoScope =
  | { kind: "organization"; organization: string }
  | { kind: "repository"; owner: string; repository: string }
  | { kind: "user" }
  | { kind: "instance" };

export function scopeFromSpec(spec: ScopeFields): ForgejoScope {
  if (spec.organization) return { kind: "organization", organization: spec.organization };
  if (spec.repository) {
    const [owner = "", repository = ""] = spec.repository.split("/");
    return { kind: "repository", owner, repository };
  }
  if (spec.user === true) return { kind: "user" };
  if (spec.instance === true) return { kind: "instance" };
  throw new Error("spec: exactly one scope must be set, spec.organization, spec.repository, spec.user or spec.instance");
}

/** The API path prefix, e.g. "orgs/acme" or "repos/acme/app". */
export function scopePrefix(scope: ForgejoScope): string {
  switch (scope.kind) {
    case "organization":
      return `orgs/${encodeURIComponent(scope.organization)}`;
    case "repository":
      return `repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repository)}`;
    case "user":
      return "user";
    case "instance":
      return "admin";
  }
}

/** The token scope a call needs, e.g. "read:organization"; named in 403 errors. */
export function tokenScopeFor(scope: ForgejoScope, access: "read" | "write"): string {
  const area = { organization: "organization", repository: "repository", user: "user", instance: "admin" }[scope.kind];
  return `${access}:${area}`;
}

export function describeScope(scope: ForgejoScope): string {
  switch (scope.kind) {
    case "organization":
      return `organization ${scope.organization}`;
    case "repository":
      return `repository ${scope.owner}/${scope.repository}`;
    case "user":
      return "the token's user";
    case "instance":
      return "the instance";
  }
}
