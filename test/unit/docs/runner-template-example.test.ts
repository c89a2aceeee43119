// docs/configuration.md's runnerTemplate example: the webhook admits it, and the runner Job the
// controller builds from it is what the section says — the command wraps the controller's arguments.
import request from "supertest";
import { jest } from "@jest/globals";
import { parse } from "yaml";
import { WEBHOOK_PATHS } from "../../../webhooks/app.ts";
import type { DryRunRequest } from "../../../webhooks/dry-run.ts";
import type { RunnerDeploymentSpec } from "../../../src/generated/api.ts";
import { rd, review } from "../../fixtures/resources.ts";
import { testApp } from "../../fixtures/webhook-app.ts";
import { readDoc, section } from "./markdown.ts";

const SECTION = section(readDoc("configuration.md"), "Customising runner pods", "docs/configuration.md");
const EXAMPLE = parse(/```yaml\n([\s\S]*?)```/.exec(SECTION)![1]!) as { spec: Partial<RunnerDeploymentSpec> };

describe("docs/configuration.md, Customising runner pods", () => {
  it("the example is admitted, and its runner pod keeps the controller's one-job arguments after the wrapping command", async () => {
    const sent: DryRunRequest[] = [];
    const dryRun = jest.fn(async (req: DryRunRequest) => {
      sent.push(req);
      return { warnings: [] };
    });
    const body = review({ object: rd({ spec: EXAMPLE.spec }) });
    const res = await request(testApp({ dryRun })).post(WEBHOOK_PATHS.validateRunnerDeployments).send(body);
    expect(res.body.response).toMatchObject({ allowed: true });
    const job = sent.find((req) => req.kind === "Job")!.object as { spec: { template: { spec: { containers: object[] } } } };
    expect(job.spec.template.spec.containers[0]).toMatchObject({
      name: "runner",
      command: EXAMPLE.spec.runnerTemplate!.spec!.containers![0]!.command,
      args: expect.arrayContaining(["one-job", "--uuid", "--token-url", "--handle"]),
      resources: { requests: { cpu: "2", memory: "4Gi" }, limits: { memory: "8Gi" } },
      volumeMounts: expect.arrayContaining([{ name: "cache", mountPath: "/data/.cache" }]),
    });
  });
});
