// An add-only JSON Patch (RFC 6902) from an object to a version of it with fields added or set.
// "add" on an existing member replaces it, so defaulting never needs another operation.

export interface AddOperation {
  op: "add";
  path: string;
  value: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function pointerSegment(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Operations that turn `original` into `changed`; throws when `changed` removes a field. */
export function addOnlyPatch(original: unknown, changed: unknown, path = ""): AddOperation[] {
  if (isPlainObject(original) && isPlainObject(changed)) {
    const removed = Object.keys(original).filter((key) => !(key in changed));
    if (removed.length > 0) throw new Error(`defaulting must not remove ${path}/${removed.join(", ")}`);
    return Object.entries(changed).flatMap(([key, value]) =>
      key in original
        ? addOnlyPatch(original[key], value, `${path}/${pointerSegment(key)}`)
        : [{ op: "add" as const, path: `${path}/${pointerSegment(key)}`, value }],
    );
  }
  if (JSON.stringify(original) === JSON.stringify(changed)) return [];
  return [{ op: "add", path, value: changed }];
}
