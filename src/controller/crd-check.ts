// Whether the cluster's CRDs are the ones this controller was generated with. Helm installs crds/ on
// the first install only (docs/install.md), so an upgrade that does not apply them leaves the old
// schemas, which prune fields the new controller writes and refuse values it sends. Every replica
// checks at start and then every CRD_CHECK_INTERVAL_MS; each change is logged once with what to do,
// and forgejo_arc_crd_current{crd} is 1 or 0 (alert ForgejoArcCRDsNotCurrent).
import { Gauge, type Registry } from "prom-client";
import { CRD_SCHEMA_DIGEST_ANNOTATION } from "../api/well-known.ts";
import { CRD_SCHEMA_DIGESTS } from "../generated/crds.ts";
import { apiErrorMessage, ignoreNotFound } from "../k8s/client.ts";
import type { RestClient } from "../k8s/rest.ts";
import type { Logger } from "../observability/log.ts";

export const CRD_CHECK_INTERVAL_MS = 5 * 60_000;

const APPLY_CRDS =
  "Helm installs CRDs on the first install only: apply this release's with kubectl apply --server-side -f chart/forgejo-arc/crds/";

/** What a CRD read says: this release's, or a problem that names what to do, or unreadable (no check). */
export type CrdFinding = { kind: "current" } | { kind: "problem"; problem: string } | { kind: "unreadable"; error: string };

/** The finding for CRD `name` as read (undefined: not found) against the digest this code was generated with. */
export function crdFinding(
  name: string,
  crd: { metadata?: { annotations?: Record<string, string> } } | undefined,
  expected: string,
): CrdFinding {
  if (!crd) return { kind: "problem", problem: `CRD ${name} is not installed. ${APPLY_CRDS}` };
  const digest = crd.metadata?.annotations?.[CRD_SCHEMA_DIGEST_ANNOTATION];
  if (digest === expected) return { kind: "current" };
  return {
    kind: "problem",
    problem: `CRD ${name} is not the one this controller was built with (annotation ${CRD_SCHEMA_DIGEST_ANNOTATION} ${digest ?? "absent"}, this release's ${expected}), so its schema may drop fields the controller writes. ${APPLY_CRDS}`,
  };
}

export class CrdCheck {
  private readonly rest: RestClient;
  private readonly logger: Logger;
  private readonly gauge: Gauge<"crd">;
  /** By CRD name: the last finding's key (current, the problem, unreadable), so that each change is logged once. */
  private readonly last = new Map<string, string>();
  private timer?: NodeJS.Timeout;

  constructor(rest: RestClient, logger: Logger, registry: Registry) {
    this.rest = rest;
    this.logger = logger;
    this.gauge = new Gauge({
      name: "forgejo_arc_crd_current",
      help: "1 when the cluster's CRD is the one this controller was built with, 0 when it differs or is missing (apply chart/forgejo-arc/crds/); absent while it cannot be read.",
      labelNames: ["crd"],
      registers: [registry],
    });
  }

  /** Checks now, then every CRD_CHECK_INTERVAL_MS until stop(). */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.check(), CRD_CHECK_INTERVAL_MS);
    this.timer.unref();
    return this.check();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async check(): Promise<void> {
    await Promise.all(Object.entries(CRD_SCHEMA_DIGESTS).map(([name, digest]) => this.checkOne(name, digest)));
  }

  private async checkOne(name: string, expected: string): Promise<void> {
    const finding = await this.read(name).then(
      (crd) => crdFinding(name, crd, expected),
      (error: unknown): CrdFinding => ({ kind: "unreadable", error: apiErrorMessage(error) }),
    );
    if (finding.kind === "unreadable") this.gauge.remove({ crd: name });
    else this.gauge.set({ crd: name }, finding.kind === "current" ? 1 : 0);
    const key = finding.kind === "problem" ? finding.problem : finding.kind;
    const before = this.last.get(name);
    if (key === before) return;
    this.last.set(name, key);
    if (finding.kind === "problem") this.logger.warn({ crd: name }, finding.problem);
    else if (finding.kind === "unreadable")
      this.logger.info({ crd: name, err: finding.error }, "Cannot read the CRD to check that it is this release's");
    else if (before !== undefined) this.logger.info({ crd: name }, "The CRD is this release's now");
  }

  private read(name: string): Promise<{ metadata?: { annotations?: Record<string, string> } } | undefined> {
    return ignoreNotFound(this.rest.request("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`));
  }
}
