// Object names that must fit Kubernetes limits (63 for names used as label values and Job names).
import { createHash } from "node:crypto";

export const MAX_NAME_LENGTH = 63;

/** `${base}${suffix}`, or a shortened base plus a hash of it when that would exceed `max`. */
export function fitName(base: string, suffix: string, max = MAX_NAME_LENGTH): string {
  if (base.length + suffix.length <= max) return `${base}${suffix}`;
  const hash = createHash("sha256").update(base).digest("hex").slice(0, 6);
  const keep = max - suffix.length - hash.length - 1;
  return `${base.slice(0, keep).replace(/[-.]+$/, "")}-${hash}${suffix}`;
}

/** A comma-separated list, such as a flag's value: parts trimmed, empty ones dropped. */
export function commaSeparated(text: string): string[] {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

const DNS_LABEL_PART = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS_SUBDOMAIN = new RegExp(`^${DNS_LABEL_PART}(\\.${DNS_LABEL_PART})*$`);

/** Whether `name` can name a Secret, a ConfigMap and most other objects: a DNS subdomain of at most 253 characters. */
export function isObjectName(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

const DNS_LABEL = new RegExp(`^${DNS_LABEL_PART}$`);

/** Whether `name` can name a namespace: a DNS label of at most 63 characters. */
export function isNamespaceName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && DNS_LABEL.test(name);
}

/** A stable short hash of any JSON value, for "did the desired object change" annotations. */
export function hashOf(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}
