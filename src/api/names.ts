// Forgejo account and repository names, and the scope a resource serves.

// Forgejo user and organization names: letters, digits, "-", "_" and "."; they start and end with a
// letter or digit and never hold two punctuation characters in a row.
const ACCOUNT_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9]))*$/;
const REPOSITORY_NAME = /^[A-Za-z0-9_.-]+$/;

export function accountNameProblem(name: string): string | undefined {
  if (name.length > 40) return "must be at most 40 characters";
  if (!ACCOUNT_NAME.test(name)) {
    return 'must contain only letters, digits, "-", "_" and ".", start and end with a letter or digit, and not repeat punctuation';
  }
  return undefined;
}

export function repositoryProblem(fullName: string): string | undefined {
  const [owner = "", name = "", ...extra] = fullName.split("/");
  if (extra.length > 0 || !name) return 'must be "owner/name"';
  const ownerProblem = accountNameProblem(owner);
  if (ownerProblem) return `owner "${owner}" ${ownerProblem}`;
  if (name.length > 100 || !REPOSITORY_NAME.test(name) || name === "." || name === "..") {
    return `name "${name}" must be at most 100 letters, digits, "-", "_" and "."`;
  }
  return undefined;
}

export interface ScopeFields {
  organization?: string;
  repository?: string;
  /** The token's user: true or absent. */
  user?: boolean;
  /** The whole instance (a site administrator's token): true or absent. */
  instance?: boolean;
}

export const SCOPE_FIELDS = ["organization", "repository", "user", "instance"] as const;

/** Only the scope field that is set, e.g. { instance: true }: what an ActRunner copies from its RunnerDeployment. */
export function scopeFieldsOf<T extends ScopeFields>(spec: T): Pick<T, (typeof SCOPE_FIELDS)[number]> {
  return Object.fromEntries(SCOPE_FIELDS.filter((field) => spec[field] !== undefined).map((field) => [field, spec[field]])) as Pick<
    T,
    (typeof SCOPE_FIELDS)[number]
  >;
}

/** Problems with a resource's scope fields, each naming the field, e.g. "spec.organization: …". */
export function scopeProblems(spec: ScopeFields): string[] {
  const problems: string[] = [];
  const set = SCOPE_FIELDS.filter((field) => spec[field] !== undefined);
  if (set.length !== 1) {
    const got = set.length === 0 ? "none" : set.map((field) => `spec.${field}`).join(" and ");
    problems.push(`spec: exactly one scope must be set, spec.organization, spec.repository, spec.user or spec.instance, got ${got}`);
  }
  for (const field of ["user", "instance"] as const)
    if (spec[field] !== undefined && spec[field] !== true)
      problems.push(`spec.${field}: must be true when set, got ${String(spec[field])}`);
  if (typeof spec.organization === "string") {
    const problem = accountNameProblem(spec.organization);
    if (problem) problems.push(`spec.organization: ${problem}, got "${spec.organization}"`);
  }
  if (typeof spec.repository === "string") {
    const problem = repositoryProblem(spec.repository);
    if (problem) problems.push(`spec.repository: ${problem}, got "${spec.repository}"`);
  }
  return problems;
}
