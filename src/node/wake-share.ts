/**
 * When the gossip probe may move to share another component's wake-up (the
 * policy behind GossipComponent.shareWake; the mechanism is the core's
 * GossipNode.setWakeSlack).
 *
 * A Raft follower wakes for its leader's heartbeats about once a probe period
 * anyway (1 s idle, 3 s idle in emergency); its own probe, on a timer of its
 * own, was a second wake-up a second. While such shared wake-ups keep coming,
 * a probe may start PROBE_EARLY before its due time or wait PROBE_LATE past it
 * for one. Once every CAPTURE_EVERY_PERIODS periods a shared wake-up may start
 * it up to PROBE_CAPTURE early: that moves the probe schedule onto the
 * heartbeats' phase, where it stays (each probe falls due one period after the
 * heartbeat it rode, when the next heartbeat arrives, a few ms late at most).
 * The probe rate moves by the window at most (failure detection with it); a
 * node nobody shares wake-ups with (a learner) keeps exact probe timers.
 * Push-pull (anti-entropy, every ~10 s) may always run a probe period late,
 * so it rides a probe instead of waking the node alone.
 */

/** Fractions of the probe period in force. */
export const PROBE_EARLY = 0.1;
export const PROBE_LATE = 0.05;
export const PROBE_CAPTURE = 0.5;
export const CAPTURE_EVERY_PERIODS = 8;

/** What GossipNode.setWakeSlack takes, ms. */
export interface WakeSlack {
  readonly probeEarlyMs: number;
  readonly probeLateMs: number;
  readonly pushPullLateMs: number;
}

export class ProbeWakeShare {
  private lastShareAt = Number.NEGATIVE_INFINITY;
  private lastCaptureAt = Number.NEGATIVE_INFINITY;

  /**
   * The slack for a tick at `now` (`shared`: the process woke for another component) and for the
   * timer armed after it. `periodMs` is the probe period in force.
   */
  slack(now: number, periodMs: number, shared: boolean): WakeSlack {
    if (shared) this.lastShareAt = now;
    const sharing = now - this.lastShareAt < 2 * periodMs;
    const capture = shared && now - this.lastCaptureAt >= CAPTURE_EVERY_PERIODS * periodMs;
    return {
      probeEarlyMs: sharing ? (capture ? PROBE_CAPTURE : PROBE_EARLY) * periodMs : 0,
      probeLateMs: sharing ? PROBE_LATE * periodMs : 0,
      pushPullLateMs: periodMs,
    };
  }

  /** After a shared tick: a probe it started with the capture window used up the capture. */
  sharedTickDone(now: number, periodMs: number, probeStarted: boolean): void {
    if (probeStarted && now - this.lastCaptureAt >= CAPTURE_EVERY_PERIODS * periodMs)
      this.lastCaptureAt = now;
  }
}
