// What both Kubernetes benches share: a fake Forgejo with one organization and an all-scope token "t",
// and the Forgejo job record an ActRunner of theirs carries.
import { FakeForgejo } from "../../test/fake-forgejo/fake-forgejo.ts";

export function benchForgejo(): FakeForgejo {
  return new FakeForgejo({
    tokens: { t: { user: "alice", scopes: ["all"] } },
    organizations: { acme: { owners: ["alice"] } },
    repositories: ["acme/app"],
  });
}

/** The jobData of a bench ActRunner for Forgejo job `id` (runs-on "bench", waiting). */
export function benchJobData(id: number, handle: string) {
  return { id, attempt: 1, handle, repo_id: 1, owner_id: 1, name: "build", needs: null, runs_on: ["bench"], task_id: 0, status: "waiting" };
}
