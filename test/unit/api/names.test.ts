import { accountNameProblem, repositoryProblem, scopeFieldsOf, scopeProblems } from "../../../src/api/names.ts";
import { scopeFromSpec, scopePrefix, tokenScopeFor } from "../../../src/forgejo/scope.ts";

describe("Forgejo names", () => {
  it.each(["acme", "a", "my-org", "my_org", "my.org", "A1"])("accepts the account name %s", (name) => {
    expect(accountNameProblem(name)).toBeUndefined();
  });
  it.each(["-acme", "acme-", "a--b", "a.-b", "ac me", "ac/me", ""])("refuses the account name %j", (name) => {
    expect(accountNameProblem(name)).toBeDefined();
  });
  it.each(["acme/app", "acme/app.js", "a/.github"])("accepts the repository %s", (name) => {
    expect(repositoryProblem(name)).toBeUndefined();
  });
  it.each(["acme", "acme/", "/app", "a/b/c", "acme/..", "-x/app"])("refuses the repository %j", (name) => {
    expect(repositoryProblem(name)).toBeDefined();
  });
  it("wants exactly one scope", () => {
    expect(scopeProblems({ organization: "acme" })).toEqual([]);
    expect(scopeProblems({})).toHaveLength(1);
    expect(scopeProblems({ organization: "a", repository: "a/b" })).toHaveLength(1);
    expect(scopeProblems({ user: true })).toEqual([]);
    expect(scopeProblems({ instance: true })).toEqual([]);
    expect(scopeProblems({ organization: "a", instance: true })).toEqual([
      "spec: exactly one scope must be set, spec.organization, spec.repository, spec.user or spec.instance, got spec.organization and spec.instance",
    ]);
    expect(scopeProblems({ instance: false })).toContain("spec.instance: must be true when set, got false");
  });

  it("copies only the scope field that is set", () => {
    expect(scopeFieldsOf({ organization: "acme", repository: undefined })).toEqual({ organization: "acme" });
    expect(scopeFieldsOf({ instance: true as const, labels: "x" })).toEqual({ instance: true });
    expect(scopeFieldsOf({ user: true as const })).toEqual({ user: true });
  });

  it("maps the user and instance scopes to Forgejo's prefixes and token scopes", () => {
    expect(scopePrefix(scopeFromSpec({ user: true }))).toBe("user");
    expect(tokenScopeFor(scopeFromSpec({ user: true }), "write")).toBe("write:user");
    expect(scopePrefix(scopeFromSpec({ instance: true }))).toBe("admin");
    expect(tokenScopeFor(scopeFromSpec({ instance: true }), "read")).toBe("read:admin");
  });
});
