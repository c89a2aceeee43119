import { forgejoServerKey, sharedLabelNames, type ListingFields } from "../../../src/api/overlap.ts";

const base: ListingFields = { forgejoServer: "https://code.example.com", organization: "acme", labels: "docker:docker://node:20,gpu:host" };
const spec = (overrides: Partial<ListingFields>): ListingFields => {
  const { organization: _organization, ...rest } = base;
  return { ...(overrides.repository || overrides.user || overrides.instance ? rest : base), ...overrides };
};

describe("sharedLabelNames", () => {
  it("names the label names two RunnerDeployments of one organization share", () => {
    expect(sharedLabelNames(base, spec({ labels: "docker,arm64" }))).toEqual(["docker"]);
    expect(sharedLabelNames(base, spec({ labels: "arm64" }))).toEqual([]);
  });

  it("finds shared jobs between an organization and its repositories, and through the instance", () => {
    expect(sharedLabelNames(base, spec({ repository: "ACME/app" }))).toEqual(["docker", "gpu"]);
    expect(sharedLabelNames(spec({ repository: "acme/app" }), spec({ repository: "acme/APP" }))).toEqual(["docker", "gpu"]);
    expect(sharedLabelNames(spec({ instance: true }), spec({ user: true }))).toEqual(["docker", "gpu"]);
    expect(sharedLabelNames(base, spec({ organization: "Acme" }))).toEqual(["docker", "gpu"]);
  });

  it("keeps apart other organizations, other repositories, other servers and two user scopes", () => {
    expect(sharedLabelNames(base, spec({ organization: "other" }))).toEqual([]);
    expect(sharedLabelNames(base, spec({ repository: "other/app" }))).toEqual([]);
    expect(sharedLabelNames(spec({ repository: "acme/app" }), spec({ repository: "acme/web" }))).toEqual([]);
    expect(sharedLabelNames(base, spec({ forgejoServer: "https://other.example.com" }))).toEqual([]);
    expect(sharedLabelNames(spec({ user: true }), spec({ user: true }))).toEqual([]);
    expect(sharedLabelNames(base, spec({ user: true }))).toEqual([]);
  });
});

describe("forgejoServerKey", () => {
  it("ignores the host's case and trailing slashes, and keeps a path", () => {
    expect(forgejoServerKey("https://Code.Example.com/")).toBe("https://code.example.com");
    expect(forgejoServerKey("https://code.example.com/git//")).toBe("https://code.example.com/git");
    expect(forgejoServerKey("http://code.example.com")).not.toBe(forgejoServerKey("https://code.example.com"));
  });
});
