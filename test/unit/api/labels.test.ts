import { labelNamesQuery, normaliseLabels, parseLabel, parseLabels } from "../../../src/api/labels.ts";

const DIGEST = "0123456789abcdef".repeat(4);

describe("runner labels", () => {
  it.each([
    ["ubuntu", { name: "ubuntu", scheme: "host" }],
    ["ubuntu:host", { name: "ubuntu", scheme: "host" }],
    ["docker:docker", { name: "docker", scheme: "docker" }],
    ["ubuntu-22.04:docker://node:20-bullseye", { name: "ubuntu-22.04", scheme: "docker", image: "node:20-bullseye" }],
    [
      `x:docker://registry.example.com:5000/team/img@sha256:${DIGEST}`,
      { name: "x", scheme: "docker", image: `registry.example.com:5000/team/img@sha256:${DIGEST}` },
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

  it("refuses a docker image that a container runtime cannot parse, saying why", () => {
    expect(parseLabel("x:docker://Node:20")).toBe(
      'label "x:docker://Node:20": the image "Node:20" is not an image reference: repository names are lowercase (e.g. "code.example.com/ci/runner:12")',
    );
    expect(parseLabel("x:docker://node:20@sha256:abc")).toMatch(
      /^label "x:docker:\/\/node:20@sha256:abc": the image "node:20@sha256:abc" is not an image reference \[registry/,
    );
  });

  it("reports every bad label", () => {
    expect(parseLabels("ok,bad name,x:vm").errors).toHaveLength(2);
  });
});
