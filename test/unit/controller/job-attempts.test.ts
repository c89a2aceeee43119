import type { AR } from "../../../src/controller/cache.ts";
import { actRunnerAttemptKey } from "../../../src/api/overlap.ts";
import { JobAttempts, type ActRunnerRef } from "../../../src/controller/job-attempts.ts";

const HANDLE = "5d0c2d6e-9b1a-4a39-9b52-3f1f2a0e8c11";

function actRunner(name: string, options: { handle?: string; server?: string; status?: AR["status"]; namespace?: string } = {}): AR {
  return {
    apiVersion: "forgejo.actions.io/v1alpha1",
    kind: "ActRunner",
    metadata: { name, namespace: options.namespace ?? "ci", uid: `uid-${name}` },
    spec: {
      forgejoJobID: 7,
      jobHandle: options.handle ?? HANDLE,
      forgejoServer: options.server ?? "https://forgejo.example.com",
      organization: "acme",
      tokenSecretRef: { name: "token" },
      labels: "docker",
      jobData: {
        id: 7,
        handle: options.handle ?? HANDLE,
        repo_id: 1,
        owner_id: 1,
        name: "build",
        runs_on: ["docker"],
        task_id: 0,
        status: "waiting",
      },
    },
    status: options.status,
  } as AR;
}

/** JobAttempts over a world where the ActRunners named in `gone` no longer serve (finished, deleted). */
function attempts(gone: Set<string> = new Set()) {
  return new JobAttempts((ref: ActRunnerRef) => !gone.has(ref.name));
}

describe("JobAttempts", () => {
  it("lets the first ActRunner of a job attempt register and makes a second wait while the first registers, then yield", () => {
    const claims = attempts();
    const first = actRunner("small-7-1");
    const second = actRunner("large-7-1", { namespace: "gpu" });
    expect(claims.claim(first)).toEqual({ kind: "claimed" });
    expect(claims.claim(second)).toEqual({ kind: "wait", by: { namespace: "ci", name: "small-7-1", uid: "uid-small-7-1" } });
    claims.registered(first);
    expect(claims.claim(second)).toEqual({ kind: "served", by: { namespace: "ci", name: "small-7-1", uid: "uid-small-7-1" } });
    // The holder itself may claim again (a retried pass).
    expect(claims.claim(first)).toEqual({ kind: "claimed" });
  });

  it("tells attempts apart by Forgejo server and job handle, not by scope or name", () => {
    const claims = attempts();
    claims.registered(actRunner("a-7-1"));
    expect(claims.claim(actRunner("b-7-2", { handle: "another-attempt" })).kind).toBe("claimed");
    expect(claims.claim(actRunner("c-7-1", { server: "https://other.example.com" })).kind).toBe("claimed");
    expect(claims.claim(actRunner("d-7-1", { server: "https://FORGEJO.example.com/" })).kind).toBe("served");
    expect(actRunnerAttemptKey(actRunner("e", { server: "https://forgejo.example.com/git/" }))).toBe(
      `https://forgejo.example.com/git ${HANDLE}`,
    );
  });

  it("passes an attempt on when its holder finished, went or gave its claim up", () => {
    const gone = new Set<string>();
    const claims = attempts(gone);
    claims.registered(actRunner("a-7-1"));
    gone.add("a-7-1");
    expect(claims.claim(actRunner("b-7-1")).kind).toBe("claimed");
    claims.release("uid-b-7-1");
    expect(claims.claim(actRunner("c-7-1")).kind).toBe("claimed");
  });

  it("starts a term with the unfinished ActRunners that exist: one with a runner serves, one without may be registering", () => {
    const claims = attempts();
    claims.beginTerm([
      actRunner("done-7-1", { status: { phase: "Failed" } }),
      actRunner("running-7-1", { status: { phase: "Running", runnerId: 3 } }),
      actRunner("unknown-8-1", { handle: "h8" }),
    ]);
    expect(claims.claim(actRunner("late-7-1"))).toMatchObject({ kind: "served", by: { name: "running-7-1" } });
    expect(claims.claim(actRunner("late-8-1", { handle: "h8" }))).toMatchObject({ kind: "wait", by: { name: "unknown-8-1" } });
    // The suspect found no runner of its own and gave its claim up: the next ActRunner takes the attempt.
    claims.release("uid-unknown-8-1");
    expect(claims.claim(actRunner("late-8-1", { handle: "h8" })).kind).toBe("claimed");
    // A new term forgets what the last one knew.
    claims.beginTerm([]);
    expect(claims.claim(actRunner("later-7-1")).kind).toBe("claimed");
  });
});
