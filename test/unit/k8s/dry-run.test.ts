import { warningTexts } from "../../../src/k8s/dry-run.ts";

describe("warningTexts", () => {
  it("reads each warning of a Warning header, several joined by commas, quotes unescaped", () => {
    const header =
      '299 - "would violate PodSecurity \\"restricted:latest\\": privileged (container \\"docker\\" must not set securityContext.privileged=true)", 299 - "metadata.name: this is used in Pod names, truncated"';
    expect(warningTexts(header)).toEqual([
      'would violate PodSecurity "restricted:latest": privileged (container "docker" must not set securityContext.privileged=true)',
      "metadata.name: this is used in Pod names, truncated",
    ]);
  });

  it("reads none from an absent or empty header", () => {
    expect(warningTexts(undefined)).toEqual([]);
    expect(warningTexts("")).toEqual([]);
  });
});
