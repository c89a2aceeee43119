// Loads the authoring JSON Schemas from schemas/, the single source of the CRDs and the TS types.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

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

export function readSchema(file: string): JsonSchema {
  return JSON.parse(readFileSync(SCHEMAS_DIR + file, "utf8")) as JsonSchema;
}

export function loadSchemas(): { common: JsonSchema; kinds: KindSchema[] } {
  const kinds = Object.entries(KIND_SCHEMA_FILES).map(([kind, file]) => ({
    kind: kind as KindSchema["kind"],
    file,
    schema: readSchema(file),
  }));
  return { common: readSchema(COMMON_SCHEMA_FILE), kinds };
}
