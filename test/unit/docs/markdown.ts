// Reading the project's docs in the tests that keep them true.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const PROJECT_ROOT = resolve(import.meta.dirname, "../../..");

/** docs/<name>. */
export function readDoc(name: string): string {
  return readFileSync(resolve(PROJECT_ROOT, "docs", name), "utf8");
}

/** The text under `## <heading>` up to the next `## `; throws, naming `where`, when there is none. */
export function section(markdown: string, heading: string, where: string): string {
  const found = markdown.split(/^## /m).find((s) => s.startsWith(heading));
  if (found === undefined) throw new Error(`${where} has no section "## ${heading}"`);
  return found;
}
