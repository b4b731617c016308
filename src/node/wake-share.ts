/**
 * When the gossip probe may move to share another component's wake-up (the
 * policy behind GossipComponent.shareWake; the mechanism is the core's
 * GossipNode.setWakeSlack).
 *
 * A Raft follower wakes for its leader's heartbeats about once a probe period
 * anyway (1 s idle, 4 s idle in emergency); its own probe, on a timer of its
 * own, was a second wake-up a second. While such shared wake-ups keep coming
 * about once a period, a probe may start PROBE_EARLY before its due time or
 * wait for the next one (SHARE_FALLBACK_PERIODS). Once every CAPTURE_EVERY_PERIODS periods a shared wake-up may start
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
export const PROBE_CAPTURE = 0.5;
export const CAPTURE_EVERY_PERIODS = 8;
/**
 * While sharing, the node's own timer for its soft work (the next probe, chores) is armed no
 * earlier than this many periods after the last shared wake-up. Node moves its one libuv timer
 * earlier on setTimeout but never later on clearTimeout, so a fallback timer re-armed at every
 * heartbeat still fires at its first expiry: one period away, that was a wake-up for nothing every
 * period; 3.5 away, one every 3 periods (a whole number would put it a few ms before a heartbeat
 * and the next one period later). It is also how long probes pause when the leader falls silent
 * (then the node's own timers take over).
 */
export const SHARE_FALLBACK_PERIODS = 3.5;
/**
 * Shared wake-ups count as sharing only when they come about once a period: more often (a busy
 * cluster's heartbeats) would pull probes late by up to one interval each, less often (a leader
 * that heartbeats every 2 periods) would halve the probe rate; exact timers then.
 */
const MIN_SHARE_INTERVAL = 0.75;
const MAX_SHARE_INTERVAL = 1.25;

/** What GossipNode.setWakeSlack takes, ms. */
export interface WakeSlack {
  readonly probeEarlyMs: number;
  readonly probeLateMs: number;
  readonly pushPullLateMs: number;
  /** No timer for soft work (chores) before this (performance.now() ms); -Infinity: none. */
  readonly softFloor: number;
}

export class ProbeWakeShare {
  private lastShareAt = Number.NEGATIVE_INFINITY;
  private shareInterval = 0;
  private lastCaptureAt = Number.NEGATIVE_INFINITY;

  /**
   * The slack for a tick at `now` (`shared`: the process woke for another component) and for the
   * timer armed after it. `periodMs` is the probe period in force.
   */
  slack(now: number, periodMs: number, shared: boolean): WakeSlack {
    if (shared) {
      this.shareInterval = now - this.lastShareAt;
      this.lastShareAt = now;
    }
    const sharing =
      now - this.lastShareAt < 2 * periodMs &&
      this.shareInterval >= MIN_SHARE_INTERVAL * periodMs &&
      this.shareInterval <= MAX_SHARE_INTERVAL * periodMs;
    const capture = sharing && shared && now - this.lastCaptureAt >= CAPTURE_EVERY_PERIODS * periodMs;
    return {
      probeEarlyMs: sharing ? (capture ? PROBE_CAPTURE : PROBE_EARLY) * periodMs : 0,
      probeLateMs: sharing ? (SHARE_FALLBACK_PERIODS - 1) * periodMs : 0,
      pushPullLateMs: periodMs,
      softFloor: sharing ? this.lastShareAt + SHARE_FALLBACK_PERIODS * periodMs : Number.NEGATIVE_INFINITY,
    };
  }

  /** After a shared tick: a probe it started with the capture window used up the capture. */
  sharedTickDone(now: number, periodMs: number, probeStarted: boolean): void {
    if (probeStarted && now - this.lastCaptureAt >= CAPTURE_EVERY_PERIODS * periodMs)
      this.lastCaptureAt = now;
  }
}
