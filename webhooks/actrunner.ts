// Admission rules for ActRunner: the schema's required fields, and a spec that never changes.
import { isDeepStrictEqual } from "node:util";
import { parseLabels } from "../src/api/labels.ts";
import { scopeProblems } from "../src/api/names.ts";
import type { ActRunner } from "../src/generated/api.ts";
import { oncePerField, type Verdict } from "./admission.ts";
import type { SchemaValidator } from "./schema-validation.ts";

function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => !isDeepStrictEqual(before[key], after[key])).map((key) => `spec.${key}`);
}

export function validateActRunner(
  runner: ActRunner,
  oldRunner: ActRunner | undefined,
  namespace: string,
  schema: SchemaValidator,
): Verdict {
  const schemaDenials = schema.problems("ActRunner", runner);
  const verdict: Verdict = { denials: [], warnings: [] };
  const spec = runner.spec;
  if (typeof spec !== "object" || spec === null) return { ...verdict, denials: schemaDenials };
  if (oldRunner?.spec && !isDeepStrictEqual(oldRunner.spec, spec)) {
    const changed = changedFields(oldRunner.spec as unknown as Record<string, unknown>, spec as unknown as Record<string, unknown>);
    verdict.denials.push(`${changed.join(", ")}: spec is immutable; delete the ActRunner and let the listener create a new one`);
  }
  verdict.denials.push(...scopeProblems(spec));
  if (typeof spec.labels === "string") {
    verdict.denials.push(...parseLabels(spec.labels).errors.map((error) => `spec.labels: ${error}`));
  }
  if (spec.jobData && typeof spec.forgejoJobID === "number" && spec.jobData.id !== spec.forgejoJobID) {
    verdict.denials.push(`spec.jobData.id: must equal spec.forgejoJobID ${spec.forgejoJobID}, got ${spec.jobData.id}`);
  }
  const secretNamespace = spec.tokenSecretRef?.namespace;
  if (secretNamespace !== undefined && namespace && secretNamespace !== namespace) {
    verdict.denials.push(`spec.tokenSecretRef.namespace: must be the ActRunner's own namespace "${namespace}", got "${secretNamespace}"`);
  }
  verdict.denials = oncePerField(schemaDenials, verdict.denials);
  return verdict;
}
