// Every relative link of README.md and docs/ leads somewhere: the file exists, and an anchor names
// one of its headings (as GitHub makes them), so renaming a heading cannot silently break a link.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { PROJECT_ROOT } from "./markdown.ts";

const MARKDOWN_FILES = ["README.md", ...readdirSync(resolve(PROJECT_ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** GitHub's anchor of a heading: lower case, punctuation but hyphens dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a markdown file's headings, outside code blocks. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let inCode = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) inCode = !inCode;
    const heading = !inCode && /^#{1,6} (.+)$/.exec(line);
    if (heading) anchors.add(headingAnchor(heading[1]!));
  }
  return anchors;
}

/** `[text](target)` links outside code, but those to other sites and mail addresses. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:/.test(target));
}

describe("markdown links", () => {
  it("makes anchors as GitHub does", () => {
    expect(headingAnchor("Upgrades and CRDs")).toBe("upgrades-and-crds");
    expect(headingAnchor("Forgejo with a private CA")).toBe("forgejo-with-a-private-ca");
    expect(headingAnchor("`npm run demo`: what it shows")).toBe("npm-run-demo-what-it-shows");
  });

  for (const file of MARKDOWN_FILES) {
    it(`${file}: every relative link names an existing file and heading`, () => {
      const broken: string[] = [];
      const markdown = readFileSync(resolve(PROJECT_ROOT, file), "utf8");
      for (const link of relativeLinks(markdown)) {
        const [path = "", anchor] = link.split("#");
        const target = path === "" ? resolve(PROJECT_ROOT, file) : resolve(PROJECT_ROOT, dirname(file), path);
        if (!existsSync(target)) {
          broken.push(`${link}: no file ${relative(PROJECT_ROOT, target)}`);
          continue;
        }
        if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(readFileSync(target, "utf8")).has(anchor))
          broken.push(`${link}: no heading with anchor #${anchor} in ${relative(PROJECT_ROOT, target)}`);
      }
      expect(broken).toEqual([]);
    });
  }
});
