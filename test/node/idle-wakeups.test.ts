/**
 * Idle wake-ups of a follower and a learner (issue #16: <= 4/s normal, <= 1/s
 * emergency, every thread counted). The real gossip core and the daemon's
 * wake-sharing policy (src/node/wake-share.ts, as GossipComponent.shareWake
 * applies it) on a fake clock: every probe is acked 1 ms later, and a
 * follower's leader heartbeats it every second (every 3 s idle in emergency,
 * RaftComponent EMERGENCY_HEARTBEAT_SCALE x quiet), a few ms late each time.
 * Counted per idle minute: the node's own timer firings (each one a wake-up
 * of the process that nothing else pays for) and the probes sent (failure
 * detection must not slow down for it).
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { GossipNode } from '../../src/gossip/node.js';
import { ProbeWakeShare } from '../../src/node/wake-share.js';
import { sharedView } from '../../src/sim/gossip/driver.js';

interface Idle {
  /** Own timer firings per minute. */
  timers: number;
  probes: number;
  pushPulls: number;
}

/** Emergency's probe stretch (adaptive MODE_MULTIPLIERS.emergency.interval). */
const EMERGENCY_PROBE_SCALE = 4;
const WARM_MS = 2 * 60_000;
const MINUTES = 5;

function idle(opts: { probeScale: number; heartbeatMs: number | null; seed?: number }): Idle {
  const seed = opts.seed ?? 3;
  const ids = ['x', 'a', 'b', 'c', 'd', 'e', 'f'];
  const n = new GossipNode({
    self: { id: 'x', name: 'x', host: 'x', port: 0 },
    config: { announceIntervalMs: 0 },
    rng: createRng(seed),
    view: sharedView(ids),
  });
  n.tick(0);
  n.drain();
  n.setParams({ probeScale: opts.probeScale });
  const share = new ProbeWakeShare();
  const period = 1000 * opts.probeScale;
  const jitter = createRng(seed + 1);
  let t = 0;
  const acks: Array<{ at: number; from: string; seq: number }> = [];
  const hbEvery = opts.heartbeatMs;
  let hb = hbEvery === null ? Number.POSITIVE_INFINITY : 1 + jitter.next() * hbEvery;
  const end = WARM_MS + MINUTES * 60_000;
  const counts = { timers: 0, probes: 0, pushPulls: 0 };
  const apply = (shared: boolean): void => {
    const s = share.slack(t, period, shared);
    n.setWakeSlack(s.probeEarlyMs, s.probeLateMs, s.pushPullLateMs);
  };
  apply(false);
  for (let i = 0; i < 1_000_000 && t < end; i++) {
    const timerAt = n.nextDeadline();
    const ackAt = acks[0]?.at ?? Number.POSITIVE_INFINITY;
    const next = Math.min(timerAt, ackAt, hb);
    t = Math.max(t, next);
    const counting = t >= WARM_MS;
    if (next === ackAt) {
      const a = acks.shift()!;
      n.receive(
        { host: a.from, port: 0 },
        { type: 'ack', from: a.from, seq: a.seq, target: a.from, updates: [] },
        t,
      );
    } else if (next === hb) {
      // A heartbeat woke the follower: GossipComponent.shareWake.
      apply(true);
      const sent = n.stats().probesSent;
      n.tick(t);
      share.sharedTickDone(t, period, n.stats().probesSent !== sent);
      // The leader's timer fires a little late every round; its period never shrinks.
      hb += hbEvery! + jitter.next() * 4;
    } else {
      if (counting) counts.timers++;
      n.tick(t);
    }
    for (const o of n.drain()) {
      if (o.msg.type === 'ping') {
        if (counting) counts.probes++;
        acks.push({ at: t + 1, from: o.to!, seq: o.msg.seq });
      } else if (o.msg.type.startsWith('pp-') && counting) counts.pushPulls++;
    }
    apply(false);
  }
  if (process.env.WAKE_DEBUG) console.log(JSON.stringify({ opts, ...counts }));
  return {
    timers: counts.timers / MINUTES,
    probes: counts.probes / MINUTES,
    pushPulls: counts.pushPulls / MINUTES,
  };
}

describe('idle wake-ups per minute (gossip core + wake sharing, fake clock)', () => {
  it('a learner (no heartbeats to share) wakes once per probe: push-pull rides a probe', () => {
    const r = idle({ probeScale: 1, heartbeatMs: null });
    expect(r.probes).toBeGreaterThanOrEqual(59);
    expect(r.pushPulls).toBeGreaterThan(3);
    // One timer per probe and nothing else (push-pull on its own timer added ~6 a minute).
    expect(r.timers).toBeLessThanOrEqual(r.probes + 0.5);
  });

  it('a follower: the probe rides the leader heartbeat, at the same probe rate', () => {
    const r = idle({ probeScale: 1, heartbeatMs: 1000 });
    // Without sharing a probe a second is a timer a second (60 a minute).
    expect(r.timers).toBeLessThanOrEqual(6);
    // Failure detection keeps its pace: the probe rate stays within the window of one a second.
    expect(r.probes).toBeGreaterThanOrEqual(55);
    expect(r.probes).toBeLessThanOrEqual(62);
  });

  it('a learner in emergency wakes once per stretched probe period, not also at its end', () => {
    const r = idle({ probeScale: EMERGENCY_PROBE_SCALE, heartbeatMs: null });
    expect(r.probes).toBeGreaterThanOrEqual(14);
    expect(r.probes).toBeLessThanOrEqual(15.5);
    // An acked probe's end (1 s after it, 3 s before the next) used to be a timer of its own: 30.
    expect(r.timers).toBeLessThanOrEqual(r.probes + 0.5);
  });

  it('a follower in emergency (heartbeat every 3 s, probe every 4 s) shares wake-ups, probe rate kept', () => {
    const r = idle({ probeScale: EMERGENCY_PROBE_SCALE, heartbeatMs: 3000 });
    expect(r.probes).toBeGreaterThanOrEqual(13);
    expect(r.probes).toBeLessThanOrEqual(17);
    expect(r.timers).toBeLessThan(r.probes * 0.75);
  });
});
