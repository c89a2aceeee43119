// Leader election with a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
// the Lease every retry period; another replica takes over once the Lease has not been renewed
// for its duration. Losing the Lease ends leadership at once (the caller exits).
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../observability/log.ts";
import { apiErrorCode } from "./client.ts";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  logger: Logger;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly options: Required<Omit<LeaderElectionOptions, "logger">> & { logger: Logger };
  private stopped = false;
  private leading = false;
  private timer?: NodeJS.Timeout;

  constructor(kc: KubeConfig, options: LeaderElectionOptions) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.options = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2, ...options };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this replica leads; calls onLost if it later loses the Lease. */
  async acquire(onLost: () => void): Promise<void> {
    const { retryPeriodSeconds } = this.options;
    while (!this.stopped && !(await this.tryAcquireOrRenew())) await sleep(retryPeriodSeconds * 1000);
    if (this.stopped) return;
    this.leading = true;
    this.options.logger.info({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity }, "Became leader");
    let lastRenew = Date.now();
    const renew = async () => {
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) lastRenew = Date.now();
      else if (Date.now() - lastRenew > this.options.renewDeadlineSeconds * 1000) {
        this.leading = false;
        this.options.logger.error({ lease: this.options.name }, "Lost leadership");
        onLost();
        return;
      }
      this.timer = setTimeout(renew, retryPeriodSeconds * 1000);
    };
    this.timer = setTimeout(renew, retryPeriodSeconds * 1000);
  }

  /** Stops renewing and, when leading, hands the Lease back so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: new V1MicroTime() };
      await this.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: lease });
    } catch (error) {
      this.options.logger.warn({ err: error }, "Failed to release the Lease");
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity, leaseDurationSeconds } = this.options;
    const now = new V1MicroTime();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (apiErrorCode(error) !== 404) return false;
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        return true;
      } catch {
        return false;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity;
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
    if (holder && holder !== identity && !expired) return false;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      ...(holder !== identity ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      // resourceVersion in the body makes this a compare-and-swap: two candidates never both win.
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      return true;
    } catch {
      return false;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
