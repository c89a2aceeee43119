import { nextStatus } from "../../../src/controller/actrunner.ts";
import type { AR } from "../../../src/controller/cache.ts";
import { startedRecord } from "../../../src/controller/runner-start.ts";
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
