// The authoring JSON Schemas of schemas/, the single source of the CRDs and the TS types. Imported
// as JSON modules, so the bundled CLI (scripts/build.ts) carries them and reads no file at run time.
import { fileURLToPath } from "node:url";
import actRunnerSchema from "../../schemas/actrunner.schema.json" with { type: "json" };
import commonSchema from "../../schemas/common.schema.json" with { type: "json" };
import runnerDeploymentSchema from "../../schemas/runnerdeployment.schema.json" with { type: "json" };

export const API_GROUP = "forgejo.actions.io";
export const API_VERSION = "v1alpha1";
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

export type JsonSchema = { [key: string]: unknown };

export interface KindSchema {
  kind: "RunnerDeployment" | "ActRunner";
  file: string;
  schema: JsonSchema;
}

export const SCHEMAS_DIR = fileURLToPath(new URL("../../schemas/", import.meta.url));
export const COMMON_SCHEMA_FILE = "common.schema.json";
export const KIND_SCHEMA_FILES = {
  RunnerDeployment: "runnerdeployment.schema.json",
  ActRunner: "actrunner.schema.json",
} as const;

const SCHEMAS_BY_FILE: Record<string, JsonSchema> = {
  [COMMON_SCHEMA_FILE]: commonSchema,
  [KIND_SCHEMA_FILES.RunnerDeployment]: runnerDeploymentSchema,
  [KIND_SCHEMA_FILES.ActRunner]: actRunnerSchema,
};

/** A copy of one schema of schemas/, by file name. */
export function readSchema(file: string): JsonSchema {
  const schema = SCHEMAS_BY_FILE[file];
  if (!schema) throw new Error(`no schema ${file} in ${SCHEMAS_DIR}; known: ${Object.keys(SCHEMAS_BY_FILE).join(", ")}`);
  return structuredClone(schema);
}

export function loadSchemas(): { common: JsonSchema; kinds: KindSchema[] } {
  const kinds = Object.entries(KIND_SCHEMA_FILES).map(([kind, file]) => ({
    kind: kind as KindSchema["kind"],
    file,
    schema: readSchema(file),
  }));
  return { common: readSchema(COMMON_SCHEMA_FILE), kinds };
}
