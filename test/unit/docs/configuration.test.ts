// docs/configuration.md lists every flag of both roles with its variable and default; these tests
// keep that table true to the flag tables the programs parse (src/controller/config.ts,
// src/listener/config.ts).
import { CONTROLLER_FLAGS } from "../../../src/controller/config.ts";
import { LISTENER_FLAGS } from "../../../src/listener/config.ts";
import { VERSION } from "../../../src/version.ts";
import { readDoc, section as sectionOf } from "./markdown.ts";

const DOC = readDoc("configuration.md");

interface DocumentedFlag {
  variable: string;
  /** The Default column's text for this flag (a row of two flags gives "a / b"). */
  defaultText: string;
}

/** The flags of the table under `## heading`: a row "`--a` / `--b` | `A` / `B` | `1` / `2` | …" gives two. */
function documentedFlags(markdown: string, heading: string): Map<string, DocumentedFlag> {
  const section = sectionOf(markdown, heading, "docs/configuration.md");
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

interface Flag {
  env: string;
  help: string;
  default?: string;
}

const ROLES: { heading: string; flags: Record<string, Flag>; documentedDefault: (flag: Flag) => string | undefined }[] = [
  {
    heading: "`forgejo-arc controller`",
    flags: CONTROLLER_FLAGS,
    // An empty default is described in words ("empty", "host name and PID"); the image's tag is the release.
    documentedDefault: (flag) => (flag.default ? flag.default.replace(VERSION, "<version>") : undefined),
  },
  {
    heading: "`forgejo-arc listener`",
    flags: LISTENER_FLAGS,
    documentedDefault: (flag) => /\(default ([^)]+)\)/.exec(flag.help)?.[1],
  },
];

describe("docs/configuration.md", () => {
  describe.each(ROLES)("$heading", ({ heading, flags, documentedDefault }) => {
    const documented = documentedFlags(DOC, heading);

    it("lists every flag the program parses, and no other", () => {
      expect([...documented.keys()].sort()).toEqual(Object.keys(flags).sort());
    });

    it.each(Object.entries(flags))("gives --%s its variable and default", (name, flag) => {
      const row = documented.get(name);
      expect(row?.variable).toBe(flag.env);
      const wanted = documentedDefault(flag);
      if (wanted !== undefined) expect(row?.defaultText).toBe(`\`${wanted}\``);
    });
  });

  it("reads a row of two flags as two flags", () => {
    const flags = documentedFlags("## `x`\n\n| `--port` / `--host` | `P` / `H` | `8080` / `0.0.0.0` | what |\n", "`x`");
    expect(flags.get("port")).toEqual({ variable: "P", defaultText: "`8080`" });
    expect(flags.get("host")).toEqual({ variable: "H", defaultText: "`0.0.0.0`" });
  });
});
