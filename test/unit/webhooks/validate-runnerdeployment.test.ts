import request from "supertest";
import { jest } from "@jest/globals";
import type { V1Deployment, V1Job, V1Pod, V1Role, V1Secret } from "@kubernetes/client-node";
import type { ActRunner } from "../../../src/generated/api.ts";
import { WEBHOOK_PATHS } from "../../../webhooks/app.ts";
import { NAMESPACE, rd, review } from "../../fixtures/resources.ts";
import { POD_OPTIONS, testApp } from "../../fixtures/webhook-app.ts";
import type { AdmissionResponse } from "../../../webhooks/admission.ts";
import { answerWithinMs, type DryRun, type DryRunRequest } from "../../../webhooks/dry-run.ts";

const path = WEBHOOK_PATHS.validateRunnerDeployments;

async function validate(object: unknown, app = testApp(), operation: "CREATE" | "UPDATE" = "CREATE"): Promise<AdmissionResponse> {
  const res = await request(app)
    .post(path)
    .send(review({ operation, object, oldObject: operation === "UPDATE" ? rd() : undefined }));
  expect(res.status).toBe(200);
  return res.body.response as AdmissionResponse;
}

describe("validating webhook for RunnerDeployment", () => {
  it("allows a valid RunnerDeployment and echoes the request uid", async () => {
    const body = review({ object: rd({ spec: { labels: "ubuntu-22.04:host" } }) });
    const res = await request(testApp()).post(path).send(body);
    expect(res.body.response).toEqual({ uid: body.request!.uid, allowed: true });
    expect(res.body.kind).toBe("AdmissionReview");
    expect(res.body.apiVersion).toBe("admission.k8s.io/v1");
  });

  it("allows a repository scope instead of an organization", async () => {
    expect((await validate(rd({ spec: { organization: undefined, repository: "acme/app", labels: "x:host" } }))).allowed).toBe(true);
  });

  it("allows a Forgejo served under a path, also one that has api in it", async () => {
    for (const forgejoServer of ["https://code.example.com/forgejo/", "https://api.example.com/api/v1-forgejo"])
      expect((await validate(rd({ spec: { forgejoServer, labels: "x:host" } }))).allowed).toBe(true);
  });

  it("allows the token's user or the whole instance as the scope", async () => {
    expect((await validate(rd({ spec: { organization: undefined, user: true, labels: "x:host" } }))).allowed).toBe(true);
    expect((await validate(rd({ spec: { organization: undefined, instance: true, labels: "x:host" } }))).allowed).toBe(true);
  });

  it.each([
    ["an unknown spec field (a typo)", { spec: { pollInterva: "5s" } }, "spec.pollInterva: unknown field"],
    ["an unknown field in tokenSecretRef", { spec: { tokenSecretRef: { nmae: "x" } } }, "spec.tokenSecretRef.nmae: unknown field"],
    ["a missing forgejoServer", { spec: { forgejoServer: undefined } }, "spec.forgejoServer: required"],
    ["a missing labels", { spec: { labels: undefined } }, "spec.labels: required"],
    ["a missing tokenSecretRef", { spec: { tokenSecretRef: undefined } }, "spec.tokenSecretRef: required"],
    ["a wrong type", { spec: { maxRunners: "3" } }, "spec.maxRunners: must be integer"],
    [
      "a forgejoServer that is no URL",
      { spec: { forgejoServer: "https://" } },
      'spec.forgejoServer: must be an http(s) URL such as "https://code.example.com", got "https://"',
    ],
    ["a forgejoServer with another scheme", { spec: { forgejoServer: "ftp://code.example.com" } }, "spec.forgejoServer"],
    [
      "a forgejoServer with credentials",
      { spec: { forgejoServer: "https://bob:secret@code.example.com" } },
      "spec.forgejoServer: must not contain credentials",
    ],
    [
      "a forgejoServer with a query",
      { spec: { forgejoServer: "https://code.example.com/?a=1" } },
      "spec.forgejoServer: must not contain a query or fragment",
    ],
    [
      "a forgejoServer with Forgejo's API path",
      { spec: { forgejoServer: "https://code.example.com/forgejo/api/v1/" } },
      'spec.forgejoServer: is the URL Forgejo is served at, without its API path /api/v1 (added to every call), got "https://code.example.com/forgejo/api/v1/"; use "https://code.example.com/forgejo"',
    ],
    [
      "a forgejoServer with a fragment",
      { spec: { forgejoServer: "https://code.example.com/#x" } },
      "spec.forgejoServer: must not contain a query or fragment",
    ],
    [
      "no scope",
      { spec: { organization: undefined } },
      "spec: exactly one scope must be set, spec.organization, spec.repository, spec.user or spec.instance, got none",
    ],
    ["two scopes", { spec: { repository: "acme/app" } }, "got spec.organization and spec.repository"],
    ["an organization and the instance", { spec: { instance: true } }, "got spec.organization and spec.instance"],
    ["instance: false", { spec: { organization: undefined, instance: false } }, "spec.instance"],
    [
      "an organization name with a space",
      { spec: { organization: "ac me" } },
      'spec.organization: must contain only letters, digits, "-", "_" and ".", start and end with a letter or digit, and not repeat punctuation, got "ac me"',
    ],
    ["an organization name ending in a dash", { spec: { organization: "acme-" } }, 'got "acme-"'],
    ["an organization name longer than 40", { spec: { organization: "a".repeat(41) } }, "spec.organization: must be at most 40 characters"],
    ["a repository without owner", { spec: { organization: undefined, repository: "app" } }, "spec.repository"],
    [
      "a label with a bad name",
      { spec: { labels: "ubuntu latest" } },
      'spec.labels: label "ubuntu latest": the name "ubuntu latest" must start with a letter or digit',
    ],
    [
      "a label with an unknown scheme",
      { spec: { labels: "x:vm" } },
      'spec.labels: label "x:vm": after "x:" expected "host", "docker" or "docker://image", got "vm"',
    ],
    ["a label with the lxc scheme", { spec: { labels: "x:lxc://debian" } }, "the lxc scheme cannot run in a Kubernetes pod"],
    [
      "a docker label without image",
      { spec: { labels: "x:docker://" } },
      'spec.labels: label "x:docker://": docker:// must be followed by an image reference',
    ],
    [
      "a label name used twice",
      { spec: { labels: "x:host,x:docker" } },
      'spec.labels: label "x:docker": the name "x" is already used by "x:host"',
    ],
    ["only commas as labels", { spec: { labels: " , " } }, "spec.labels: no label given"],
    ["a pollInterval below 2s", { spec: { pollInterval: "500ms" } }, 'spec.pollInterval: must be between 2s and 1h, got "500ms"'],
    ["a pollInterval above 1h", { spec: { pollInterval: "2h" } }, 'spec.pollInterval: must be between 2s and 1h, got "2h"'],
    [
      "a pollInterval that is no duration",
      { spec: { pollInterval: "ten" } },
      'spec.pollInterval: must be a duration such as "10s" or "1m30s", got "ten"',
    ],
    ["a pickupTimeout below 30s", { spec: { pickupTimeout: "5s" } }, 'spec.pickupTimeout: must be between 30s and 24h, got "5s"'],
    [
      "a retention above 7 days",
      { spec: { retentionAfterFinish: "200h" } },
      'spec.retentionAfterFinish: must be between 0ms and 168h, got "200h"',
    ],
    [
      "a token Secret in another namespace",
      { spec: { tokenSecretRef: { namespace: "kube-system" } } },
      `spec.tokenSecretRef.namespace: must be the RunnerDeployment's own namespace "${NAMESPACE}", got "kube-system"`,
    ],
    ["maxRunners of 0", { spec: { maxRunners: 0 } }, "spec.maxRunners: must be >= 1, got 0"],
    [
      "a name longer than 63 characters (a label value)",
      { metadata: { name: "r".repeat(64) } },
      "metadata.name: must NOT have more than 63 characters",
    ],
    [
      "a runnerTemplate without a runner container",
      { spec: { runnerTemplate: { spec: { containers: [{ name: "main", image: "x" }] } } } },
      'spec.runnerTemplate.spec.containers: must include a container named "runner"',
    ],
    [
      "a runnerTemplate that restarts",
      { spec: { runnerTemplate: { spec: { restartPolicy: "OnFailure" } } } },
      'spec.runnerTemplate.spec.restartPolicy: must be Never or unset, got "OnFailure"',
    ],
    [
      "a listenerTemplate without a listener container",
      { spec: { listenerTemplate: { spec: { containers: [{ name: "x" }] } } } },
      'spec.listenerTemplate.spec.containers: must include a container named "listener"',
    ],
    [
      "a listenerTemplate that never restarts",
      { spec: { listenerTemplate: { spec: { restartPolicy: "Never" } } } },
      'spec.listenerTemplate.spec.restartPolicy: must be Always or unset, got "Never"',
    ],
    [
      "runner arguments in the runnerTemplate (they would replace --uuid and --handle)",
      { spec: { runnerTemplate: { spec: { containers: [{ name: "runner", args: ["one-job", "--debug"] }] } } } },
      "spec.runnerTemplate.spec.containers[0].args: must not be set: the controller gives the runner its arguments (one-job with this runner's --uuid, --token-url, --label and the job's --handle), which these would replace; to wrap the runner, set command to a script that ends with exec forgejo-runner \"$@\"",
    ],
    [
      "a listener command in the listenerTemplate",
      { spec: { listenerTemplate: { spec: { containers: [{ name: "x" }, { name: "listener", command: ["sh"] }] } } } },
      "spec.listenerTemplate.spec.containers[1].command: must not be set: the controller runs the listener with its own command and flags, which come from the RunnerDeployment's spec",
    ],
    [
      "listener arguments in the listenerTemplate",
      { spec: { listenerTemplate: { spec: { containers: [{ name: "listener", args: ["listener", "--labels=x:host"] }] } } } },
      "spec.listenerTemplate.spec.containers[0].args: must not be set",
    ],
    [
      "a runnerTemplate volume named like the runner's credentials volume",
      {
        spec: {
          runnerTemplate: {
            spec: {
              volumes: [
                { name: "cache", emptyDir: {} },
                { name: "credentials", secret: { secretName: "aws" } },
              ],
            },
          },
        },
      },
      'spec.runnerTemplate.spec.volumes[1].name: must not be "credentials": that volume is the runner\'s own (its token, from the Secret the controller writes for each runner), which this would replace; name yours otherwise',
    ],
    [
      "a runner mount at the credentials path",
      {
        spec: {
          runnerTemplate: {
            spec: { containers: [{ name: "runner", volumeMounts: [{ name: "aws", mountPath: "/var/run/forgejo-arc/runner/" }] }] },
          },
        },
      },
      'spec.runnerTemplate.spec.containers[0].volumeMounts[0].mountPath: must not be "/var/run/forgejo-arc/runner": that mount is the runner\'s own',
    ],
    [
      "the listener's token in the listenerTemplate (a Secret in an env value)",
      {
        spec: {
          listenerTemplate: {
            spec: {
              containers: [
                {
                  name: "listener",
                  env: [
                    { name: "LOG_LEVEL", value: "debug" },
                    { name: "FORGEJO_TOKEN", value: "abc" },
                  ],
                },
              ],
            },
          },
        },
      },
      "spec.listenerTemplate.spec.containers[0].env[1]: must not set FORGEJO_TOKEN: the listener's token comes from spec.tokenSecretRef, through a secretKeyRef; name the token's Secret there",
    ],
    [
      "the listener's namespace in the listenerTemplate",
      { spec: { listenerTemplate: { spec: { containers: [{ name: "listener", env: [{ name: "POD_NAMESPACE", value: "other" }] }] } } } },
      "spec.listenerTemplate.spec.containers[0].env[0]: must not set POD_NAMESPACE",
    ],
    [
      "a runnerImage a container runtime cannot parse",
      { spec: { runnerImage: "Runner:12" } },
      'spec.runnerImage: "Runner:12" is not an image reference: repository names are lowercase',
    ],
    [
      "a template container image a container runtime cannot parse",
      { spec: { runnerTemplate: { spec: { initContainers: [{ name: "setup", image: "busybox:" }] } } } },
      'spec.runnerTemplate.spec.initContainers[0].image: "busybox:" is not an image reference [registry[:port]/]path[:tag]',
    ],
    ["minRunners above maxRunners", { spec: { minRunners: 5, maxRunners: 2 } }, "spec.minRunners: must not exceed spec.maxRunners"],
    [
      "a listener proxy that is not a URL",
      {
        spec: {
          listenerTemplate: { spec: { containers: [{ name: "listener", env: [{ name: "HTTPS_PROXY", value: "socks5://proxy:1080" }] }] } },
        },
      },
      "spec.listenerTemplate.spec.containers[0].env: $HTTPS_PROXY: not the URL of an HTTP proxy; write it as http://host:port",
    ],
  ])("denies %s", async (_title, overrides, message) => {
    const response = await validate(rd(overrides as Parameters<typeof rd>[0]));
    expect(response.allowed).toBe(false);
    expect(response.status?.code).toBe(422);
    expect(response.status?.message).toContain(message);
  });

  it("admits listener proxy variables that are URLs or come from a Secret", async () => {
    const env = [
      { name: "HTTPS_PROXY", value: "proxy.example:3128" },
      { name: "HTTP_PROXY", valueFrom: { secretKeyRef: { name: "proxy", key: "url" } } },
      { name: "NO_PROXY", value: ".svc,10.0.0.0/8" },
    ];
    const response = await validate(
      rd({ spec: { labels: "x:host", listenerTemplate: { spec: { containers: [{ name: "listener", env }] } } } }),
    );
    expect(response).toMatchObject({ allowed: true });
  });

  it("denies on UPDATE as on CREATE", async () => {
    const response = await validate(rd({ spec: { pollInterval: "1s" } }), testApp(), "UPDATE");
    expect(response.status?.message).toContain('spec.pollInterval: must be between 2s and 1h, got "1s"');
  });

  it.each([
    ["maxRunners below 1 (the schema's minimum alone)", { maxRunners: 0 }, "spec.maxRunners", "must be >= 1, got 0"],
    ["a duration the schema's pattern refuses", { pollInterval: "ten" }, "spec.pollInterval", "must be a duration such as"],
    ["a server the schema's pattern refuses", { forgejoServer: "ftp://x" }, "spec.forgejoServer", "must use https (or http)"],
    ["an empty labels string", { labels: "" }, "spec.labels", "no label given"],
  ])("names each field once, in the clearest words: %s", async (_title, spec, field, words) => {
    const message = (await validate(rd({ spec }))).status?.message ?? "";
    expect(message.split(`${field}:`)).toHaveLength(2);
    expect(message).toContain(`${field}: ${words}`);
    expect(message).not.toContain("must match pattern");
  });

  it("lists every problem, not only the first", async () => {
    const response = await validate(rd({ spec: { pollInterval: "1s", maxRunners: 0 } }));
    expect(response.status?.message).toContain("spec.pollInterval");
    expect(response.status?.message).toContain("spec.maxRunners");
  });

  it.each([
    [
      "an http forgejoServer",
      { spec: { forgejoServer: "http://forgejo.local:3000", labels: "x:host" } },
      'spec.forgejoServer: "http://forgejo.local:3000" uses http',
    ],
    [
      "a pollInterval below 5s",
      { spec: { pollInterval: "3s", labels: "x:host" } },
      'spec.pollInterval: "3s" polls Forgejo more than once per 5s',
    ],
    ["warm runners, which are not built", { spec: { labels: "x:host", minRunners: 1 } }, "spec.minRunners: 1 has no effect yet"],
    [
      "a retention too short to count a job's tries",
      { spec: { labels: "x:host", retentionAfterFinish: "10s" } },
      'spec.retentionAfterFinish: "10s" deletes failed ActRunners before the listener has counted them',
    ],
    [
      "a docker label",
      { spec: { labels: "x:docker://alpine:3" } },
      "spec.labels: a docker label runs each runner pod with a privileged Docker-in-Docker sidecar",
    ],
  ])("allows with a warning %s", async (_title, overrides, warning) => {
    const response = await validate(rd(overrides as Parameters<typeof rd>[0]));
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([expect.stringContaining(warning)]);
  });

  it("warns that a CA bundle does nothing for an http Forgejo, and not for an https one", async () => {
    const http = await validate(
      rd({ spec: { labels: "x:host", forgejoServer: "http://forgejo.local:3000", caBundleConfigMapRef: { name: "ca" } } }),
    );
    expect(http.warnings).toContainEqual(expect.stringContaining("spec.caBundleConfigMapRef: has no effect with an http forgejoServer"));
    const https = await validate(
      rd({ spec: { labels: "x:host", forgejoServer: "https://code.example.com", caBundleConfigMapRef: { name: "ca" } } }),
    );
    expect(https).toMatchObject({ allowed: true });
    expect(https.warnings ?? []).toEqual([]);
  });

  it("warns about RunnerDeployments that list the same jobs through shared label names, not about itself or apart ones", async () => {
    const other = (namespace: string, name: string, spec: NonNullable<Parameters<typeof rd>[0]>["spec"]) =>
      rd({ metadata: { namespace, name }, spec });
    const existing = [
      rd(), // itself, as an UPDATE sees it
      other("gpu", "large", { labels: "docker,gpu:host" }),
      other("ci", "repo-runners", { organization: undefined, repository: "acme/app", labels: "ubuntu-22.04:host" }),
      other("ci", "elsewhere", { organization: "other" }),
      other("ci", "arm", { labels: "arm64:host" }),
    ];
    const response = await validate(
      rd({ spec: { labels: "docker:host,ubuntu-22.04:host" } }),
      testApp({ runnerDeployments: () => existing }),
    );
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      "spec.labels: shares label names with RunnerDeployment ci/repo-runners (ubuntu-22.04), gpu/large (docker) on the same Forgejo server and scope: " +
        "a job that asks only for shared names gets one runner, from whichever of them sees it first; give each RunnerDeployment label names of its own if that matters",
    ]);
    expect((await validate(rd({ spec: { labels: "x:host" } }), testApp({ runnerDeployments: () => existing }))).warnings).toBeUndefined();
  });

  it("omits warnings when there are none", async () => {
    const response = await validate(rd({ spec: { labels: "x:host" } }));
    expect(response).not.toHaveProperty("warnings");
  });

  it("warns about a template label that its pods do not carry as given, the controller's own keys, and admits", async () => {
    const response = await validate(
      rd({
        spec: {
          labels: "x:host",
          runnerTemplate: { metadata: { labels: { "app.kubernetes.io/name": "ci", "forgejo.actions.io/job-attempt": "7", team: "a" } } },
          listenerTemplate: {
            metadata: { labels: { "forgejo.actions.io/runner-deployment": "other", "app.kubernetes.io/managed-by": "forgejo-arc" } },
          },
        },
      }),
    );
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      'spec.runnerTemplate.metadata.labels["app.kubernetes.io/name"]: "ci" is not used: forgejo-arc sets this label on its pods itself; use a key of your own',
      'spec.listenerTemplate.metadata.labels["forgejo.actions.io/runner-deployment"]: "other" is not used: forgejo-arc sets this label on its pods itself; use a key of your own',
    ]);
  });

  it("warns when spec.runnerImage is not used because the runnerTemplate's runner container names another image", async () => {
    const runnerTemplate = (image: string) => ({ spec: { containers: [{ name: "runner", image }] } });
    const warned = await validate(
      rd({ spec: { labels: "x:host", runnerImage: "example/runner:1", runnerTemplate: runnerTemplate("example/runner:2") } }),
    );
    expect(warned.allowed).toBe(true);
    expect(warned.warnings).toEqual([
      'spec.runnerImage: "example/runner:1" is not used: the runner container of spec.runnerTemplate names the image "example/runner:2", which wins; set the image in one place',
    ]);
    const same = await validate(
      rd({ spec: { labels: "x:host", runnerImage: "example/runner:1", runnerTemplate: runnerTemplate("example/runner:1") } }),
    );
    expect(same).not.toHaveProperty("warnings");
    expect(await validate(rd({ spec: { labels: "x:host", runnerImage: "example/runner:1" } }))).not.toHaveProperty("warnings");
  });

  it("warns about a spec.maxRunners above what the namespace's count quotas allow, and admits without the check when the quotas cannot be read", async () => {
    const asked: string[] = [];
    const quotas = async (namespace: string) => {
      asked.push(namespace);
      return [{ metadata: { name: "team" }, spec: { hard: { "count/jobs.batch": "3" } } }];
    };
    const warned = await validate(rd({ spec: { labels: "x:host", maxRunners: 5 } }), testApp({ resourceQuotas: quotas }));
    expect(asked).toEqual([NAMESPACE]);
    expect(warned.allowed).toBe(true);
    expect(warned.warnings).toEqual([
      expect.stringMatching(/^spec\.maxRunners lets 5 runners run at once, but ResourceQuota "team" allows 3 Jobs/),
    ]);
    const unread = await validate(
      rd({ spec: { labels: "x:host", maxRunners: 5 } }),
      testApp({ resourceQuotas: () => Promise.reject(new Error("forbidden")) }),
    );
    expect(unread).toMatchObject({ allowed: true });
    expect(unread).not.toHaveProperty("warnings");
  });

  it("counts the runner pods against compute quotas as the dry-run admitted them: a LimitRange's defaults count", async () => {
    const quotas = async () => [{ metadata: { name: "team" }, spec: { hard: { "limits.memory": "8Gi" } } }];
    // The API server's LimitRanger gives a container without a memory limit the namespace's default.
    const withDefaultLimit = (pod: V1Pod): V1Pod => ({
      ...pod,
      spec: {
        ...pod.spec!,
        containers: pod.spec!.containers.map((c) => ({
          ...c,
          resources: { ...c.resources, limits: { memory: "2Gi", ...c.resources?.limits } },
        })),
      },
    });
    const dryRun = jest.fn<DryRun>(async (request) =>
      request.kind === "Pod" ? { warnings: [], admitted: withDefaultLimit(request.object) } : { warnings: [] },
    );
    const spec = { labels: "x:host", maxRunners: 10 };
    const warned = await validate(rd({ spec }), testApp({ resourceQuotas: quotas, dryRun }));
    expect(warned.warnings).toEqual([
      expect.stringMatching(
        /ResourceQuota "team" allows limits.memory 8Gi in this namespace and each runner pod takes 2048Mi of memory: 3 fit after the listener's 256Mi of memory/,
      ),
    ]);
    // As built the runner pod sets no memory limit, so without the dry-run's answer it counts none.
    expect(await validate(rd({ spec }), testApp({ resourceQuotas: quotas }))).not.toHaveProperty("warnings");
  });

  it("warns about each image pull Secret the runner or listener pod names that the namespace lacks, saying where it was named", async () => {
    const asked: [string, string[]][] = [];
    const missingSecrets = async (namespace: string, names: string[]) => {
      asked.push([namespace, names]);
      return names.filter((name) => name !== "present");
    };
    const app = testApp({
      missingSecrets,
      podOptions: { ...POD_OPTIONS, listener: { ...POD_OPTIONS.listener, imagePullSecrets: ["regcred"] } },
    });
    const spec = {
      labels: "x:host",
      runnerTemplate: { spec: { imagePullSecrets: [{ name: "runner-registry" }, { name: "present" }] } },
      listenerTemplate: { spec: { imagePullSecrets: [{ name: "team-mirror" }] } },
    };
    const warned = await validate(rd({ spec }), app);
    expect(asked).toEqual([[NAMESPACE, ["runner-registry", "present", "regcred", "team-mirror"]]]);
    expect(warned.allowed).toBe(true);
    expect(warned.warnings).toEqual([
      `spec.runnerTemplate.spec.imagePullSecrets: Secret "runner-registry" does not exist in namespace "${NAMESPACE}": the runner pods would pull their images without it (ImagePullBackOff where a registry needs it); create it there`,
      `spec.listenerTemplate: the controller gives listener pods the image pull Secret "regcred" (the chart's listener.imagePullSecrets), which does not exist in namespace "${NAMESPACE}": the listener pod would pull the operator's image without it (ImagePullBackOff where its registry needs it); create it there`,
      `spec.listenerTemplate.spec.imagePullSecrets: Secret "team-mirror" does not exist in namespace "${NAMESPACE}": the listener pod would pull its image without it (ImagePullBackOff where its registry needs it); create it there`,
    ]);
    // Nothing named: nothing asked. Unreadable: admitted without the check.
    asked.length = 0;
    expect(await validate(rd({ spec: { labels: "x:host" } }), testApp({ missingSecrets }))).not.toHaveProperty("warnings");
    expect(asked).toEqual([]);
    const unread = await validate(rd({ spec }), testApp({ missingSecrets: () => Promise.reject(new Error("forbidden")) }));
    expect(unread).toMatchObject({ allowed: true });
    expect(unread).not.toHaveProperty("warnings");
  });

  describe("dry-run of the objects the RunnerDeployment makes", () => {
    const ADMITTED = { warnings: [] };
    /** What was sent to the dry-run, by kind: Pods by their first container's name ("runner", "listener"). */
    const sent = (dryRun: jest.Mock<DryRun>) =>
      Object.fromEntries(
        dryRun.mock.calls.map(([request]) => [
          request.kind === "Pod" ? (request.object.spec?.containers?.[0]?.name ?? "") : request.kind,
          request.object as V1Pod & V1Job & V1Deployment & V1Secret & V1Role & ActRunner,
        ]),
      );
    const isRunnerPod = (request: DryRunRequest) => request.kind === "Pod" && request.object.spec?.containers?.[0]?.name === "runner";

    it("sends what is made for each job and the listener's objects, and returns a refusal", async () => {
      const dryRun = jest.fn(async (request: DryRunRequest) =>
        isRunnerPod(request)
          ? {
              refusal:
                'Pod "x" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
              warnings: [],
            }
          : ADMITTED,
      );
      const object = rd({
        metadata: { labels: { team: "platform", "argocd.argoproj.io/instance": "runners" } },
        spec: {
          labels: "x:host",
          runnerTemplate: { spec: { containers: [{ name: "runner", resources: { requests: { cpu: "2" }, limits: { cpu: "1" } } }] } },
          listenerTemplate: { metadata: { labels: { team: "a" } } },
        },
      });
      const response = await validate(object, testApp({ dryRun }));
      expect(dryRun.mock.calls.map(([request]) => request.kind).sort()).toEqual([
        "ActRunner",
        "Deployment",
        "Job",
        "Pod",
        "Pod",
        "Role",
        "Secret",
        "ServiceAccount",
      ]);
      expect(new Set(dryRun.mock.calls.map(([request]) => request.namespace))).toEqual(new Set([NAMESPACE]));
      const { runner, listener, Job, Deployment, Secret, ActRunner, ServiceAccount, Role } = sent(dryRun);
      expect(runner).toMatchObject({
        kind: "Pod",
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "runner", image: "code.forgejo.org/forgejo/runner:12.8.0", resources: { limits: { cpu: "1" } } }],
        },
      });
      expect(listener).toMatchObject({ metadata: { labels: { team: "a" } }, spec: { restartPolicy: "Always" } });
      // A new Job for each job (generateName, whatever Jobs exist); the Deployment by the name the controller applies.
      expect(Job).toMatchObject({ kind: "Job", metadata: { generateName: "builders-runner-" }, spec: { backoffLimit: 0 } });
      expect(Job!.metadata).not.toHaveProperty("name");
      // With the RunnerDeployment's labels, as the listener and the controller pass them on.
      expect(Job!.metadata!.labels).toMatchObject({ team: "platform" });
      expect(Deployment!.metadata!.labels).toMatchObject({ team: "platform" });
      expect(Job!.metadata!.labels).not.toHaveProperty("argocd.argoproj.io/instance");
      expect(Job!.spec!.template.spec).toEqual(runner!.spec);
      // The ActRunner as the listener creates it, and its runner Secret as the controller does; new for each job too.
      expect(ActRunner).toMatchObject({
        kind: "ActRunner",
        metadata: {
          generateName: "builders-",
          labels: { team: "platform", "forgejo.actions.io/runner-deployment": "builders" },
          finalizers: ["forgejo.actions.io/runner-cleanup"],
          ownerReferences: [{ kind: "RunnerDeployment", name: "builders", controller: true }],
        },
        spec: { labels: "x:host", jobTemplate: object.spec.runnerTemplate, tokenSecretRef: { namespace: NAMESPACE } },
      });
      expect(Secret).toMatchObject({
        kind: "Secret",
        immutable: true,
        metadata: { generateName: "builders-runner-", labels: { team: "platform" }, ownerReferences: [{ kind: "ActRunner" }] },
      });
      for (const made of [ActRunner, Secret]) {
        expect(made!.metadata).not.toHaveProperty("name");
        expect(made!.metadata).not.toHaveProperty("uid");
        expect(made!.metadata!.labels).not.toHaveProperty("argocd.argoproj.io/instance");
      }
      // The listener's ServiceAccount and Role by the names the controller applies them with.
      for (const [made, kind] of [
        [ServiceAccount, "ServiceAccount"],
        [Role, "Role"],
      ] as const)
        expect(made).toMatchObject({ kind, metadata: { name: "builders-listener", namespace: NAMESPACE, labels: { team: "platform" } } });
      expect(Deployment).toMatchObject({
        kind: "Deployment",
        metadata: { name: "builders-listener", namespace: NAMESPACE },
        spec: { template: { metadata: { labels: { team: "a" } } } },
      });
      expect(response.allowed).toBe(false);
      expect(response.status?.message).toBe(
        'spec.runnerTemplate: the API server would refuse the runner Pod made for each job (from spec.labels, spec.runnerImage and spec.runnerTemplate): Pod "x" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
      );
    });

    it("denies what the API server would refuse of the runner Job or the listener Deployment themselves (a policy on Jobs)", async () => {
      const policy =
        "jobs.batch \"builders-runner-x\" is forbidden: ValidatingAdmissionPolicy 'no-jobs' denied request: Jobs must carry a team label";
      const quota =
        'deployments.apps "builders-listener" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1';
      const dryRun = jest.fn(async (request: DryRunRequest) =>
        request.kind === "Job"
          ? { refusal: policy, warnings: [] }
          : request.kind === "Deployment"
            ? { refusal: quota, warnings: [] }
            : ADMITTED,
      );
      const response = await validate(rd({ spec: { labels: "x:host" } }), testApp({ dryRun }));
      expect(response.allowed).toBe(false);
      expect(response.status?.message).toBe(
        `spec.runnerTemplate: the API server would refuse the runner Job made for each job (from spec.labels, spec.runnerImage and spec.runnerTemplate): ${policy} (the Job carries the RunnerDeployment's metadata.labels, its pod those of spec.runnerTemplate.metadata.labels)`,
      );
      expect(response.warnings).toEqual([
        `spec.listenerTemplate: no room in the namespace's ResourceQuota for the listener Deployment (from spec.listenerTemplate) now, so it waits until there is: ${quota}`,
      ]);
    });

    it("builds the pods with the controller's pod templates in, and says so when the API server refuses them", async () => {
      const refusal = 'Pod "x" is forbidden: no PriorityClass with name ci-runners was found';
      const dryRun = jest.fn(async (request: DryRunRequest) =>
        request.kind === "Pod" || request.kind === "Job" || request.kind === "Deployment" ? { refusal, warnings: [] } : ADMITTED,
      );
      const podOptions = {
        job: { ...POD_OPTIONS.job, podTemplate: { spec: { priorityClassName: "ci-runners", imagePullSecrets: [{ name: "ci-mirror" }] } } },
        listener: { ...POD_OPTIONS.listener, podTemplate: { spec: { priorityClassName: "ci-runners" } } },
      };
      const spec = { labels: "x:host", runnerTemplate: { spec: { nodeSelector: { pool: "gpu" } } } };
      const response = await validate(rd({ spec }), testApp({ dryRun, podOptions, missingSecrets: async (_, names) => names }));
      const { runner, listener } = sent(dryRun);
      expect(runner!.spec).toMatchObject({ priorityClassName: "ci-runners", nodeSelector: { pool: "gpu" } });
      expect(listener!.spec).toMatchObject({ priorityClassName: "ci-runners" });
      expect(response.allowed).toBe(false);
      expect(response.status?.message?.split("; ")).toEqual([
        `spec.runnerTemplate: the API server would refuse the runner Pod made for each job (from spec.labels, spec.runnerImage, spec.runnerTemplate and the controller's --runner-pod-template): ${refusal}`,
        `spec.runnerTemplate: the API server would refuse the runner Job made for each job (from spec.labels, spec.runnerImage, spec.runnerTemplate and the controller's --runner-pod-template): ${refusal} (the Job carries the RunnerDeployment's metadata.labels, its pod those of spec.runnerTemplate.metadata.labels)`,
        `spec.listenerTemplate: the API server would refuse the listener Pod (from spec.listenerTemplate and the controller's --listener-pod-template): ${refusal}`,
        `spec.listenerTemplate: the API server would refuse the listener Deployment (from spec.listenerTemplate and the controller's --listener-pod-template): ${refusal} (the Deployment carries the RunnerDeployment's metadata.labels, its pod those of spec.listenerTemplate.metadata.labels)`,
      ]);
      const admitted = await validate(
        rd({ spec }),
        testApp({ dryRun: jest.fn(async () => ADMITTED), podOptions, missingSecrets: async (_, names) => names }),
      );
      expect(admitted.warnings).toEqual([
        `spec.runnerTemplate: the controller gives runner pods the image pull Secret "ci-mirror" (the chart's runner.podTemplate), which does not exist in namespace "${NAMESPACE}": the runner pods would pull their images without it (ImagePullBackOff where a registry needs it); create it there`,
      ]);
    });

    it("denies what the API server would refuse of the runner Secret, the ActRunner or the listener's ServiceAccount and Role, naming where their labels come from", async () => {
      const policy = (kind: string) =>
        `${kind} "x" is forbidden: ValidatingAdmissionPolicy 'team' denied request: a team label is required`;
      const quota =
        'actrunners.forgejo.actions.io "builders-x" is forbidden: exceeded quota: q, requested: count/actrunners.forgejo.actions.io=1, used: count/actrunners.forgejo.actions.io=4, limited: count/actrunners.forgejo.actions.io=4';
      const dryRun = jest.fn(async (request: DryRunRequest) =>
        request.kind === "ActRunner"
          ? { refusal: quota, warnings: [] }
          : ["Secret", "ServiceAccount", "Role"].includes(request.kind)
            ? { refusal: policy(request.kind), warnings: [] }
            : ADMITTED,
      );
      const response = await validate(rd({ spec: { labels: "x:host" } }), testApp({ dryRun }));
      expect(response.allowed).toBe(false);
      expect(response.status?.message?.split("; ")).toEqual([
        `metadata: the API server would refuse the runner Secret made for each job: ${policy("Secret")} (the Secret carries the RunnerDeployment's metadata.labels)`,
        `metadata: the API server would refuse the listener ServiceAccount: ${policy("ServiceAccount")} (the ServiceAccount carries the RunnerDeployment's metadata.labels)`,
        `metadata: the API server would refuse the listener Role: ${policy("Role")} (the Role carries the RunnerDeployment's metadata.labels)`,
      ]);
      expect(response.warnings).toEqual([
        `metadata: no room in the namespace's ResourceQuota for the ActRunner made for each job now, so it waits until there is: ${quota}`,
      ]);
    });

    it("sends the objects as the controller makes them, templates or not: restricted defaults, the Docker sidecar of a docker label", async () => {
      const dryRun = jest.fn(async (_request: DryRunRequest) => ADMITTED);
      expect((await validate(rd({ spec: { labels: "docker:docker://node:20" } }), testApp({ dryRun }))).allowed).toBe(true);
      const { runner, listener, Deployment } = sent(dryRun);
      expect(runner).toMatchObject({
        spec: {
          automountServiceAccountToken: false,
          initContainers: [{ name: "docker", image: "docker:28-dind", restartPolicy: "Always", securityContext: { privileged: true } }],
          containers: [
            {
              name: "runner",
              args: expect.arrayContaining(["one-job", "--label", "docker:docker://node:20", "--handle"]),
              securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      });
      expect(listener).toMatchObject({
        spec: {
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          containers: [{ name: "listener", args: expect.arrayContaining(["listener", "--labels=docker:docker://node:20"]) }],
        },
      });
      // The controller creates the listener's ServiceAccount with its Deployment: the Pod's dry-run
      // uses the namespace's default, the Deployment (which does not need it to exist) keeps it.
      expect(listener!.spec).not.toHaveProperty("serviceAccountName");
      expect(Deployment!.spec!.template.spec).toMatchObject({ serviceAccountName: "builders-listener" });
    });

    it("lets a runnerTemplate wrap the runner with its command, the controller's arguments kept, and set the Docker sidecar's arguments", async () => {
      const dryRun = jest.fn(async (_request: DryRunRequest) => ADMITTED);
      const response = await validate(
        rd({
          spec: {
            labels: "docker:docker://node:20",
            runnerTemplate: {
              spec: {
                containers: [{ name: "runner", command: ["/scripts/with-cache.sh"] }],
                initContainers: [{ name: "docker", args: ["--mtu=1400"] }],
              },
            },
          },
        }),
        testApp({ dryRun }),
      );
      expect(response.allowed).toBe(true);
      const spec = sent(dryRun).runner!.spec!;
      expect(spec.containers[0]).toMatchObject({
        command: ["/scripts/with-cache.sh"],
        args: expect.arrayContaining(["one-job", "--uuid", "--handle"]),
      });
      expect(spec.initContainers![0]).toMatchObject({ name: "docker", args: ["--mtu=1400"] });
    });

    it("keeps a ServiceAccount the listenerTemplate names", async () => {
      const dryRun = jest.fn(async (_request: DryRunRequest) => ADMITTED);
      await validate(rd({ spec: { labels: "x:host", listenerTemplate: { spec: { serviceAccountName: "team-a" } } } }), testApp({ dryRun }));
      expect(sent(dryRun).listener!.spec).toMatchObject({ serviceAccountName: "team-a" });
    });

    it("allows with a warning when the namespace's ResourceQuota has no room now (it frees up)", async () => {
      const exceeded = 'pods "builders-listener-x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=4, limited: pods=4';
      const dryRun = jest.fn(async (request: DryRunRequest) =>
        request.kind === "Pod" && !isRunnerPod(request) ? { refusal: exceeded, warnings: [] } : ADMITTED,
      );
      const response = await validate(rd({ spec: { labels: "x:host" } }), testApp({ dryRun }));
      expect(response.allowed).toBe(true);
      expect(response.warnings).toEqual([
        `spec.listenerTemplate: no room in the namespace's ResourceQuota for the listener Pod (from spec.listenerTemplate) now, so it waits until there is: ${exceeded}`,
      ]);
    });

    it("allows with a warning when a ServiceAccount the pods use does not exist yet", async () => {
      const missing =
        'pods "builders-runner-x" is forbidden: error looking up service account ci/default: serviceaccount "default" not found';
      const dryRun = jest.fn(async (request: DryRunRequest) => (request.kind === "Pod" ? { refusal: missing, warnings: [] } : ADMITTED));
      const response = await validate(rd({ spec: { labels: "x:host" } }), testApp({ dryRun }));
      expect(response.allowed).toBe(true);
      expect(response.warnings).toEqual([
        `spec.runnerTemplate: the runner Pod made for each job (from spec.labels, spec.runnerImage and spec.runnerTemplate) names a ServiceAccount that does not exist yet; the pod is made once it does: ${missing}`,
        `spec.listenerTemplate: the listener Pod (from spec.listenerTemplate) names a ServiceAccount that does not exist yet; the pod is made once it does: ${missing}`,
      ]);
    });

    it("passes on the API server's warnings about the Pods (e.g. Pod Security in warn mode), not those a Job repeats of its template", async () => {
      const warning =
        'would violate PodSecurity "restricted:latest": privileged (container "docker" must not set securityContext.privileged=true)';
      // Pod Security warns about a Job's pod template as about its Pod, in the same words.
      const dryRun = jest.fn(async (request: DryRunRequest) =>
        isRunnerPod(request) || request.kind === "Job" ? { warnings: [warning] } : ADMITTED,
      );
      const response = await validate(rd({ spec: { labels: "docker:docker://node:20" } }), testApp({ dryRun }));
      expect(response.allowed).toBe(true);
      expect(response.warnings!.filter((w) => w.includes("API server warns"))).toEqual([
        `spec.runnerTemplate: the API server warns about the runner Pod made for each job (from spec.labels, spec.runnerImage and spec.runnerTemplate): ${warning}`,
      ]);
    });

    it("skips the dry-run when another rule already denied", async () => {
      const dryRun = jest.fn(async () => ADMITTED);
      await validate(rd({ spec: { pollInterval: "1s", runnerTemplate: { spec: {} } } }), testApp({ dryRun }));
      expect(dryRun).not.toHaveBeenCalled();
    });

    it("uses the RunnerDeployment's runnerImage", async () => {
      const dryRun = jest.fn(async (_request: DryRunRequest) => ADMITTED);
      await validate(
        rd({ spec: { labels: "x:host", runnerImage: "example/runner:1", runnerTemplate: { spec: {} } } }),
        testApp({ dryRun }),
      );
      expect(sent(dryRun).runner).toMatchObject({ spec: { containers: [{ image: "example/runner:1" }] } });
    });

    it("answers within the API server's timeout for the webhook, naming the objects whose dry-run did not answer", async () => {
      // The Job's dry-run answers after the time the webhook has (a slow webhook on Jobs).
      const dryRun = jest.fn((request: DryRunRequest) =>
        request.kind === "Job"
          ? new Promise<typeof ADMITTED>((resolve) => setTimeout(() => resolve(ADMITTED), 3_000).unref())
          : Promise.resolve(ADMITTED),
      );
      // The API server calls with ?timeout=<its timeoutSeconds>; the webhook keeps a second for its answer.
      const res = await request(testApp({ dryRun }))
        .post(`${path}?timeout=2s`)
        .send(review({ object: rd({ spec: { labels: "x:host" } }) }));
      const response = res.body.response as AdmissionResponse;
      expect(response).toMatchObject({ allowed: false, status: { code: 500 } });
      expect(response.status?.message).toBe(
        'forgejo-arc webhook failed: the API server did not answer the server-side dry-run of the runner Job made for each job (from spec.labels, spec.runnerImage and spec.runnerTemplate) within 1s: it waits on every admission webhook that intercepts Jobs in namespace "ci", and one of them is slow or unreachable (kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations); try again once it answers',
      );
    });

    it.each([
      ["10s", 9_000],
      ["30s", 29_000],
      ["1s", 1_000],
      [undefined, 9_000],
      ["soon", 9_000],
      [["10s", "20s"], 9_000],
    ])("gives a request with ?timeout=%j %i ms", (timeout, ms) => {
      expect(answerWithinMs(timeout)).toBe(ms);
    });

    it("answers not allowed with code 500 when the dry-run itself fails", async () => {
      const dryRun = jest.fn(async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
      });
      const response = await validate(rd({ spec: { labels: "x:host", runnerTemplate: { spec: {} } } }), testApp({ dryRun }));
      expect(response).toMatchObject({ allowed: false, status: { code: 500, message: expect.stringContaining("ECONNREFUSED") } });
    });
  });

  describe("with --watch-namespaces", () => {
    it("refuses a RunnerDeployment in a namespace the controller does not serve, naming those it serves, before any dry-run", async () => {
      const dryRun = jest.fn<DryRun>(async () => ({ kind: "admitted" }) as never);
      const response = await validate(rd(), testApp({ dryRun, watchNamespaces: ["team-a", "team-b"] }));
      expect(response).toMatchObject({
        allowed: false,
        status: {
          message:
            "metadata.namespace: this forgejo-arc installation serves only namespaces team-a, team-b (the chart's controller.watchNamespaces, " +
            `the controller's --watch-namespaces), so a RunnerDeployment in ${NAMESPACE} would never run: create it in one of those, or add ${NAMESPACE} there`,
        },
      });
      expect(dryRun).not.toHaveBeenCalled();
    });

    it("admits one in a namespace it serves, and lets one elsewhere change nothing made from it (a finalizer or annotation)", async () => {
      expect((await validate(rd(), testApp({ watchNamespaces: [NAMESPACE] }))).allowed).toBe(true);
      expect((await validate(rd(), testApp({ watchNamespaces: ["team-a"] }), "UPDATE")).allowed).toBe(true);
    });
  });
});
