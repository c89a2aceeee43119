// Forgejo API objects as this project reads them (forgejo.md).
import type { ForgejoJob } from "../generated/api.ts";

export type { ForgejoJob };

export interface RegisteredRunner {
  id: number;
  uuid: string;
  token: string;
}

export interface ForgejoRunner {
  id: number;
  uuid: string;
  name: string;
  status: "offline" | "idle" | "active" | string;
  ephemeral: boolean;
  labels?: string[];
  owner_id?: number;
  repo_id?: number;
  version?: string;
  description?: string;
}
