import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { dereference, toStructural } from "../../../scripts/generate/project.ts";
import { generatedFiles } from "../../../scripts/generate/outputs.ts";
import type { JsonSchema } from "../../../src/api/schemas.ts";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../../..");

describe("schema projection", () => {
  const documents: Record<string, JsonSchema> = {
    "common.json": { definitions: { name: { type: "string", description: "A name.", maxLength: 5 } } },
  };

  it("inlines $refs, folds allOf and lets siblings win", () => {
    const schema = {
      type: "object",
      properties: {
        a: { $ref: "common.json#/definitions/name" },
        b: { allOf: [{ $ref: "common.json#/definitions/name" }], description: "Another name.", default: "x" },
      },
    };
    expect(dereference(schema, "kind.json", documents)).toEqual({
      type: "object",
      properties: {
        a: { type: "string", description: "A name.", maxLength: 5 },
        b: { type: "string", description: "Another name.", maxLength: 5, default: "x" },
      },
    });
  });

  it("drops JSON-Schema-only keywords and turns a null union into nullable", () => {
    const schema = {
      $id: "x",
      title: "T",
      type: "object",
      additionalProperties: false,
      tsType: "X",
      properties: {
        list: { type: ["array", "null"], items: { type: "string" } },
        map: { type: "object", additionalProperties: { type: "string" } },
      },
    };
    expect(toStructural(schema)).toEqual({
      type: "object",
      properties: {
        list: { type: "array", nullable: true, items: { type: "string" } },
        map: { type: "object", additionalProperties: { type: "string" } },
      },
    });
  });

  it("refuses a node without a type, naming its path", () => {
    expect(() => toStructural({ type: "object", properties: { spec: { type: "object", properties: { x: {} } } } })).toThrow(
      "$.spec.x: a CRD schema needs a type",
    );
  });

  it("refuses a dangling $ref, naming it", () => {
    expect(() => dereference({ $ref: "common.json#/definitions/nope" }, "kind.json", documents)).toThrow(
      '$ref "common.json#/definitions/nope" in kind.json',
    );
  });
});

describe("generated CRDs", () => {
  let crds: Record<string, Record<string, any>>;
  beforeAll(async () => {
    const files = await generatedFiles();
    crds = Object.fromEntries(
      ["runnerdeployments", "actrunners"].map((plural) => [plural, parse(files.get(`chart/forgejo-arc/crds/${plural}.yaml`)!)]),
    );
  });

  it.each([
    ["runnerdeployments", "RunnerDeployment", "rd"],
    ["actrunners", "ActRunner", "ar"],
  ])("%s: group, version, names, status subresource", (plural, kind, short) => {
    const crd = crds[plural]!;
    expect(crd.metadata.name).toBe(`${plural}.forgejo.actions.io`);
    expect(crd.spec.names).toMatchObject({ kind, plural, shortNames: [short], categories: ["forgejo-arc"] });
    expect(crd.spec.versions).toHaveLength(1);
    expect(crd.spec.versions[0]).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } });
  });

  it("RunnerDeployment printer columns show scope, labels, waiting, active, max, last poll, ready and age", () => {
    const names = crds.runnerdeployments!.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name);
    expect(names).toEqual([
      "Organization",
      "Repository",
      "User",
      "Instance",
      "Labels",
      "Waiting",
      "Active",
      "Max",
      "Last Poll",
      "Ready",
      "Age",
    ]);
  });

  it("ActRunner printer columns show job id, job name, phase, Kubernetes Job and age", () => {
    const names = crds.actrunners!.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(["Job ID", "Job", "Phase", "Kubernetes Job", "Age"]));
  });

  it("carries the CEL rules: immutable ActRunner spec, one scope, pollInterval bounds", () => {
    const rules = (plural: string) =>
      crds[plural]!.spec.versions[0].schema.openAPIV3Schema.properties.spec["x-kubernetes-validations"].map(
        (r: { rule: string }) => r.rule,
      );
    expect(rules("actrunners")).toContain("self == oldSelf");
    expect(rules("runnerdeployments")).toEqual(
      expect.arrayContaining([expect.stringContaining("exists_one"), expect.stringContaining("duration(self.pollInterval)")]),
    );
  });

  it("keeps pod templates small: the PodSpec is not embedded", () => {
    const template = crds.runnerdeployments!.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.runnerTemplate;
    expect(template.properties.spec).toMatchObject({ type: "object", "x-kubernetes-preserve-unknown-fields": true });
    expect(template.properties.spec.properties).toBeUndefined();
  });

  it("keeps unknown RunnerDeployment spec fields for the webhook, and prunes elsewhere", () => {
    const rdSpec = crds.runnerdeployments!.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(rdSpec["x-kubernetes-preserve-unknown-fields"]).toBe(true);
    expect(rdSpec.properties.tokenSecretRef["x-kubernetes-preserve-unknown-fields"]).toBe(true);
    expect(
      crds.runnerdeployments!.spec.versions[0].schema.openAPIV3Schema.properties.status["x-kubernetes-preserve-unknown-fields"],
    ).toBeUndefined();
    expect(
      crds.actrunners!.spec.versions[0].schema.openAPIV3Schema.properties.spec["x-kubernetes-preserve-unknown-fields"],
    ).toBeUndefined();
  });

  it("describes every field, for kubectl explain", () => {
    const undescribed: string[] = [];
    const walk = (node: Record<string, any>, path: string) => {
      for (const [name, child] of Object.entries<Record<string, any>>(node.properties ?? {})) {
        if (!child.description && name !== "metadata") undescribed.push(`${path}.${name}`);
        walk(child, `${path}.${name}`);
      }
      if (node.items) walk(node.items, `${path}[]`);
    };
    for (const [plural, crd] of Object.entries(crds)) walk(crd.spec.versions[0].schema.openAPIV3Schema, plural);
    expect(undescribed).toEqual([]);
  });
});

describe("generated API reference", () => {
  it("labels only the free-form PodSpec as such, not the closed objects that keep unknown fields for the webhook", async () => {
    const doc = (await generatedFiles()).get("docs/api.md")!;
    expect(doc).toContain("| `spec.tokenSecretRef` | object, required |");
    expect(doc).toContain("| `spec.caBundleConfigMapRef` | object |");
    expect(doc).toContain("| `spec.listenerTemplate.spec` | object (PodSpec) |");
    expect(doc.match(/object \(PodSpec\)/g)).toHaveLength(3);
  });
});

describe("generate:check", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "forgejo-arc-generate-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const generate = (...args: string[]) => run(process.execPath, [join(root, "scripts/generate.ts"), "--root", dir, ...args]);

  it("passes on the committed tree", async () => {
    const { stdout } = await run(process.execPath, [join(root, "scripts/generate.ts")]);
    expect(stdout).toContain("all generated files are current");
  });

  it("fails after a hand edit of any generated file and names the command and each file", async () => {
    await generate("--write");
    await expect(generate()).resolves.toMatchObject({ stdout: expect.stringContaining("all generated files are current") });
    const files = [...(await generatedFiles()).keys()];
    for (const file of files) {
      const path = join(dir, file);
      writeFileSync(path, readFileSync(path, "utf8") + "\n// hand edit\n");
    }
    const failure = await generate().catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1, stderr: expect.stringContaining("run `npm run generate`") });
    for (const file of files) expect((failure as { stderr: string }).stderr).toContain(`  ${file}\n`);
  }, 60_000);
});
