// Bundles the CLI (src/cli.ts and everything it imports, node_modules and schemas included) into one
// ES module, dist/forgejo-arc.mjs: what the image ships and runs. Loading one file instead of some
// three thousand modules (@kubernetes/client-node alone has 2,700) starts a role in about 0.5 s
// instead of 2.3 s and keeps some 30 MB less resident (docs/architecture.md, "Packaging").
// npm run build [-- --outfile <path>]
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const BUNDLE = join(ROOT, "dist", "forgejo-arc.mjs");

/** Native add-ons ws (a client-node dependency) tries inside try/catch and does without. */
export const OPTIONAL_IMPORTS = ["bufferutil", "utf-8-validate"];

/** Writes the bundle; returns the modules it still imports (only Node's own may remain). */
export async function buildBundle(outfile = BUNDLE): Promise<{ outfile: string; imports: string[] }> {
  const result = await build({
    entryPoints: [join(ROOT, "src", "cli.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    // Whitespace and syntax only: function and class names stay, so stack traces in logs still read.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
    external: OPTIONAL_IMPORTS,
    // Dependencies written as CommonJS call require(); an ES module has none of its own. The hashbang
    // of src/cli.ts stays first.
    banner: {
      js: 'import { createRequire as __forgejoArcRequire } from "node:module";\nconst require = __forgejoArcRequire(import.meta.url);',
    },
  });
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((imported) => imported.path));
  return { outfile, imports: [...new Set(imports)].sort() };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf("--outfile");
  const { outfile } = await buildBundle(at >= 0 ? resolve(process.argv[at + 1] ?? BUNDLE) : BUNDLE);
  console.log(`build: wrote ${outfile}`);
}
