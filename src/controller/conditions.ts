// Kubernetes-style status conditions: observedGeneration on each, lastTransitionTime kept while
// the status stays the same.
import type { Condition } from "../generated/api.ts";

export type ConditionInput = Pick<Condition, "type" | "status" | "reason" | "message">;

export function setCondition(
  conditions: Condition[] | undefined,
  input: ConditionInput,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === input.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    ...input,
    lastTransitionTime: previous && previous.status === input.status ? previous.lastTransitionTime : now.toISOString(),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Conditions whose status changed between two lists (new ones included), for Events. */
export function transitions(before: Condition[] | undefined, after: Condition[]): Condition[] {
  return after.filter((c) => findCondition(before, c.type)?.status !== c.status);
}
