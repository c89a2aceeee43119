import { accountNameProblem, repositoryProblem, scopeProblems } from "../../../src/api/names.ts";

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
  });
});
