// Turns an authoring JSON Schema into a structural CRD schema: $refs inlined, allOf folded,
// JSON-Schema-only keywords dropped, `type` everywhere, ["x", "null"] turned into nullable.
import type { JsonSchema } from "../../src/api/schemas.ts";

export type SchemaDocuments = Record<string, JsonSchema>;

const DROPPED_KEYWORDS = new Set(["$schema", "$id", "title", "tsType", "x-crd", "definitions", "examples"]);

function isObject(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Follows a `$ref` such as "common.schema.json#/definitions/x" or "#/definitions/x". */
export function resolveRef(ref: string, currentFile: string, documents: SchemaDocuments): { file: string; schema: JsonSchema } {
  const [filePart, pointer = ""] = ref.split("#");
  const file = filePart || currentFile;
  const document = documents[file];
  if (!document) throw new Error(`$ref "${ref}" in ${currentFile}: no schema file ${file}`);
  let node: unknown = document;
  for (const segment of pointer.split("/").filter(Boolean)) {
    node = isObject(node) ? node[segment] : undefined;
  }
  if (!isObject(node)) throw new Error(`$ref "${ref}" in ${currentFile}: nothing at ${pointer}`);
  return { file, schema: node };
}

/** Inlines every $ref and folds allOf, so the result no longer depends on other documents. */
export function dereference(schema: JsonSchema, file: string, documents: SchemaDocuments): JsonSchema {
  let node: JsonSchema = { ...schema };
  let nodeFile = file;
  if (typeof node.$ref === "string") {
    const target = resolveRef(node.$ref, file, documents);
    const { $ref: _ref, ...siblings } = node;
    node = { ...dereference(target.schema, target.file, documents), ...siblings };
    nodeFile = target.file;
  }
  if (Array.isArray(node.allOf)) {
    const { allOf, ...siblings } = node;
    const folded = (allOf as JsonSchema[]).reduce<JsonSchema>(
      (merged, part) => ({ ...merged, ...dereference(part, nodeFile, documents) }),
      {},
    );
    node = { ...folded, ...siblings };
  }
  const result: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "properties" && isObject(value)) {
      result[key] = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [name, dereference(child as JsonSchema, nodeFile, documents)]),
      );
    } else if ((key === "items" || key === "additionalProperties") && isObject(value)) {
      result[key] = dereference(value, nodeFile, documents);
    } else {
      result[key] = value;
    }
  }
  return result;
}

export interface ProjectionOptions {
  /**
   * Closed objects (additionalProperties: false) keep unknown fields instead of having them pruned,
   * so the validating webhook sees a typo and rejects it by name. The API server prunes before
   * admission, so without this a misspelt field would vanish with at most a warning.
   */
  keepUnknownFields?: boolean;
}

/** Projects a dereferenced authoring schema onto what a CRD's openAPIV3Schema accepts. */
export function toStructural(schema: JsonSchema, path = "$", options: ProjectionOptions = {}): JsonSchema {
  const result: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED_KEYWORDS.has(key)) continue;
    if (key === "additionalProperties") {
      // `false` is the CRD default (pruning); only a map's value schema is kept.
      if (isObject(value)) result[key] = toStructural(value, `${path}.*`, options);
      else if (value === false && options.keepUnknownFields) result["x-kubernetes-preserve-unknown-fields"] = true;
      continue;
    }
    if (key === "type" && Array.isArray(value)) {
      const types = value.filter((t) => t !== "null");
      if (types.length !== 1) throw new Error(`${path}: a CRD schema needs one type, got ${JSON.stringify(value)}`);
      result.type = types[0];
      if (value.includes("null")) result.nullable = true;
      continue;
    }
    if (key === "properties" && isObject(value)) {
      result[key] = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [name, toStructural(child as JsonSchema, `${path}.${name}`, options)]),
      );
      continue;
    }
    if (key === "items" && isObject(value)) {
      result[key] = toStructural(value, `${path}[]`, options);
      continue;
    }
    result[key] = value;
  }
  if (result.type === undefined) throw new Error(`${path}: a CRD schema needs a type`);
  return result;
}
