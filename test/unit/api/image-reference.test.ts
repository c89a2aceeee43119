import { imageReferenceProblem } from "../../../src/api/image-reference.ts";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

describe("image references", () => {
  it.each([
    "node:20-bookworm",
    "docker:28-dind",
    "busybox",
    "code.forgejo.org/forgejo/runner:12.8.0",
    "ghcr.io/forgejo-arc/forgejo-arc:0.1.0",
    "localhost:5000/team/runner",
    "registry.example.com:443/a/b:v1.0-rc.1",
    `registry.example.com/a/b@${DIGEST}`,
    `node:20@${DIGEST}`,
    "[::1]:5000/runner:1",
    "my_org/my__app.v2-beta:latest",
    "Registry.Example.com/team/runner:1",
  ])("admits %s", (image) => {
    expect(imageReferenceProblem(image)).toBeUndefined();
  });

  it.each([
    ["Node:20", "repository names are lowercase"],
    ["ghcr.io/Owner/runner:1", "repository names are lowercase"],
    ["node:", "is not an image reference ["],
    [":20", "is not an image reference ["],
    ["node:20 ", "it contains white space"],
    ["node@sha256:abc", "is not an image reference ["],
    ["https://code.example.com/ci/runner:12", "is not an image reference ["],
    ["team/", "is not an image reference ["],
    ["-runner", "is not an image reference ["],
    [`node:${"t".repeat(129)}`, "is not an image reference ["],
    [`${"a".repeat(256)}:1`, "its name is longer than 255 characters"],
  ])("refuses %s: %s", (image, why) => {
    expect(imageReferenceProblem(image)).toContain(why);
  });
});
