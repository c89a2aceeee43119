// docs/install.md's table of the chart's most-changed values: every key it names exists in
// chart/forgejo-arc/values.yaml, and every default it quotes is the one there.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT, readDoc, section } from "./markdown.ts";

const DOC = readDoc("install.md");
const VALUES = parse(readFileSync(resolve(PROJECT_ROOT, "chart/forgejo-arc/values.yaml"), "utf8")) as Record<string, unknown>;

interface Row {
  keys: string[];
  /** The Default cell cut into one part per key ("`2`, `true`"), or whole when it does not split so. */
  defaults: string[];
}

function valuesTable(markdown: string): Row[] {
  return section(markdown, "Values", "docs/install.md")
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => {
      const [keyCell = "", defaultCell = ""] = line.replace(/^\| /, "").split(" | ");
      return { keys: [...keyCell.matchAll(/`([A-Za-z.*]+)`/g)].map((m) => m[1]!), defaults: defaultCell.split(/ \/ |, /) };
    });
}

/** The value at a dotted path ("controller.*" is the object itself), or undefined. */
function valueAt(path: string): unknown {
  return path
    .replace(/\.\*$/, "")
    .split(".")
    .reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), VALUES);
}

const rows = valuesTable(DOC);
const keys = rows.flatMap((row) => row.keys);
const quotedDefaults = rows.flatMap((row) =>
  row.defaults.length === row.keys.length
    ? row.keys.flatMap((key, i) => {
        const quoted = /^`([^`]*)`$/.exec(row.defaults[i]!.trim())?.[1];
        return quoted === undefined ? [] : [[key, quoted] as const];
      })
    : [],
);

describe("docs/install.md values table", () => {
  it("has rows", () => {
    expect(keys.length).toBeGreaterThan(10);
    expect(quotedDefaults.length).toBeGreaterThan(10);
  });

  it.each(keys)("%s is a key of values.yaml", (key) => {
    expect(valueAt(key)).not.toBeUndefined();
  });

  it.each(quotedDefaults)("%s defaults to %s in values.yaml", (key, quoted) => {
    const value = valueAt(key);
    expect(typeof value === "object" ? JSON.stringify(value) : String(value)).toBe(quoted);
  });
});
