import * as defaults from "../../../src/api/defaults.ts";
import { readSchema } from "../../../src/api/schemas.ts";

// The webhook defaults from constants; the CRD defaults from the schema. They must agree.
describe("defaults", () => {
  const common = readSchema("common.schema.json") as {
    definitions: Record<string, { properties?: Record<string, { default?: unknown }> }>;
  };
  const rdSpec = (
    readSchema("runnerdeployment.schema.json") as {
      properties: { spec: { properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }> } };
    }
  ).properties.spec.properties;

  it.each([
    ["pollInterval", defaults.DEFAULT_POLL_INTERVAL],
    ["pickupTimeout", defaults.DEFAULT_PICKUP_TIMEOUT],
    ["retentionAfterFinish", defaults.DEFAULT_RETENTION_AFTER_FINISH],
  ])("spec.%s matches the schema default", (field, value) => {
    expect(rdSpec[field]!.default).toBe(value);
  });

  it("tokenSecretRef.key and caBundleConfigMapRef.key match the schema defaults", () => {
    expect(common.definitions.tokenSecretRef!.properties!.key!.default).toBe(defaults.DEFAULT_TOKEN_KEY);
    expect(common.definitions.caBundleConfigMapRef!.properties!.key!.default).toBe(defaults.DEFAULT_CA_BUNDLE_KEY);
  });
});
