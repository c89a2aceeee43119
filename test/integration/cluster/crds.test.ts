// The generated CRDs install, and the API server itself enforces their schema and CEL rules.
import { ar, rd } from "../../fixtures/resources.ts";
import { createNamespace, customObjects, deleteNamespace, rejection } from "../helpers.ts";

describe("generated CRDs on the real API server", () => {
  const objects = customObjects();
  let ns: string;
  beforeAll(async () => {
    ns = await createNamespace("crds");
  });
  afterAll(() => deleteNamespace(ns));

  const inNs = <T extends { metadata?: object }>(object: T, name: string): T => ({ ...object, metadata: { name, namespace: ns } });

  it("accepts a valid RunnerDeployment and fills the schema's defaults", async () => {
    const body = inNs(rd({ spec: { pollInterval: undefined, pickupTimeout: undefined, tokenSecretRef: { key: undefined } } }), "valid");
    const created = (await objects.create("runnerdeployments", ns, body)) as ReturnType<typeof rd>;
    expect(created.spec.pollInterval).toBe("10s");
    expect(created.spec.pickupTimeout).toBe("10m");
    expect(created.spec.tokenSecretRef.key).toBe("token");
  });

  it.each([
    ["a pollInterval out of bounds (CEL)", { spec: { pollInterval: "1s" } }, "spec.pollInterval must be between 2s and 1h"],
    ["two scopes (CEL)", { spec: { repository: "acme/app" } }, "exactly one scope must be set"],
    ["no scope (CEL)", { spec: { organization: undefined } }, "exactly one scope must be set"],
    ["an organization and the instance (CEL)", { spec: { instance: true } }, "exactly one scope must be set"],
    ["instance: false (schema enum)", { spec: { organization: undefined, instance: false } }, "spec.instance: Unsupported value: false"],
    [
      "maxRunners of 0 (schema minimum)",
      { spec: { maxRunners: 0 } },
      "spec.maxRunners: Invalid value: 0: spec.maxRunners in body should be greater than or equal to 1",
    ],
    ["a pollInterval that is no duration (schema pattern)", { spec: { pollInterval: "soon" } }, "spec.pollInterval in body should match"],
    ["a missing labels (schema required)", { spec: { labels: undefined } }, "spec.labels: Required value"],
    [
      "a name longer than 63 characters (schema maxLength: a label value)",
      { metadata: { name: "r".repeat(64) } },
      "metadata.name: Too long: may not be more than 63",
    ],
  ])("rejects a RunnerDeployment with %s", async (_title, overrides, message) => {
    const body = rd(overrides as never);
    const failure = await rejection(
      objects.create("runnerdeployments", ns, inNs(body, body.metadata?.name === "builders" ? "bad" : body.metadata!.name!)),
    );
    expect(failure.code).toBe(422);
    expect(failure.message).toContain(message);
  });

  it("accepts the token's user or the whole instance as a RunnerDeployment's scope", async () => {
    for (const scope of [{ user: true as const }, { instance: true as const }]) {
      const name = Object.keys(scope)[0]!;
      const created = (await objects.create("runnerdeployments", ns, inNs(rd({ spec: { organization: undefined, ...scope } }), name))) as {
        spec: Record<string, unknown>;
      };
      expect(created.spec).toMatchObject(scope);
      expect(created.spec.organization).toBeUndefined();
    }
  });

  it("rejects any change of an ActRunner's spec (CEL immutability)", async () => {
    const created = (await objects.create("actrunners", ns, inNs(ar(), "runner-1"))) as ReturnType<typeof ar>;
    const changed = { ...created, spec: { ...created.spec, jobHandle: "another-handle" } };
    const failure = await rejection(objects.replace("actrunners", ns, "runner-1", changed));
    expect(failure.code).toBe(422);
    expect(failure.message).toContain("spec is immutable");
  });

  it("rejects an ActRunner whose jobData.id differs from forgejoJobID (CEL)", async () => {
    const failure = await rejection(objects.create("actrunners", ns, inNs(ar({ spec: { jobData: { id: 9 } } }), "runner-2")));
    expect(failure.message).toContain("spec.jobData.id must equal spec.forgejoJobID");
  });

  it("keeps an unknown RunnerDeployment field so the webhook can reject it by name (no webhook here)", async () => {
    const body = inNs(rd({ spec: { pollInterva: "30s", tokenSecretRef: { nmae: "x" } } as never }), "typo");
    const created = (await objects.create("runnerdeployments", ns, body)) as { spec: Record<string, Record<string, unknown>> };
    expect(created.spec.pollInterva).toBe("30s");
    expect(created.spec.tokenSecretRef!.nmae).toBe("x");
  });

  it("prunes an unknown ActRunner field: ActRunners are written by the listener, not by hand", async () => {
    const created = (await objects.create("actrunners", ns, inNs(ar({ spec: { extra: 1 } as never }), "runner-3"))) as {
      spec: Record<string, unknown>;
    };
    expect(created.spec).not.toHaveProperty("extra");
  });
});
