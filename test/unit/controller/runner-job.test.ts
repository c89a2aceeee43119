import { runnerArgs, runnerJob, runnerSecret, forgejoRunnerName, runnerUUIDOf } from "../../../src/controller/runner-job.ts";
import { ar } from "../../fixtures/resources.ts";

const options = { runnerImage: "runner:12.8", dockerImage: "docker:dind", jobTimeoutSeconds: 3 * 3600, labelPropagationExclude: [] };
const runner = ar({
  metadata: { name: "builders-42-1", namespace: "ci", uid: "uid-1", labels: { "forgejo.actions.io/runner-deployment": "builders" } },
  spec: { labels: "ubuntu-22.04:host,node:docker://node:20" },
});

describe("runner Job", () => {
  it("runs exactly forgejo.md's one-job command: url, uuid, token file, every label, the handle, --wait", () => {
    const job = runnerJob(runner, "uuid-1", options);
    const container = job.spec!.template.spec!.containers.find((c) => c.name === "runner")!;
    expect(container.command).toEqual(["forgejo-runner"]);
    expect(container.args).toEqual([
      "one-job",
      "--url",
      "https://code.example.com",
      "--uuid",
      "uuid-1",
      "--token-url",
      "file:/var/run/forgejo-arc/runner/token",
      "--label",
      "ubuntu-22.04:host",
      "--label",
      "node:docker://node:20",
      "--handle",
      "3f2a1e9c-8d4b-4c3e-9a7f-1b2c3d4e5f60",
      "--wait",
    ]);
    expect(runnerArgs(runner, "u")).toContain("--handle");
  });

  it("mounts the token file from the runner Secret, never passes it in env or args", () => {
    const job = runnerJob(runner, "uuid-1", options);
    const spec = job.spec!.template.spec!;
    const container = spec.containers.find((c) => c.name === "runner")!;
    expect(container.volumeMounts).toContainEqual({ name: "credentials", mountPath: "/var/run/forgejo-arc/runner", readOnly: true });
    expect(spec.volumes).toContainEqual({
      name: "credentials",
      secret: { secretName: "builders-42-1-runner", defaultMode: 0o440, items: [{ key: "token", path: "token" }] },
    });
    expect(JSON.stringify(container.env)).not.toMatch(/token/i);
    const secret = runnerSecret(runner, { id: 5, uuid: "uuid-1", token: "s3cret" }, options);
    expect(secret.stringData).toEqual({ uuid: "uuid-1", token: "s3cret", id: "5" });
    expect(secret.immutable).toBe(true);
    expect(secret.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "ActRunner",
      name: "builders-42-1",
      uid: "uid-1",
      controller: true,
    });
  });

  it("labels the Job and the Secret with the ActRunner's labels but excluded prefixes, and the pod with the operator's own", () => {
    const labelled = ar({
      metadata: {
        name: "builders-42-1",
        namespace: "ci",
        uid: "uid-1",
        labels: {
          "forgejo.actions.io/runner-deployment": "builders",
          "forgejo.actions.io/job-attempt": "1",
          team: "platform",
          "app.kubernetes.io/name": "my-runners",
          "argocd.argoproj.io/instance": "runners",
        },
      },
      spec: { labels: "ubuntu-22.04:host" },
    });
    const excluding = { ...options, labelPropagationExclude: ["argocd.argoproj.io/"] };
    const job = runnerJob(labelled, "uuid-1", excluding);
    const secret = runnerSecret(labelled, { id: 5, uuid: "uuid-1", token: "s3cret" }, excluding);
    for (const labels of [job.metadata!.labels!, secret.metadata!.labels!]) {
      expect(labels).toEqual({
        team: "platform",
        "app.kubernetes.io/name": "forgejo-arc",
        "app.kubernetes.io/component": "runner",
        "app.kubernetes.io/managed-by": "forgejo-arc",
        "forgejo.actions.io/act-runner": "builders-42-1",
        "forgejo.actions.io/job-id": "42",
        "forgejo.actions.io/runner-deployment": "builders",
      });
    }
    expect(job.spec!.template.metadata!.labels).not.toHaveProperty("team");
  });

  it("is one attempt with a deadline: backoffLimit 0, restartPolicy Never, pickup timeout plus job timeout", () => {
    const job = runnerJob(runner, "uuid-1", options);
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 600 + 3 * 3600 });
    expect(job.spec!.template.spec!.restartPolicy).toBe("Never");
    expect(job.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "ActRunner", name: "builders-42-1", controller: true });
  });

  it("adds a privileged Docker-in-Docker native sidecar only for docker labels", () => {
    const withDocker = runnerJob(runner, "u", options).spec!.template.spec!;
    expect(withDocker.initContainers).toEqual([
      expect.objectContaining({
        name: "docker",
        image: "docker:dind",
        restartPolicy: "Always",
        securityContext: expect.objectContaining({ privileged: true }),
      }),
    ]);
    expect(withDocker.containers[0]!.env).toContainEqual({ name: "DOCKER_HOST", value: "tcp://localhost:2376" });
    const hostOnly = runnerJob(ar({ spec: { labels: "ubuntu:host" } }), "u", options).spec!.template.spec!;
    expect(hostOnly.initContainers).toBeUndefined();
    expect(JSON.stringify(hostOnly)).not.toContain("privileged");
  });

  it("keeps the end of a failed runner's or Docker sidecar's log as its termination message, for the ActRunner to quote", () => {
    const spec = runnerJob(runner, "u", options).spec!.template.spec!;
    expect(spec.containers.find((c) => c.name === "runner")!.terminationMessagePolicy).toBe("FallbackToLogsOnError");
    expect(spec.initContainers!.find((c) => c.name === "docker")!.terminationMessagePolicy).toBe("FallbackToLogsOnError");
  });

  it("lets the runner trust a private Forgejo's CA from the ConfigMap the ActRunner names, and nothing extra without one", () => {
    const withCa = ar({ ...runner, spec: { ...runner.spec, caBundleConfigMapRef: { name: "forgejo-ca", key: "bundle.pem" } } });
    const spec = runnerJob(withCa, "uuid-1", options).spec!.template.spec!;
    const container = spec.containers.find((c) => c.name === "runner")!;
    expect(spec.volumes).toContainEqual({
      name: "forgejo-ca",
      configMap: { name: "forgejo-ca", items: [{ key: "bundle.pem", path: "forgejo-ca.crt" }] },
    });
    expect(container.volumeMounts).toContainEqual({ name: "forgejo-ca", mountPath: "/etc/forgejo-arc/ca", readOnly: true });
    // Go's crypto/x509 reads every file of SSL_CERT_DIR's directories and still the system bundle file.
    expect(container.env).toContainEqual({ name: "SSL_CERT_DIR", value: "/etc/forgejo-arc/ca:/etc/ssl/certs:/etc/pki/tls/certs" });
    const defaultKey = ar({ ...runner, spec: { ...runner.spec, caBundleConfigMapRef: { name: "forgejo-ca" } } });
    expect(runnerJob(defaultKey, "u", options).spec!.template.spec!.volumes).toContainEqual({
      name: "forgejo-ca",
      configMap: { name: "forgejo-ca", items: [{ key: "ca.crt", path: "forgejo-ca.crt" }] },
    });
    // The Docker sidecar pulls images from Forgejo's own registry with it (runner has a docker label).
    expect(spec.initContainers!.find((c) => c.name === "docker")!.volumeMounts).toContainEqual({
      name: "forgejo-ca",
      mountPath: "/etc/docker/certs.d/code.example.com",
      readOnly: true,
    });
    const onPort = ar({ ...withCa, spec: { ...withCa.spec, forgejoServer: "https://git.internal:8443/forgejo" } });
    const sidecar = runnerJob(onPort, "u", options).spec!.template.spec!.initContainers![0]!;
    expect(sidecar.volumeMounts!.map((m) => m.mountPath)).toContain("/etc/docker/certs.d/git.internal:8443");
    const plain = runnerJob(runner, "u", options).spec!.template.spec!;
    expect(plain.volumes?.map((v) => v.name)).not.toContain("forgejo-ca");
    expect(plain.containers[0]!.env?.map((e) => e.name)).not.toContain("SSL_CERT_DIR");
  });

  it("runs the runner restricted: non-root, read-only root, no capabilities, RuntimeDefault seccomp", () => {
    const spec = runnerJob(ar({ spec: { labels: "x:host" } }), "u", options).spec!.template.spec!;
    expect(spec.containers[0]!.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(spec.securityContext?.seccompProfile).toEqual({ type: "RuntimeDefault" });
    expect(spec.automountServiceAccountToken).toBe(false);
  });

  it("merges the jobTemplate on top, containers by name, keeping the operator's labels", () => {
    const custom = ar({
      spec: {
        labels: "x:host",
        runnerImage: "custom/runner:1",
        jobTemplate: {
          metadata: { labels: { team: "a" }, annotations: { note: "n" } },
          spec: { nodeSelector: { pool: "ci" }, containers: [{ name: "runner", resources: { limits: { cpu: "2" } } }] },
        },
      },
    });
    const template = runnerJob(custom, "u", options).spec!.template;
    expect(template.metadata?.labels).toMatchObject({ team: "a", "app.kubernetes.io/component": "runner" });
    expect(template.metadata?.annotations).toEqual({
      note: "n",
      "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
      "karpenter.sh/do-not-disrupt": "true",
    });
    expect(template.spec?.nodeSelector).toEqual({ pool: "ci" });
    expect(template.spec?.containers[0]).toMatchObject({
      name: "runner",
      image: "custom/runner:1",
      resources: { limits: { cpu: "2" } },
      command: ["forgejo-runner"],
    });
  });

  it("merges the controller's pod template under the jobTemplate: the jobTemplate wins a field both set, keyed lists keep both", () => {
    const clusterDefaults = {
      metadata: { labels: { "cost-center": "ci", team: "platform" } },
      spec: {
        nodeSelector: { pool: "ci" },
        priorityClassName: "ci-runners",
        tolerations: [{ key: "ci", operator: "Exists", effect: "NoSchedule" }],
        containers: [{ name: "runner", resources: { requests: { cpu: "1" } } }],
      },
    };
    const custom = ar({
      spec: {
        labels: "x:host",
        runnerImage: "custom/runner:1",
        jobTemplate: {
          metadata: { labels: { team: "a" } },
          spec: {
            nodeSelector: { pool: "gpu" },
            tolerations: [{ key: "gpu", operator: "Exists", effect: "NoSchedule" }],
            containers: [{ name: "runner", resources: { limits: { "nvidia.com/gpu": "1" } } }],
          },
        },
      },
    });
    const template = runnerJob(custom, "u", { ...options, podTemplate: clusterDefaults }).spec!.template;
    expect(template.metadata?.labels).toMatchObject({ "cost-center": "ci", team: "a", "app.kubernetes.io/component": "runner" });
    expect(template.spec?.nodeSelector).toEqual({ pool: "gpu" });
    expect(template.spec?.priorityClassName).toBe("ci-runners");
    expect(template.spec?.tolerations?.map((t) => t.key)).toEqual(["ci", "gpu"]);
    expect(template.spec?.containers[0]).toMatchObject({
      image: "custom/runner:1",
      resources: { limits: { "nvidia.com/gpu": "1" } },
      args: expect.arrayContaining(["one-job"]),
    });
    const withoutJobTemplate = runnerJob(runner, "u", { ...options, podTemplate: clusterDefaults }).spec!.template;
    expect(withoutJobTemplate.spec?.nodeSelector).toEqual({ pool: "ci" });
    expect(withoutJobTemplate.spec?.containers.find((c) => c.name === "runner")).toMatchObject({
      image: "runner:12.8",
      resources: { requests: { cpu: "1" } },
    });
  });

  it("applies the controller's pod template's Docker sidecar settings to the pods of docker labels only", () => {
    const podTemplate = { spec: { initContainers: [{ name: "docker", args: ["--mtu=1400"] }] } };
    const withDocker = runnerJob(runner, "u", { ...options, podTemplate }).spec!.template.spec!;
    expect(withDocker.initContainers).toEqual([expect.objectContaining({ name: "docker", image: "docker:dind", args: ["--mtu=1400"] })]);
    const hostOnly = ar({ spec: { labels: "x:host" } });
    expect(runnerJob(hostOnly, "u", { ...options, podTemplate }).spec!.template.spec).not.toHaveProperty("initContainers");
    const withSetup = { spec: { initContainers: [...podTemplate.spec.initContainers, { name: "setup", image: "busybox" }] } };
    expect(runnerJob(hostOnly, "u", { ...options, podTemplate: withSetup }).spec!.template.spec!.initContainers).toEqual([
      { name: "setup", image: "busybox" },
    ]);
  });

  it("tells node autoscalers not to evict a runner pod, unless the jobTemplate says otherwise", () => {
    expect(runnerJob(runner, "u", options).spec!.template.metadata?.annotations).toEqual({
      "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
      "karpenter.sh/do-not-disrupt": "true",
    });
    const evictable = ar({
      spec: { labels: "x:host", jobTemplate: { metadata: { annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "true" } } } },
    });
    expect(runnerJob(evictable, "u", options).spec!.template.metadata?.annotations).toEqual({
      "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
      "karpenter.sh/do-not-disrupt": "true",
    });
  });

  it("reads back the uuid a Job was made with, so a Job made for a lost runner is recognised", () => {
    const job = runnerJob(runner, "6c1b0f4e-0000-4000-8000-000000000001", options);
    expect(runnerUUIDOf(job)).toBe("6c1b0f4e-0000-4000-8000-000000000001");
    job.spec!.template.spec!.containers = job.spec!.template.spec!.containers.filter((c) => c.name !== "runner");
    expect(runnerUUIDOf(job)).toBeUndefined();
  });

  it("names the Forgejo runner after namespace and ActRunner, so a retry finds it", () => {
    expect(forgejoRunnerName(runner)).toBe("k8s-ci-builders-42-1");
  });
});
