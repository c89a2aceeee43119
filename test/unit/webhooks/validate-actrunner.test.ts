import request from "supertest";
import { WEBHOOK_PATHS } from "../../../webhooks/app.ts";
import { NAMESPACE, ar, review } from "../../fixtures/resources.ts";
import { testApp } from "../../fixtures/webhook-app.ts";
import type { AdmissionResponse } from "../../../webhooks/admission.ts";

const path = WEBHOOK_PATHS.validateActRunners;

async function validate(object: unknown, oldObject?: unknown): Promise<AdmissionResponse> {
  const res = await request(testApp())
    .post(path)
    .send(review({ operation: oldObject ? "UPDATE" : "CREATE", object, oldObject, kind: "ActRunner" }));
  expect(res.status).toBe(200);
  return res.body.response as AdmissionResponse;
}

describe("validating webhook for ActRunner", () => {
  it("allows a valid ActRunner", async () => {
    expect((await validate(ar())).allowed).toBe(true);
  });

  it.each([
    ["forgejoJobID", "spec.forgejoJobID: required"],
    ["jobHandle", "spec.jobHandle: required"],
    ["forgejoServer", "spec.forgejoServer: required"],
    ["tokenSecretRef", "spec.tokenSecretRef: required"],
    ["labels", "spec.labels: required"],
    ["jobData", "spec.jobData: required"],
  ])("denies an ActRunner without %s", async (field, message) => {
    const response = await validate(ar({ spec: { [field]: undefined } }));
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain(message);
  });

  it.each([
    ["an unknown field", { spec: { jobHandel: "x" } }, "spec.jobHandel: unknown field"],
    [
      "a jobData id that differs from forgejoJobID",
      { spec: { jobData: { id: 43 } } },
      "spec.jobData.id: must equal spec.forgejoJobID 42, got 43",
    ],
    ["a bad label", { spec: { labels: "x:vm" } }, 'spec.labels: label "x:vm"'],
    [
      "a token Secret in another namespace",
      { spec: { tokenSecretRef: { namespace: "other" } } },
      `must be the ActRunner's own namespace "${NAMESPACE}", got "other"`,
    ],
    ["no scope", { spec: { organization: undefined } }, "exactly one scope"],
  ])("denies %s", async (_title, overrides, message) => {
    const response = await validate(ar(overrides as Parameters<typeof ar>[0]));
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain(message);
  });

  it("denies a change of the spec on UPDATE and names the changed fields", async () => {
    const response = await validate(ar({ spec: { jobHandle: "other", labels: "y:host" } }), ar());
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toBe(
      "spec.jobHandle, spec.labels: spec is immutable; delete the ActRunner and let the listener create a new one",
    );
  });

  it("allows an UPDATE that leaves the spec alone (metadata, finalizers)", async () => {
    const response = await validate(ar({ metadata: { finalizers: ["forgejo.actions.io/runner-cleanup"] } }), ar());
    expect(response.allowed).toBe(true);
  });

  it("refuses an ActRunner in a namespace the controller does not serve (--watch-namespaces)", async () => {
    const send = (watchNamespaces: string[]) =>
      request(testApp({ watchNamespaces }))
        .post(path)
        .send(review({ operation: "CREATE", object: ar(), kind: "ActRunner" }));
    const refused = (await send(["team-a"])).body.response as AdmissionResponse;
    expect(refused.allowed).toBe(false);
    expect(refused.status?.message).toContain(`metadata.namespace: this forgejo-arc installation serves only namespace team-a (`);
    expect(refused.status?.message).toContain(`so an ActRunner in ${NAMESPACE} would never run`);
    expect(((await send([NAMESPACE])).body.response as AdmissionResponse).allowed).toBe(true);
  });
});
