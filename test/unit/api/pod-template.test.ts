import { mergePodTemplate } from "../../../src/api/pod-template.ts";

describe("pod template merge", () => {
  const base = {
    metadata: { labels: { app: "forgejo-arc", role: "runner" } },
    spec: {
      restartPolicy: "Never",
      containers: [
        {
          name: "runner",
          image: "runner:1",
          env: [{ name: "A", value: "1" }],
          volumeMounts: [{ name: "creds", mountPath: "/creds" }],
          securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true },
        },
      ],
      volumes: [{ name: "creds", secret: { secretName: "s" } }],
    },
  };

  it("returns the default when there is no template", () => {
    expect(mergePodTemplate(base, undefined)).toBe(base);
  });

  it("merges containers by name, env by name, mounts by path, and adds new containers", () => {
    const merged = mergePodTemplate(base, {
      metadata: { labels: { team: "a" }, annotations: { note: "x" } },
      spec: {
        nodeSelector: { pool: "ci" },
        containers: [
          {
            name: "runner",
            env: [
              { name: "A", value: "2" },
              { name: "B", value: "3" },
            ],
            resources: { limits: { cpu: "2" } },
            securityContext: { runAsUser: 1000 },
          },
          { name: "sidecar", image: "busybox" },
        ],
        volumes: [{ name: "cache", emptyDir: {} }],
      },
    });
    expect(merged).toEqual({
      metadata: { labels: { app: "forgejo-arc", role: "runner", team: "a" }, annotations: { note: "x" } },
      spec: {
        restartPolicy: "Never",
        nodeSelector: { pool: "ci" },
        containers: [
          {
            name: "runner",
            image: "runner:1",
            env: [
              { name: "A", value: "2" },
              { name: "B", value: "3" },
            ],
            volumeMounts: [{ name: "creds", mountPath: "/creds" }],
            resources: { limits: { cpu: "2" } },
            securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, runAsUser: 1000 },
          },
          { name: "sidecar", image: "busybox" },
        ],
        volumes: [
          { name: "creds", secret: { secretName: "s" } },
          { name: "cache", emptyDir: {} },
        ],
      },
    });
  });

  it("merges ports by container port, so a template's port leaves the default's (the listener's probes use its name)", () => {
    const withPort = {
      spec: { containers: [{ name: "listener", image: "l:1", ports: [{ name: "http", containerPort: 8080 }] }] },
    };
    const merged = mergePodTemplate(withPort, {
      spec: { containers: [{ name: "listener", ports: [{ name: "debug", containerPort: 9229 }] }] },
    });
    expect(merged.spec!.containers[0]!.ports).toEqual([
      { name: "http", containerPort: 8080 },
      { name: "debug", containerPort: 9229 },
    ]);
  });

  it("merges image pull Secrets by name, so a template's add to the default's", () => {
    const withSecret = { spec: { containers: [{ name: "listener", image: "l:1" }], imagePullSecrets: [{ name: "operator-registry" }] } };
    const merged = mergePodTemplate(withSecret, { spec: { imagePullSecrets: [{ name: "mirror" }, { name: "operator-registry" }] } });
    expect(merged.spec!.imagePullSecrets).toEqual([{ name: "operator-registry" }, { name: "mirror" }]);
  });

  it("merges tolerations by taint key and effect: a template's add to the default's, or replace the one they match", () => {
    const unreachable = { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 };
    const withTolerations = { spec: { containers: [{ name: "listener", image: "l:1" }], tolerations: [unreachable] } };
    const sameKeyOtherEffect = { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoSchedule" };
    const dedicated = { key: "system", operator: "Exists", effect: "NoSchedule" };
    expect(mergePodTemplate(withTolerations, { spec: { tolerations: [sameKeyOtherEffect, dedicated] } }).spec!.tolerations).toEqual([
      unreachable,
      sameKeyOtherEffect,
      dedicated,
    ]);
    const patient = { ...unreachable, tolerationSeconds: 600 };
    expect(mergePodTemplate(withTolerations, { spec: { tolerations: [patient] } }).spec!.tolerations).toEqual([patient]);
  });

  it("does not change the default it was given", () => {
    const copy = structuredClone(base);
    mergePodTemplate(base, { spec: { containers: [{ name: "runner", image: "other" }] } });
    expect(base).toEqual(copy);
  });
});
