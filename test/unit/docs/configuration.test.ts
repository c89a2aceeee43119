// docs/configuration.md lists every flag of both roles with its variable and default; these tests
// keep that table true to the flag tables the programs parse (src/controller/config.ts,
// src/listener/config.ts).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CONTROLLER_FLAGS } from "../../../src/controller/config.ts";
import { LISTENER_FLAGS } from "../../../src/listener/config.ts";
import { VERSION } from "../../../src/version.ts";

const DOC = readFileSync(resolve(import.meta.dirname, "../../../docs/configuration.md"), "utf8");

interface DocumentedFlag {
  variable: string;
  /** The Default column's text for this flag (a row of two flags gives "a / b"). */
  defaultText: string;
}

/** The flags of the table under `## heading`: a row "`--a` / `--b` | `A` / `B` | `1` / `2` | …" gives two. */
function documentedFlags(markdown: string, heading: string): Map<string, DocumentedFlag> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith(heading));
  if (!section) throw new Error(`docs/configuration.md has no section "## ${heading}"`);
  const flags = new Map<string, DocumentedFlag>();
  for (const line of section.split("\n")) {
    if (!line.startsWith("| `--")) continue;
    const [flagCell = "", variableCell = "", defaultCell = ""] = line.split(" | ").map((cell) => cell.replace(/^\| /, ""));
    const names = [...flagCell.matchAll(/`--([a-z-]+)(=[^`]*)?`/g)].map((m) => m[1]!);
    const variables = [...variableCell.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!);
    const defaults = defaultCell.split(" / ");
    if (variables.length !== names.length) throw new Error(`docs/configuration.md: the row of ${flagCell} names ${variables.length} variables`);
    names.forEach((name, i) =>
      flags.set(name, { variable: variables[i]!, defaultText: defaults.length === names.length ? defaults[i]! : defaultCell }),
    );
  }
  return flags;
}

describe("docs/configuration.md", () => {
  describe("forgejo-arc controller", () => {
    const documented = documentedFlags(DOC, "`forgejo-arc controller`");

    it("lists every flag the controller parses, and no other", () => {
      expect([...documented.keys()].sort()).toEqual(Object.keys(CONTROLLER_FLAGS).sort());
    });

    it.each(Object.entries(CONTROLLER_FLAGS))("gives --%s its variable and default", (name, flag) => {
      const row = documented.get(name);
      expect(row?.variable).toBe(flag.env);
      // An empty default is described in words ("empty", "host name and PID"); the image's tag is the release.
      if (flag.default !== "") expect(row?.defaultText).toBe(`\`${flag.default.replace(VERSION, "<version>")}\``);
    });
  });

  describe("forgejo-arc listener", () => {
    const documented = documentedFlags(DOC, "`forgejo-arc listener`");

    it("lists every flag the listener parses, and no other", () => {
      expect([...documented.keys()].sort()).toEqual(Object.keys(LISTENER_FLAGS).sort());
    });

    it.each(Object.entries(LISTENER_FLAGS))("gives --%s its variable, and the default its help names", (name, flag) => {
      const row = documented.get(name);
      expect(row?.variable).toBe(flag.env);
      const helpDefault = /\(default ([^)]+)\)/.exec(flag.help)?.[1];
      if (helpDefault) expect(row?.defaultText).toBe(`\`${helpDefault}\``);
    });
  });

  it("reads a row of two flags as two flags", () => {
    const flags = documentedFlags("## `x`\n\n| `--port` / `--host` | `P` / `H` | `8080` / `0.0.0.0` | what |\n", "`x`");
    expect(flags.get("port")).toEqual({ variable: "P", defaultText: "`8080`" });
    expect(flags.get("host")).toEqual({ variable: "H", defaultText: "`0.0.0.0`" });
  });
});
