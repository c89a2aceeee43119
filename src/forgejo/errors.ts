// Typed failures of Forgejo calls. The message names the call and what to change; never the token.

export type ForgejoErrorKind =
  "unreachable" | "timeout" | "unauthorized" | "forbidden" | "not_found" | "rate_limited" | "server_error" | "malformed" | "rejected";

export class ForgejoError extends Error {
  readonly kind: ForgejoErrorKind;
  readonly status?: number;
  readonly operation: string;
  /** How long Forgejo asked to wait before the next request (Retry-After of a 429 or 503). */
  readonly retryAfterMs?: number;

  constructor(kind: ForgejoErrorKind, operation: string, message: string, status?: number, cause?: unknown, retryAfterMs?: number) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ForgejoError";
    this.kind = kind;
    this.operation = operation;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  /** Worth trying again later: the server may come back. */
  get transient(): boolean {
    return this.kind === "unreachable" || this.kind === "timeout" || this.kind === "server_error" || this.kind === "rate_limited";
  }
}

export function isForgejoError(error: unknown, kind?: ForgejoErrorKind): error is ForgejoError {
  return error instanceof ForgejoError && (kind === undefined || error.kind === kind);
}

/** The condition reason for a failure of this kind (the listener's poll errors add kubernetes, internal and unsupported). */
export function failureReason(kind: string): string {
  return FAILURE_REASONS[kind] ?? "ForgejoError";
}

const FAILURE_REASONS: Record<string, string> = {
  unreachable: "Unreachable",
  timeout: "Timeout",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  server_error: "ServerError",
  rate_limited: "RateLimited",
  malformed: "MalformedResponse",
  not_found: "NotFound",
  rejected: "Rejected",
  unsupported: "UnsupportedVersion",
  kubernetes: "KubernetesError",
  internal: "InternalError",
};
