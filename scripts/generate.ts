// Generates the CRDs, TS types and API docs from schemas/. Checks by default; --write updates.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { REGENERATE_COMMAND, generatedFiles } from "./generate/outputs.ts";

const args = process.argv.slice(2);
const write = args.includes("--write");
// --root DIR compares with (or writes to) another tree; tests use it to prove the check.
const rootArg = args.indexOf("--root");
const root = rootArg >= 0 ? resolve(args[rootArg + 1] ?? ".") : resolve(dirname(fileURLToPath(import.meta.url)), "..");

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
