// ActRunners this listener created that its cache may not show yet: planPoll counts them as existing
// and active. A name is recorded before its create is sent — the watch can deliver the new object
// before the create's answer arrives — and dropped when the cache shows it, when the create fails,
// or after ttlMs in any case, so that an ActRunner deleted before the cache saw it neither blocks
// its job nor counts against maxRunners for ever.

/** Far longer than the cache lags behind a create, even on a loaded API server. */
export const RECENTLY_CREATED_TTL_MS = 60_000;

export class RecentlyCreated {
  private readonly since = new Map<string, number>();
  private readonly ttlMs: number;

  constructor(ttlMs = RECENTLY_CREATED_TTL_MS) {
    this.ttlMs = ttlMs;
  }

  creating(name: string, now = Date.now()): void {
    this.since.set(name, now);
  }

  /** The cache shows it, or its create failed. */
  forget(name: string): void {
    this.since.delete(name);
  }

  names(now = Date.now()): string[] {
    for (const [name, at] of this.since) if (now - at >= this.ttlMs) this.since.delete(name);
    return [...this.since.keys()];
  }
}
