// Which picked-up runners are lost. A runner exits once its job ends; one whose job Forgejo ended
// (the listener no longer lists it: RunnerDeployment status.endedActRunners) while its pod still
// runs --lost-runner-grace later is lost — on a node that is gone, or hung — and would hold a place
// of spec.maxRunners until its Job's deadline (hours). Before it is stopped, Forgejo must confirm
// its runner gone (it deletes an ephemeral runner when its job ends, is cancelled or reaped as a
// zombie); while Forgejo still has it, the job has not ended for the runner yet, and the clock
// starts again. The clock starts when this process first sees the report (a restart costs at most
// one more grace).

export type LostRunnerVerdict = { lost: true } | { lost: false; lookAgainInMs?: number };

export class LostRunners {
  private readonly graceMs: number;
  /** ActRunner uid → when this process first saw its job reported ended (or last found its runner still in Forgejo). */
  private readonly jobEndedSeen = new Map<string, number>();

  constructor(graceMs: number) {
    this.graceMs = graceMs;
  }

  /**
   * `jobEnded`: the listener's last poll reported the ActRunner's job ended; `runnerRegistered`
   * asks Forgejo, only once the grace has passed.
   */
  async check(uid: string, jobEnded: boolean, now: number, runnerRegistered: () => Promise<boolean>): Promise<LostRunnerVerdict> {
    if (!jobEnded) {
      this.jobEndedSeen.delete(uid);
      return { lost: false };
    }
    const since = this.jobEndedSeen.get(uid) ?? now;
    this.jobEndedSeen.set(uid, since);
    if (now < since + this.graceMs) return { lost: false, lookAgainInMs: since + this.graceMs - now + 100 };
    if (await runnerRegistered()) {
      this.jobEndedSeen.set(uid, now);
      return { lost: false, lookAgainInMs: this.graceMs };
    }
    return { lost: true };
  }

  forget(uid: string): void {
    this.jobEndedSeen.delete(uid);
  }
}
