import { DEFAULT_LABEL_PROPAGATION_EXCLUDE } from "../../../src/api/propagated-labels.ts";
import { parseControllerConfig, podOptionsOf } from "../../../src/controller/config.ts";

describe("controller configuration", () => {
  it("leaves GitOps tracking labels out of label propagation by default; an empty flag leaves out none", () => {
    expect(parseControllerConfig([], {}).labelPropagationExclude).toEqual(DEFAULT_LABEL_PROPAGATION_EXCLUDE);
    expect(parseControllerConfig(["--label-propagation-exclude="], {}).labelPropagationExclude).toEqual([]);
    expect(
      parseControllerConfig([], { FORGEJO_ARC_LABEL_PROPAGATION_EXCLUDE: "example.com/, app.kubernetes.io/instance" })
        .labelPropagationExclude,
    ).toEqual(["example.com/", "app.kubernetes.io/instance"]);
  });

  it("sweeps orphan runners every 10 minutes by default; 0s turns the sweep off; a flag wins over its variable", () => {
    expect(parseControllerConfig([], {}).orphanSweepIntervalMs).toBe(600_000);
    expect(parseControllerConfig([], { FORGEJO_ARC_ORPHAN_SWEEP_INTERVAL: "0s" }).orphanSweepIntervalMs).toBe(0);
    expect(
      parseControllerConfig(["--orphan-sweep-interval", "2s"], { FORGEJO_ARC_ORPHAN_SWEEP_INTERVAL: "1h" }).orphanSweepIntervalMs,
    ).toBe(2_000);
  });

  it("names the flag and what to change for a lost-runner grace that is too short", () => {
    expect(parseControllerConfig([], {}).lostRunnerGraceMs).toBe(120_000);
    expect(() => parseControllerConfig(["--lost-runner-grace", "0s"], {})).toThrow(
      '--lost-runner-grace: must be at least 1s (a runner exits moments after its job ends), got "0s"',
    );
  });

  it("names the image flag whose value a container runtime could not parse; the default images parse", () => {
    expect(() => parseControllerConfig([], {})).not.toThrow();
    expect(() => parseControllerConfig(["--runner-image", "Forgejo/Runner:12"], {})).toThrow(
      '--runner-image: "Forgejo/Runner:12" is not an image reference: repository names are lowercase',
    );
    expect(() => parseControllerConfig([], { FORGEJO_ARC_DOCKER_IMAGE: "docker:" })).toThrow(
      '--docker-image: "docker:" is not an image reference',
    );
    expect(() => parseControllerConfig(["--listener-image", "registry.example.com/arc:1 "], {})).toThrow("--listener-image");
  });

  it("names the flag and what to change for a sweep interval that is not a duration or too short", () => {
    expect(() => parseControllerConfig(["--orphan-sweep-interval", "10"], {})).toThrow(
      '--orphan-sweep-interval: must be a duration such as "10m", got "10"',
    );
    expect(() => parseControllerConfig(["--orphan-sweep-interval", "500ms"], {})).toThrow(
      '--orphan-sweep-interval: must be 0s (off) or at least 1s, got "500ms"',
    );
  });

  it("reaches Forgejo through the proxy of its environment and refuses one that is not a URL", () => {
    const config = parseControllerConfig([], { HTTPS_PROXY: "http://proxy.example:3128", NO_PROXY: "forgejo.internal" });
    expect(config.proxy.https?.host).toBe("proxy.example:3128");
    expect(config.proxy.noProxy).toEqual(["forgejo.internal"]);
    expect(() => parseControllerConfig([], { https_proxy: "socks5://proxy:1080" })).toThrow(
      "controller configuration: $HTTPS_PROXY: not the URL of an HTTP proxy",
    );
  });

  it("reads the listener pods' image pull Secrets as names and refuses one that cannot name a Secret", () => {
    expect(parseControllerConfig([], {}).listenerImagePullSecrets).toEqual([]);
    const config = parseControllerConfig([], { FORGEJO_ARC_LISTENER_IMAGE_PULL_SECRETS: "regcred, mirror.example ," });
    expect(config.listenerImagePullSecrets).toEqual(["regcred", "mirror.example"]);
    expect(podOptionsOf(config).listener.imagePullSecrets).toEqual(["regcred", "mirror.example"]);
    expect(() => parseControllerConfig(["--listener-image-pull-secrets", "regcred,Reg_Cred"], {})).toThrow(
      '--listener-image-pull-secrets: "Reg_Cred" is not a Secret name (lowercase letters, digits, "-" and ".")',
    );
  });

  it("serves every namespace by default, or the namespaces named (once each), and refuses one that cannot name a namespace", () => {
    expect(parseControllerConfig([], {}).watchNamespaces).toBeUndefined();
    expect(parseControllerConfig(["--watch-namespaces", ""], {}).watchNamespaces).toBeUndefined();
    expect(parseControllerConfig([], { FORGEJO_ARC_WATCH_NAMESPACES: "team-a, team-b,team-a" }).watchNamespaces).toEqual([
      "team-a",
      "team-b",
    ]);
    expect(() => parseControllerConfig(["--watch-namespaces", "team-a,ci.example"], {})).toThrow(
      '--watch-namespaces: "ci.example" is not a namespace name (at most 63 lowercase letters, digits and "-")',
    );
  });

  describe("pod templates for every RunnerDeployment", () => {
    const runner = { metadata: { labels: { team: "ci" } }, spec: { nodeSelector: { pool: "ci" } } };

    it("has none by default; reads JSON from the flag or its variable and passes it to what the controller builds", () => {
      expect(podOptionsOf(parseControllerConfig([], {})).job.podTemplate).toBeUndefined();
      const config = parseControllerConfig([`--runner-pod-template=${JSON.stringify(runner)}`], {
        FORGEJO_ARC_LISTENER_POD_TEMPLATE: '{"spec": {"priorityClassName": "system"}}',
      });
      expect(podOptionsOf(config).job.podTemplate).toEqual(runner);
      expect(podOptionsOf(config).listener.podTemplate).toEqual({ spec: { priorityClassName: "system" } });
      expect(parseControllerConfig([], { FORGEJO_ARC_RUNNER_POD_TEMPLATE: " " }).runnerPodTemplate).toBeUndefined();
    });

    it("names the flag and what to change for a value that is not JSON or not a pod template's outline", () => {
      expect(() => parseControllerConfig(["--runner-pod-template", "nodeSelector: {pool: ci}"], {})).toThrow(
        /--runner-pod-template: must be a pod template in JSON such as \{"spec": \{"nodeSelector": \{"pool": "ci"\}\}\}: Unexpected token/,
      );
      expect(() => parseControllerConfig(["--listener-pod-template", '{"nodeSelector": {"pool": "ci"}}'], {})).toThrow(
        "--listener-pod-template: nodeSelector: unknown field; check its spelling or remove it",
      );
      expect(() => parseControllerConfig(["--runner-pod-template", '{"metadata": {"labels": {"size": 2}}, "spec": []}'], {})).toThrow(
        "--runner-pod-template: metadata.labels.size: must be string, got 2; --runner-pod-template: spec: must be object, got []",
      );
    });

    it("refuses what a RunnerDeployment's template may not set, and the main containers' images, which have flags of their own", () => {
      const runnerTemplate = {
        metadata: { labels: { "app.kubernetes.io/component": "ci", team: "ci" } },
        spec: {
          restartPolicy: "OnFailure",
          containers: [{ name: "runner", image: "runner:custom", args: ["daemon"] }],
          volumes: [{ name: "credentials", emptyDir: {} }],
        },
      };
      const listenerTemplate = {
        spec: { containers: [{ name: "listener", image: "listener:custom", env: [{ name: "FORGEJO_TOKEN", value: "secret" }] }] },
      };
      let message = "";
      try {
        parseControllerConfig([], {
          FORGEJO_ARC_RUNNER_POD_TEMPLATE: JSON.stringify(runnerTemplate),
          FORGEJO_ARC_LISTENER_POD_TEMPLATE: JSON.stringify(listenerTemplate),
        });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain("--listener-pod-template: spec.containers[0].env[0]: must not set FORGEJO_TOKEN");
      expect(message).toContain(
        "--listener-pod-template: spec.containers[0].image: must not be set: set the listener image with --listener-image (the chart's listener.image)",
      );
      expect(message).toContain("--runner-pod-template: spec.containers[0].args: must not be set");
      expect(message).toContain('--runner-pod-template: spec.restartPolicy: must be Never or unset, got "OnFailure"');
      expect(message).toContain('--runner-pod-template: spec.volumes[0].name: must not be "credentials"');
      expect(message).toContain(
        '--runner-pod-template: metadata.labels["app.kubernetes.io/component"]: must not be set: forgejo-arc sets this label on its pods itself',
      );
      expect(message).not.toContain('labels["team"]');
      expect(message).toContain(
        "--runner-pod-template: spec.containers[0].image: must not be set: set the default runner image with --runner-image (the chart's runner.image), which a RunnerDeployment's spec.runnerImage overrides",
      );
    });
  });
});
