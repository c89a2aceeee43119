import { labelNamesQuery, normaliseLabels, parseLabel, parseLabels } from "../../../src/api/labels.ts";

describe("runner labels", () => {
  it.each([
    ["ubuntu", { name: "ubuntu", scheme: "host" }],
    ["ubuntu:host", { name: "ubuntu", scheme: "host" }],
    ["docker:docker", { name: "docker", scheme: "docker" }],
    ["ubuntu-22.04:docker://node:20-bullseye", { name: "ubuntu-22.04", scheme: "docker", image: "node:20-bullseye" }],
    [
      "x:docker://registry.example.com:5000/team/img@sha256:abc",
      { name: "x", scheme: "docker", image: "registry.example.com:5000/team/img@sha256:abc" },
    ],
  ])("parses %s", (raw, expected) => {
    expect(parseLabel(raw)).toEqual({ raw, ...expected });
  });

  it("normalises by trimming each label and dropping empties and repeats", () => {
    expect(normaliseLabels(" a , b,,a ,c:host ")).toBe("a,b,c:host");
  });

  it("joins only the names for Forgejo's query, with no spaces", () => {
    expect(labelNamesQuery(parseLabels("a:host, b:docker://x").labels)).toBe("a,b");
  });

  it("reports every bad label", () => {
    expect(parseLabels("ok,bad name,x:vm").errors).toHaveLength(2);
  });
});
