// Runner labels in forgejo-runner syntax: name[:docker://image | :docker | :host]; a bare name is host.
// Only the names are sent to Forgejo; the full labels go to the runner.
import { imageReferenceProblem } from "./image-reference.ts";

export interface RunnerLabel {
  /** The label as written after normalisation, e.g. "ubuntu:docker://node:20". */
  raw: string;
  /** What a job's runs-on matches, e.g. "ubuntu". */
  name: string;
  scheme: "docker" | "host";
  /** The image of a docker label; absent for host labels and for docker with the runner's default. */
  image?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Splits, trims and de-duplicates a comma-separated label list, keeping the first occurrence's order. */
export function normaliseLabels(labels: string): string {
  const seen = new Set<string>();
  for (const part of labels.split(",")) {
    const label = part.trim();
    if (label) seen.add(label);
  }
  return [...seen].join(",");
}

/** Parses one label; returns an error text saying what is wrong with it. */
export function parseLabel(raw: string): RunnerLabel | string {
  const colon = raw.indexOf(":");
  const name = colon === -1 ? raw : raw.slice(0, colon);
  const rest = colon === -1 ? "" : raw.slice(colon + 1);
  if (!NAME.test(name) || name.length > 255) {
    return `label "${raw}": the name "${name}" must start with a letter or digit and contain only letters, digits, ".", "_" and "-" (at most 255)`;
  }
  // forgejo-runner treats a label without a scheme as a host label.
  if (colon === -1 || rest === "host") return { raw, name, scheme: "host" };
  if (rest === "docker") return { raw, name, scheme: "docker" };
  if (rest.startsWith("docker://")) {
    const image = rest.slice("docker://".length);
    if (image === "") return `label "${raw}": docker:// must be followed by an image reference, e.g. "${name}:docker://node:20-bookworm"`;
    const problem = imageReferenceProblem(image);
    if (problem) return `label "${raw}": the image "${image}" ${problem}`;
    return { raw, name, scheme: "docker", image };
  }
  if (rest.startsWith("lxc")) return `label "${raw}": the lxc scheme cannot run in a Kubernetes pod; use docker://image or host`;
  return `label "${raw}": after "${name}:" expected "host", "docker" or "docker://image", got "${rest}"`;
}

/** Parses a normalised label list; errors name each bad label. */
export function parseLabels(labels: string): { labels: RunnerLabel[]; errors: string[] } {
  const parsed: RunnerLabel[] = [];
  const errors: string[] = [];
  const names = new Map<string, string>();
  for (const raw of normaliseLabels(labels).split(",").filter(Boolean)) {
    const result = parseLabel(raw);
    if (typeof result === "string") {
      errors.push(result);
      continue;
    }
    const earlier = names.get(result.name);
    if (earlier !== undefined) {
      errors.push(`label "${raw}": the name "${result.name}" is already used by "${earlier}"`);
      continue;
    }
    names.set(result.name, raw);
    parsed.push(result);
  }
  if (parsed.length === 0 && errors.length === 0) errors.push('no label given; set at least one, e.g. "docker"');
  return { labels: parsed, errors };
}

/** The label names joined as Forgejo's jobs endpoint expects them: one comma-separated value, no spaces. */
export function labelNamesQuery(labels: RunnerLabel[]): string {
  return labels.map((l) => l.name).join(",");
}
