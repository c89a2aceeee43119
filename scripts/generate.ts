// Generates the CRDs, TS types and API docs from schemas/. Checks by default; --write updates.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { REGENERATE_COMMAND, generatedFiles } from "./generate/outputs.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const write = process.argv.includes("--write");

async function current(path: string): Promise<string | undefined> {
  return readFile(resolve(root, path), "utf8").catch(() => undefined);
}

const stale: string[] = [];
for (const [path, content] of await generatedFiles()) {
  if ((await current(path)) === content) continue;
  if (write) {
    await mkdir(dirname(resolve(root, path)), { recursive: true });
    await writeFile(resolve(root, path), content);
    console.log(`generate: wrote ${path}`);
  } else {
    stale.push(path);
  }
}
if (stale.length > 0) {
  console.error(`generate: these generated files are not current; run \`${REGENERATE_COMMAND}\`:`);
  for (const path of stale) console.error(`  ${path}`);
  process.exit(1);
}
if (!write) console.log("generate: all generated files are current");
