import { ApiException } from "@kubernetes/client-node";
import pino from "pino";
import { Registry } from "prom-client";
import { Writable } from "node:stream";
import { CRD_SCHEMA_DIGEST_ANNOTATION } from "../../../src/api/well-known.ts";
import { CrdCheck, crdFinding } from "../../../src/controller/crd-check.ts";
import { CRD_SCHEMA_DIGESTS } from "../../../src/generated/crds.ts";
import type { RestClient } from "../../../src/k8s/rest.ts";

const ACTRUNNERS = "actrunners.forgejo.actions.io";
const RUNNER_DEPLOYMENTS = "runnerdeployments.forgejo.actions.io";

const crdWith = (digest?: string): { metadata: { annotations: Record<string, string> } } => ({
  metadata: { annotations: digest ? { [CRD_SCHEMA_DIGEST_ANNOTATION]: digest } : {} },
});

describe("crdFinding", () => {
  it("finds a CRD current when its digest is the one this code was generated with", () => {
    expect(crdFinding(ACTRUNNERS, crdWith("abc"), "abc")).toEqual({ kind: "current" });
  });

  it("names the CRD, both digests and what to apply when they differ or the annotation is absent", () => {
    const older = crdFinding(ACTRUNNERS, crdWith("old"), "new");
    expect(older.kind).toBe("problem");
    expect((older as { problem: string }).problem).toMatch(
      /^CRD actrunners\.forgejo\.actions\.io is not the one this controller was built with \(annotation forgejo\.actions\.io\/schema-digest old, this release's new\).*kubectl apply --server-side -f chart\/forgejo-arc\/crds\/$/,
    );
    expect((crdFinding(ACTRUNNERS, crdWith(), "new") as { problem: string }).problem).toContain("schema-digest absent");
  });

  it("says a missing CRD is not installed", () => {
    expect(crdFinding(ACTRUNNERS, undefined, "new")).toEqual({
      kind: "problem",
      problem: expect.stringMatching(
        /^CRD actrunners\.forgejo\.actions\.io is not installed\. Helm installs CRDs on the first install only/,
      ),
    });
  });
});

describe("CrdCheck", () => {
  /** A check over CRDs served by `answer` (by name: the object, "missing" or "forbidden"), with its log lines and registry. */
  function checkOver(answer: Map<string, object | "missing" | "forbidden">) {
    const lines: { level: number; msg: string; crd: string }[] = [];
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
          done();
        },
      }),
    );
    const rest: RestClient = {
      request: async <T>(_method: string, path: string): Promise<T> => {
        const found = answer.get(decodeURIComponent(path.split("/").at(-1)!));
        if (found === "missing" || found === undefined) throw new ApiException(404, "not found", "{}", {});
        if (found === "forbidden")
          throw new ApiException(403, "forbidden", JSON.stringify({ message: "customresourcedefinitions is forbidden" }), {});
        return found as T;
      },
      close: () => undefined,
    };
    const registry = new Registry();
    return { check: new CrdCheck(rest, logger, registry), lines, registry };
  }

  async function gauge(registry: Registry): Promise<Record<string, number>> {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === "forgejo_arc_crd_current");
    return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.crd), v.value]));
  }

  it("exports 1 for current CRDs, 0 for one that differs, and warns once per change with what to do", async () => {
    const answer = new Map<string, object | "missing" | "forbidden">([
      [ACTRUNNERS, crdWith("older")],
      [RUNNER_DEPLOYMENTS, crdWith(CRD_SCHEMA_DIGESTS[RUNNER_DEPLOYMENTS])],
    ]);
    const { check, lines, registry } = checkOver(answer);
    await check.check();
    await check.check();
    expect(await gauge(registry)).toEqual({ [ACTRUNNERS]: 0, [RUNNER_DEPLOYMENTS]: 1 });
    expect(lines.map((l) => [l.level, l.crd, l.msg.slice(0, 40)])).toEqual([[40, ACTRUNNERS, "CRD actrunners.forgejo.actions.io is not"]]);

    answer.set(ACTRUNNERS, crdWith(CRD_SCHEMA_DIGESTS[ACTRUNNERS]));
    await check.check();
    expect(await gauge(registry)).toEqual({ [ACTRUNNERS]: 1, [RUNNER_DEPLOYMENTS]: 1 });
    expect(lines.at(-1)).toMatchObject({ level: 30, crd: ACTRUNNERS, msg: "The CRD is this release's now" });
    expect(lines).toHaveLength(2);
  });

  it("exports 0 for a missing CRD, and no series, with one info line, for a CRD it may not read", async () => {
    const { check, lines, registry } = checkOver(
      new Map<string, object | "missing" | "forbidden">([
        [ACTRUNNERS, "missing"],
        [RUNNER_DEPLOYMENTS, "forbidden"],
      ]),
    );
    await check.check();
    await check.check();
    expect(await gauge(registry)).toEqual({ [ACTRUNNERS]: 0 });
    expect(lines.map((l) => [l.level, l.crd, l.msg])).toEqual(
      expect.arrayContaining([
        [40, ACTRUNNERS, expect.stringContaining("is not installed")],
        [30, RUNNER_DEPLOYMENTS, "Cannot read the CRD to check that it is this release's"],
      ]),
    );
    expect(lines).toHaveLength(2);
  });
});
