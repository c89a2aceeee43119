import { ApiException } from "@kubernetes/client-node";
import { nextStatus, startFailure } from "../../../src/controller/actrunner.ts";
import type { AR } from "../../../src/controller/cache.ts";
import { CredentialsMissing } from "../../../src/controller/forgejo-clients.ts";
import { creationError, RunnerObjectRefused, startedRecord } from "../../../src/controller/runner-start.ts";
import { ForgejoError } from "../../../src/forgejo/errors.ts";
import { ar } from "../../fixtures/resources.ts";

const t0 = new Date("2026-01-01T00:00:00Z");
const t1 = new Date("2026-01-01T00:05:00Z");
const runner = ar({ metadata: { generation: 3, uid: "uid-1" } }) as AR;
const credentials = { id: 7, uuid: "uuid-7", token: "secret-token" };
const job = { metadata: { name: "builders-42-1", namespace: "ci" }, spec: { template: {} } };

describe("a started runner's record", () => {
  it("names the runner, its Forgejo id and uuid and the Job, never the token", () => {
    const record = startedRecord(runner, credentials, job);
    expect(record.fields).toMatchObject({
      phase: "Pending",
      runnerName: "k8s-ci-builders-42-1",
      runnerId: 7,
      runnerUUID: "uuid-7",
      kubernetesJobName: "builders-42-1",
    });
    expect(record.conditions.map((c) => [c.type, c.status])).toEqual([
      ["Registered", "True"],
      ["JobCreated", "True"],
    ]);
    expect(record.eventMessage).toBe(
      "Registered ephemeral runner k8s-ci-builders-42-1 (id 7) in Forgejo and created Job builders-42-1 for Forgejo job 42",
    );
    expect(JSON.stringify(record)).not.toContain("secret-token");
  });
});

describe("nextStatus", () => {
  it("sets the fields, the conditions and observedGeneration; nothing to write once the status says it all", () => {
    const { fields, conditions } = startedRecord(runner, credentials, job);
    const status = nextStatus(runner, fields, conditions, t0)!;
    expect(status).toMatchObject({ ...fields, observedGeneration: 3 });
    expect(status.conditions!.map((c) => [c.type, c.lastTransitionTime, c.observedGeneration])).toEqual([
      ["Registered", t0.toISOString(), 3],
      ["JobCreated", t0.toISOString(), 3],
    ]);
    const written = { ...runner, status: status as AR["status"] } as AR;
    expect(nextStatus(written, fields, conditions, t1)).toBeUndefined();
  });

  it("writes a changed field and keeps the transition time of a condition whose status stays", () => {
    const { fields, conditions } = startedRecord(runner, credentials, job);
    const written = { ...runner, status: nextStatus(runner, fields, conditions, t0) as AR["status"] } as AR;
    const status = nextStatus(written, { phase: "Running" }, [{ ...conditions[1]!, message: "again" }], t1)!;
    expect(status.phase).toBe("Running");
    expect(status.conditions!.find((c) => c.type === "JobCreated")).toMatchObject({
      message: "again",
      lastTransitionTime: t0.toISOString(),
    });
  });
});

function apiError(code: number, message: string): ApiException<string> {
  return new ApiException(code, `POST answered ${code}`, JSON.stringify({ kind: "Status", code, message }), {});
}

describe("a runner Secret or Job the API server would not create", () => {
  const quota =
    'jobs.batch "builders-42-1" is forbidden: exceeded quota: runners, requested: count/jobs.batch=1, used: count/jobs.batch=2, limited: count/jobs.batch=2';

  it("is a refusal for a 4xx answer, naming the object and quoting the API server", () => {
    const refused = creationError("Job ci/builders-42-1", apiError(403, quota));
    expect(refused).toBeInstanceOf(RunnerObjectRefused);
    expect(refused.message).toBe(`the API server refused to create Job ci/builders-42-1: ${quota}`);
    expect(creationError("runner Secret ci/builders-42-1-runner", apiError(422, "invalid"))).toBeInstanceOf(RunnerObjectRefused);
  });

  it("is no refusal when the API server is busy (429), failing (5xx) or not reached", () => {
    for (const error of [apiError(429, "too many requests"), apiError(500, "etcdserver: timeout"), new Error("socket hang up")]) {
      const failure = creationError("Job ci/builders-42-1", error);
      expect(failure).not.toBeInstanceOf(RunnerObjectRefused);
      expect(failure.message).toMatch(/^creating Job ci\/builders-42-1: /);
    }
  });

  it("shows as JobCreated=False with reason FailedCreate, and Registered=True when this pass registered the runner", () => {
    const refused = creationError("Job ci/builders-42-1", apiError(403, quota));
    const failure = startFailure(runner, refused, credentials)!;
    const message = `Could not start the runner: the API server refused to create Job ci/builders-42-1: ${quota}`;
    expect(failure.failed).toEqual({ type: "JobCreated", status: "False", reason: "FailedCreate", message });
    expect(failure.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Registered", "True", "Registered"],
      ["JobCreated", "False", "FailedCreate"],
    ]);
    expect(failure.eventReason).toBe("FailedCreate");
    expect(startFailure(runner, refused, undefined)!.conditions.map((c) => c.type)).toEqual(["JobCreated"]);
    expect(JSON.stringify(failure)).not.toContain("secret-token");
  });
});

describe("a registration that failed", () => {
  it("shows as Registered=False with Forgejo's reason; a refused token is read again at the next try", () => {
    const refused = startFailure(
      runner,
      new ForgejoError("forbidden", "register_runner", "needs the write:organization scope", 403),
      undefined,
    )!;
    expect(refused.failed).toMatchObject({ type: "Registered", status: "False", reason: "Forbidden" });
    expect(refused.failed.message).toBe("Could not register a Forgejo runner: needs the write:organization scope");
    expect(refused).toMatchObject({ eventReason: "RegistrationFailed", tokenRefused: true });
    expect(startFailure(runner, new ForgejoError("timeout", "register_runner", "no answer"), undefined)).toMatchObject({
      failed: { reason: "Timeout" },
      tokenRefused: false,
    });
    expect(startFailure(runner, new CredentialsMissing("SecretNotFound", "Secret ci/token not found"), undefined)?.failed.reason).toBe(
      "SecretNotFound",
    );
  });

  it("is not shown when it is neither Forgejo's answer nor a refusal by the API server (retried and logged)", () => {
    expect(startFailure(runner, new Error("creating Job ci/builders-42-1: etcdserver: timeout"), credentials)).toBeUndefined();
  });
});
