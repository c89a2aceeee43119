import request from "supertest";
import { WEBHOOK_PATHS } from "../../../webhooks/app.ts";
import { NAMESPACE, applyAddPatch, rd, review } from "../../fixtures/resources.ts";
import { decodePatch, testApp } from "../../fixtures/webhook-app.ts";
import type { RunnerDeployment } from "../../../src/generated/api.ts";

const path = WEBHOOK_PATHS.mutateRunnerDeployments;

async function mutate(object: RunnerDeployment, namespace = NAMESPACE) {
  const body = review({ object, namespace });
  const res = await request(testApp()).post(path).send(body);
  expect(res.status).toBe(200);
  expect(res.body.response.uid).toBe(body.request!.uid);
  expect(res.body.response.allowed).toBe(true);
  return res.body.response as { patchType?: string; patch?: string };
}

const minimal = (): RunnerDeployment => ({
  apiVersion: "forgejo.actions.io/v1alpha1",
  kind: "RunnerDeployment",
  metadata: { name: "builders", namespace: NAMESPACE },
  spec: { forgejoServer: "https://code.example.com", organization: "acme", labels: "x:host", tokenSecretRef: { name: "t" } },
});

describe("defaulting webhook for RunnerDeployment", () => {
  it("sends no patch when every default is already set", async () => {
    const response = await mutate(rd());
    expect(response).not.toHaveProperty("patch");
    expect(response).not.toHaveProperty("patchType");
  });

  it.each([
    ["pollInterval to 10s", { pollInterval: undefined }, { pollInterval: "10s" }],
    ["pickupTimeout to 10m", { pickupTimeout: undefined }, { pickupTimeout: "10m" }],
    ["retentionAfterFinish to 10m", { retentionAfterFinish: undefined }, { retentionAfterFinish: "10m" }],
    ["tokenSecretRef.key to token", { tokenSecretRef: { key: undefined } }, { tokenSecretRef: { key: "token" } }],
    [
      "tokenSecretRef.namespace to the object's namespace",
      { tokenSecretRef: { namespace: undefined } },
      { tokenSecretRef: { namespace: NAMESPACE } },
    ],
    ["labels trimmed and de-duplicated", { labels: " a:host , b:host,a:host,, " }, { labels: "a:host,b:host" }],
  ])("defaults %s", async (_title, specOverrides, expected) => {
    const object = rd({ spec: specOverrides as never });
    const response = await mutate(object);
    expect(response.patchType).toBe("JSONPatch");
    const patch = decodePatch(response.patch);
    expect(patch.every((op) => op.op === "add")).toBe(true);
    expect(applyAddPatch(object, patch)).toEqual(rd({ spec: expected as never }));
  });

  it("fills every default of a minimal object with one add-only patch", async () => {
    const object = minimal();
    const patch = decodePatch((await mutate(object)).patch);
    expect(patch.map((op) => op.path).sort()).toEqual(
      [
        "/spec/pickupTimeout",
        "/spec/pollInterval",
        "/spec/retentionAfterFinish",
        "/spec/tokenSecretRef/key",
        "/spec/tokenSecretRef/namespace",
      ].sort(),
    );
    expect(applyAddPatch(object, patch).spec).toEqual({
      ...object.spec,
      pollInterval: "10s",
      pickupTimeout: "10m",
      retentionAfterFinish: "10m",
      tokenSecretRef: { name: "t", key: "token", namespace: NAMESPACE },
    });
  });

  it("keeps values the user set", async () => {
    const object = rd({ spec: { pollInterval: "30s", tokenSecretRef: { key: "pat" } } });
    expect(await mutate(object)).not.toHaveProperty("patch");
  });

  it("refuses an object without spec, naming the field, and patches nothing", async () => {
    const object = {
      apiVersion: "forgejo.actions.io/v1alpha1",
      kind: "RunnerDeployment",
      metadata: { name: "x" },
    } as unknown as RunnerDeployment;
    const response = await refusal(object);
    expect(response.status.message).toContain("spec");
    expect(response).not.toHaveProperty("patch");
  });

  // The API server checks CEL between the two phases; refusing here gives our message, all problems at once.
  it("refuses what validation refuses before the CRD's CEL rules answer, listing every problem", async () => {
    const object = rd({ spec: { pollInterval: "500ms", tokenSecretRef: { name: "t", namespace: "kube-system" } } });
    const response = await refusal(object);
    expect(response.status.message).toContain("spec.pollInterval");
    expect(response.status.message).toContain("spec.tokenSecretRef.namespace");
    expect(response).not.toHaveProperty("warnings");
  });

  it("leaves warnings to the validating webhook", async () => {
    expect(await mutate(rd({ spec: { pollInterval: "3s" } }))).not.toHaveProperty("warnings");
  });
});

async function refusal(object: RunnerDeployment) {
  const res = await request(testApp())
    .post(path)
    .send(review({ object, namespace: NAMESPACE }));
  expect(res.status).toBe(200);
  expect(res.body.response.allowed).toBe(false);
  return res.body.response as { status: { message: string }; patch?: string; warnings?: string[] };
}
