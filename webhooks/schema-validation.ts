// Validates whole objects against the full authoring schemas with ajv. Unlike the CRD's structural
// schema, which prunes unknown fields silently, this rejects them, so a typo is reported.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { COMMON_SCHEMA_FILE, KIND_SCHEMA_FILES, readSchema } from "../src/api/schemas.ts";

/** Keywords the schemas carry for the CRD generator and the TS types; ajv only has to accept them. */
const ANNOTATION_KEYWORDS = [
  "x-crd",
  "x-kubernetes-validations",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "tsType",
];

export type SchemaKind = keyof typeof KIND_SCHEMA_FILES;

export function fieldPath(instancePath: string): string {
  return instancePath
    .split("/")
    .filter(Boolean)
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment), "");
}

function describe(error: ErrorObject): string {
  const at = fieldPath(error.instancePath);
  const field = (child: string) => (at ? `${at}.${child}` : child);
  switch (error.keyword) {
    case "additionalProperties":
      return `${field(String(error.params.additionalProperty))}: unknown field; check its spelling or remove it`;
    case "required":
      return `${field(String(error.params.missingProperty))}: required`;
    default:
      return `${at || "object"}: ${error.message ?? "is invalid"}, got ${JSON.stringify(error.data)}`;
  }
}

let shared: SchemaValidator | undefined;

/** One compiled validator per process: compiling the schemas takes tens of milliseconds. */
export function sharedSchemaValidator(): SchemaValidator {
  shared ??= new SchemaValidator();
  return shared;
}

export class SchemaValidator {
  private readonly validators: Record<SchemaKind, ValidateFunction>;
  private readonly podTemplate: ValidateFunction;

  constructor() {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    addFormats.default(ajv, ["date-time"]);
    ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
    for (const keyword of ANNOTATION_KEYWORDS) ajv.addKeyword(keyword);
    ajv.addSchema(readSchema(COMMON_SCHEMA_FILE));
    this.validators = Object.fromEntries(
      Object.entries(KIND_SCHEMA_FILES).map(([kind, file]) => [kind, ajv.compile(readSchema(file))]),
    ) as Record<SchemaKind, ValidateFunction>;
    this.podTemplate = ajv.compile({ $ref: `${COMMON_SCHEMA_FILE}#/definitions/podTemplate` });
  }

  /** Problems with `object`, each naming its field; empty when it is valid. */
  problems(kind: SchemaKind, object: unknown): string[] {
    return problemsOf(this.validators[kind], object);
  }

  /** Problems with a pod template standing alone (the controller's --runner-pod-template and --listener-pod-template). */
  podTemplateProblems(template: unknown): string[] {
    return problemsOf(this.podTemplate, template);
  }
}

function problemsOf(validate: ValidateFunction, object: unknown): string[] {
  if (validate(object)) return [];
  return [...new Set((validate.errors ?? []).map(describe))];
}
