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
});
