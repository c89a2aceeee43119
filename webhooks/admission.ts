// The admission.k8s.io/v1 AdmissionReview envelope and the responses built from it.
import type { AddOperation } from "./json-patch.ts";

export interface AdmissionRequest {
  uid: string;
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  namespace?: string;
  name?: string;
  kind?: { group: string; version: string; kind: string };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  patchType?: "JSONPatch";
  patch?: string;
}

export interface AdmissionReview {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** The verdict of a webhook handler, before it is wrapped into a response. */
export interface Verdict {
  denials: string[];
  warnings: string[];
  patch?: AddOperation[];
}

/**
 * The denials of the schema and of a kind's own rules, each field named once: where an own rule
 * denies a field, its words say more than the schema's generic ones ("must match pattern …"), which go.
 */
export function oncePerField(schemaDenials: string[], ownDenials: string[]): string[] {
  const fieldOf = (denial: string) => denial.split(":", 1)[0];
  const ownFields = new Set(ownDenials.map(fieldOf));
  return [...schemaDenials.filter((denial) => !ownFields.has(fieldOf(denial))), ...ownDenials];
}

export function review(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

export function toResponse(uid: string, verdict: Verdict): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: verdict.denials.length === 0 };
  if (!response.allowed) {
    response.status = { code: 422, reason: "Invalid", message: verdict.denials.join("; ") };
  }
  if (verdict.warnings.length > 0) response.warnings = verdict.warnings;
  if (response.allowed && verdict.patch && verdict.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(verdict.patch)).toString("base64");
  }
  return response;
}

/** Checks the envelope; returns what is wrong with it, or the request. */
export function readRequest(body: unknown): AdmissionRequest | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "body must be an AdmissionReview object";
  if (Object.keys(body).length === 0) return "body is empty; send an AdmissionReview";
  const { apiVersion, kind, request } = body as Partial<AdmissionReview>;
  if (kind !== "AdmissionReview") return `kind must be "AdmissionReview", got ${JSON.stringify(kind)}`;
  if (apiVersion !== "admission.k8s.io/v1") return `apiVersion must be "admission.k8s.io/v1", got ${JSON.stringify(apiVersion)}`;
  if (typeof request !== "object" || request === null) return "request is missing";
  if (typeof request.uid !== "string" || request.uid === "") return "request.uid is missing";
  if (typeof request.operation !== "string") return "request.operation is missing";
  if (request.operation !== "DELETE" && (typeof request.object !== "object" || request.object === null)) {
    return "request.object is missing";
  }
  return request;
}
