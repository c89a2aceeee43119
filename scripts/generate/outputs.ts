// Everything `npm run generate` produces: from schemas/ the CRDs, TypeScript types and docs/api.md;
// from src/controller/rbac.ts and src/uninstall/rbac.ts the rules of the chart's ClusterRoles; from
// dashboard.ts the chart's Grafana dashboard.
import { compile } from "json-schema-to-typescript";
import { stringify } from "yaml";
import {
  API_GROUP,
  API_VERSION,
  COMMON_SCHEMA_FILE,
  SCHEMAS_DIR,
  loadSchemas,
  type JsonSchema,
  type KindSchema,
} from "../../src/api/schemas.ts";
import { hashOf } from "../../src/api/naming.ts";
import { CRD_SCHEMA_DIGEST_ANNOTATION } from "../../src/api/well-known.ts";
import { controllerClusterScopedRules, controllerLeaderElectionRules, controllerNamespacedRules } from "../../src/controller/rbac.ts";
import { RUNNER_DEPLOYMENT_POLICIES } from "../../src/uninstall/before-uninstall.ts";
import { beforeUninstallRules } from "../../src/uninstall/rbac.ts";
import { grafanaDashboard } from "./dashboard.ts";
import { dereference, toStructural, type SchemaDocuments } from "./project.ts";

export const REGENERATE_COMMAND = "npm run generate";

interface CrdMeta {
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  printerColumns: { name: string; type: string; jsonPath: string; priority?: number; description?: string }[];
  /** "admission": spec keeps unknown fields for the webhook to reject (see ProjectionOptions). */
  unknownSpecFields?: "prune" | "admission";
}

/** The CRD schema of a kind: spec projected with the kind's unknown-field policy, the rest pruned. */
function crdSchema(kind: KindSchema, documents: SchemaDocuments): JsonSchema {
  const meta = kind.schema["x-crd"] as CrdMeta;
  const schema = toStructural(dereference(kind.schema, kind.file, documents));
  if (meta.unknownSpecFields === "admission") {
    const properties = schema.properties as Record<string, JsonSchema>;
    const authoringSpec = (dereference(kind.schema, kind.file, documents).properties as Record<string, JsonSchema>).spec!;
    properties.spec = toStructural(authoringSpec, "$.spec", { keepUnknownFields: true });
  }
  return schema;
}

function documentsOf(common: JsonSchema, kinds: KindSchema[]): SchemaDocuments {
  return Object.fromEntries([[COMMON_SCHEMA_FILE, common], ...kinds.map((k) => [k.file, k.schema])]);
}

export function crdFor(kind: KindSchema, documents: SchemaDocuments): JsonSchema {
  const meta = kind.schema["x-crd"] as CrdMeta;
  const openAPIV3Schema = crdSchema(kind, documents);
  const spec = {
    group: API_GROUP,
    scope: "Namespaced",
    names: {
      kind: kind.kind,
      listKind: `${kind.kind}List`,
      plural: meta.plural,
      singular: meta.singular,
      shortNames: meta.shortNames,
      categories: meta.categories,
    },
    versions: [
      {
        name: API_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: meta.printerColumns,
        schema: { openAPIV3Schema },
      },
    ],
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${meta.plural}.${API_GROUP}`,
      labels: { "app.kubernetes.io/name": "forgejo-arc", "app.kubernetes.io/component": "crd" },
      // The controller compares it with CRD_SCHEMA_DIGESTS (src/generated/crds.ts): a CRD Helm did not upgrade.
      annotations: { "helm.sh/resource-policy": "keep", [CRD_SCHEMA_DIGEST_ANNOTATION]: hashOf(spec) },
    },
    spec,
  };
}

/** src/generated/crds.ts: each CRD's name and the digest of the spec this code was generated with. */
export function crdDigestsSource(kinds: KindSchema[], documents: SchemaDocuments): string {
  const digests = Object.fromEntries(
    kinds.map((kind) => {
      const crd = crdFor(kind, documents) as { metadata: { name: string; annotations: Record<string, string> } };
      return [crd.metadata.name, crd.metadata.annotations[CRD_SCHEMA_DIGEST_ANNOTATION]!];
    }),
  );
  const entries = Object.entries(digests).map(([name, digest]) => `  "${name}": "${digest}",`);
  return [
    banner("//", "schemas/*.schema.json").trimEnd(),
    "",
    "/** Each CRD's name and the digest of its spec (annotation forgejo.actions.io/schema-digest). */",
    "export const CRD_SCHEMA_DIGESTS: Readonly<Record<string, string>> = {",
    ...entries,
    "};",
    "",
  ].join("\n");
}

function banner(prefix: string, source: string): string {
  return `${prefix} Generated from ${source} by \`${REGENERATE_COMMAND}\`. Do not edit: change the schema and regenerate.\n`;
}

export function crdYaml(kind: KindSchema, documents: SchemaDocuments): string {
  return banner("#", `schemas/${kind.file}`) + stringify(crdFor(kind, documents), { lineWidth: 0 });
}

export async function typesSource(kinds: KindSchema[]): Promise<string> {
  const root: JsonSchema = {
    title: "ForgejoArcResources",
    description: "Every forgejo-arc custom resource.",
    type: "object",
    additionalProperties: false,
    properties: Object.fromEntries(kinds.map((k) => [k.kind, { $ref: k.file }])),
  };
  const source = await compile(root, "ForgejoArcResources", {
    cwd: SCHEMAS_DIR,
    bannerComment: banner("//", "schemas/*.schema.json").trimEnd(),
    additionalProperties: false,
    declareExternallyReferenced: true,
    unreachableDefinitions: false,
    style: { printWidth: 120 },
  });
  return source;
}

function typeLabel(schema: JsonSchema): string {
  // Closed objects keep unknown fields too (for the webhook's typo check); only the PodSpec has no properties.
  if (schema["x-kubernetes-preserve-unknown-fields"] && !schema.properties) return "object (PodSpec)";
  const type = String(schema.type);
  if (type === "array") return `array of ${String((schema.items as JsonSchema | undefined)?.type ?? "any")}`;
  if (schema.format) return `${type} (${String(schema.format)})`;
  return type;
}

function constraintsOf(schema: JsonSchema): string {
  const parts: string[] = [];
  if (schema.enum) parts.push(`one of ${(schema.enum as string[]).join(", ")}`);
  if (schema.minimum !== undefined) parts.push(`≥ ${String(schema.minimum)}`);
  if (schema.maximum !== undefined) parts.push(`≤ ${String(schema.maximum)}`);
  if (schema.pattern) parts.push(`pattern \`${String(schema.pattern)}\``);
  if (schema.maxLength !== undefined) parts.push(`max length ${String(schema.maxLength)}`);
  return parts.join("; ");
}

function fieldRows(schema: JsonSchema, path: string, required: boolean, rows: string[]): void {
  const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");
  const defaultValue = schema.default === undefined ? "" : `\`${JSON.stringify(schema.default)}\``;
  rows.push(
    `| \`${path}\` | ${typeLabel(schema)}${required ? ", required" : ""} | ${defaultValue} | ${cell(
      [String(schema.description ?? ""), constraintsOf(schema)].filter(Boolean).join(" — "),
    )} |`,
  );
  const requiredChildren = new Set((schema.required as string[] | undefined) ?? []);
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  for (const [name, child] of Object.entries(properties ?? {})) {
    fieldRows(child, `${path}.${name}`, requiredChildren.has(name), rows);
  }
  const items = schema.items as JsonSchema | undefined;
  if (items?.properties) {
    for (const [name, child] of Object.entries(items.properties as Record<string, JsonSchema>)) {
      fieldRows(child, `${path}[].${name}`, ((items.required as string[] | undefined) ?? []).includes(name), rows);
    }
  }
}

export function apiDoc(kinds: KindSchema[], documents: SchemaDocuments): string {
  const out: string[] = [
    `<!-- ${banner("", "schemas/*.schema.json").trim()} -->`,
    "",
    "# API reference: forgejo.actions.io/v1alpha1",
    "",
    "Both resources are namespaced. `kubectl explain runnerdeployment.spec` shows the same descriptions.",
    "Rules marked *CEL* are enforced by the API server itself; the admission webhook adds the rest",
    "(see [webhooks](webhooks.md)).",
    "",
  ];
  for (const kind of kinds) {
    const meta = kind.schema["x-crd"] as CrdMeta;
    const schema = crdSchema(kind, documents);
    out.push(`## ${kind.kind} (\`${meta.shortNames.join("`, `")}\`)`, "", String(kind.schema.description), "");
    for (const part of ["metadata", "spec", "status"]) {
      const partSchema = (schema.properties as Record<string, JsonSchema>)[part]!;
      if (!partSchema.properties) continue; // metadata: only where the schema restricts it
      out.push(`### ${part}`, "", "| Field | Type | Default | Description |", "| --- | --- | --- | --- |");
      const rows: string[] = [];
      for (const [name, child] of Object.entries(partSchema.properties as Record<string, JsonSchema>)) {
        fieldRows(child, `${part}.${name}`, ((partSchema.required as string[] | undefined) ?? []).includes(name), rows);
      }
      out.push(...rows, "");
      const rules = (partSchema["x-kubernetes-validations"] as { rule: string; message: string }[] | undefined) ?? [];
      if (rules.length > 0) {
        out.push(`CEL rules on \`${part}\`:`, "", ...rules.map((r) => `- ${r.message} (\`${r.rule}\`)`), "");
      }
    }
  }
  return out.join("\n");
}

/** Every generated file, by path relative to the project root. */
export async function generatedFiles(): Promise<Map<string, string>> {
  const { common, kinds } = loadSchemas();
  const documents = documentsOf(common, kinds);
  const files = new Map<string, string>();
  for (const kind of kinds) {
    files.set(`chart/forgejo-arc/crds/${kind.kind.toLowerCase()}s.yaml`, crdYaml(kind, documents));
  }
  files.set("src/generated/api.ts", await typesSource(kinds));
  files.set("src/generated/crds.ts", crdDigestsSource(kinds, documents));
  files.set("docs/api.md", apiDoc(kinds, documents));
  const rules = (source: string, call: string, list: unknown[]) =>
    banner("#", source).replace("change the schema", `change ${call}`) + stringify(list, { lineWidth: 0 });
  const controllerRbac = "src/controller/rbac.ts";
  files.set(
    "chart/forgejo-arc/files/controller-namespaced-rules.yaml",
    rules(controllerRbac, "controllerNamespacedRules()", controllerNamespacedRules()),
  );
  files.set(
    "chart/forgejo-arc/files/controller-cluster-rules.yaml",
    rules(controllerRbac, "controllerClusterScopedRules()", controllerClusterScopedRules()),
  );
  files.set(
    "chart/forgejo-arc/files/leader-election-rules.yaml",
    rules(controllerRbac, "controllerLeaderElectionRules()", controllerLeaderElectionRules()),
  );
  for (const policy of RUNNER_DEPLOYMENT_POLICIES) {
    files.set(
      `chart/forgejo-arc/files/before-uninstall-${policy}-rules.yaml`,
      rules("src/uninstall/rbac.ts", `beforeUninstallRules("${policy}")`, beforeUninstallRules(policy)),
    );
  }
  files.set("chart/forgejo-arc/files/grafana-dashboard.json", `${JSON.stringify(grafanaDashboard(), null, 2)}\n`);
  return files;
}
