// What both Kubernetes benches share: a fake Forgejo with one organization and an all-scope token "t".
import { FakeForgejo } from "../../test/fake-forgejo/fake-forgejo.ts";

export function benchForgejo(): FakeForgejo {
  return new FakeForgejo({
    tokens: { t: { user: "alice", scopes: ["all"] } },
    organizations: { acme: { owners: ["alice"] } },
    repositories: ["acme/app"],
  });
}
