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
import { ChoreSet } from '../../src/node/chores.js';
import { WINDOW_MS as TIERING_WINDOW_MS } from '../../src/node/compiler-tiering.js';
import { EMERGENCY_HEARTBEAT_SCALE, QUIET_HEARTBEAT_SCALE } from '../../src/node/raft-component.js';
import { ProbeWakeShare } from '../../src/node/wake-share.js';
import { sharedView } from '../../src/sim/gossip/driver.js';

interface Idle {
  /** Timer wake-ups per minute (libuv timer expiries, stale ones included). */
  timers: number;
  probes: number;
  pushPulls: number;
}

/** Emergency's probe stretch (adaptive MODE_MULTIPLIERS.emergency.interval). */
const EMERGENCY_PROBE_SCALE = 4;
/** An idle all-critical leader's heartbeat period at the default 500 ms. */
const EMERGENCY_QUIET_HEARTBEAT_MS = 500 * EMERGENCY_HEARTBEAT_SCALE * QUIET_HEARTBEAT_SCALE;
const WARM_MS = 2 * 60_000;
const MINUTES = 5;

/**
 * `ackMs`: when the ack of a probe is read. 0: during the wake-up that sent the probe, before the
 * timer is re-armed (GossipComponent.armSoon); more: a wake-up of its own after the timer was armed.
 */
function idle(opts: {
  probeScale: number;
  heartbeatMs: number | null;
  ackMs?: number;
  seed?: number;
  /** The daemon's chores on gossip's wake-ups, with their own slacks (GossipComponent.addChore). */
  chores?: boolean;
}): Idle {
  const seed = opts.seed ?? 3;
  const ackMs = opts.ackMs ?? 0;
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
  // As the daemon registers them: the compiler-tiering window check (slack one window, 2 s) and
  // the energy sampler (interval and slack stretched with the power mode, as the probe period).
  const chores = new ChoreSet();
  const periodic = (name: string, everyMs: number): void => {
    let at = everyMs;
    chores.add({ name, due: () => at, slackMs: () => everyMs, run: (now) => (at = now + everyMs) });
  };
  if (opts.chores) {
    periodic('compiler tiering', TIERING_WINDOW_MS);
    periodic('energy sample', period);
  }
  // Node's timers: one libuv timer, moved earlier by setTimeout, never later by clearTimeout; when
  // it expires the process wakes, runs what is due, and re-arms it at the earliest live timer.
  let uvAt = Number.POSITIVE_INFINITY;
  let armedAt = Number.POSITIVE_INFINITY;
  const arm = (): void => {
    const s = share.slack(t, period, false);
    n.setWakeSlack(s.probeEarlyMs, s.probeLateMs, s.pushPullLateMs);
    // GossipComponent.nextWake: the core's deadline, chores by their deadline (slack at least a
    // probe period), held back to the sharing floor.
    armedAt = Math.min(n.nextDeadline(), Math.max(chores.deadline(period), s.softFloor));
    uvAt = Math.min(uvAt, armedAt);
  };
  const drain = (counting: boolean): void => {
    for (const o of n.drain()) {
      if (o.msg.type === 'ping') {
        if (counting) counts.probes++;
        acks.push({ at: t + ackMs, from: o.to!, seq: o.msg.seq });
      } else if (o.msg.type.startsWith('pp-') && counting) counts.pushPulls++;
    }
  };
  const readAck = (): void => {
    const a = acks.shift()!;
    n.receive(
      { host: a.from, port: 0 },
      { type: 'ack', from: a.from, seq: a.seq, target: a.from, updates: [] },
      t,
    );
  };
  arm();
  for (let i = 0; i < 1_000_000 && t < end; i++) {
    const ackAt = acks[0]?.at ?? Number.POSITIVE_INFINITY;
    const next = Math.min(uvAt, ackAt, hb);
    t = Math.max(t, next);
    const counting = t >= WARM_MS;
    if (next === ackAt) {
      readAck();
    } else if (next === hb) {
      // A heartbeat woke the follower: GossipComponent.shareWake.
      const s = share.slack(t, period, true);
      n.setWakeSlack(s.probeEarlyMs, s.probeLateMs, s.pushPullLateMs);
      const sent = n.stats().probesSent;
      n.tick(t);
      share.sharedTickDone(t, period, n.stats().probesSent !== sent);
      // The leader's timer fires a little late every round; its period never shrinks.
      hb += hbEvery! + jitter.next() * 4;
    } else {
      if (counting) counts.timers++;
      uvAt = Number.POSITIVE_INFINITY;
      if (t >= armedAt) n.tick(t);
    }
    drain(counting);
    chores.runDue(t, () => undefined);
    // Acks that arrive while this wake-up's work runs are read before the timer is armed.
    while (acks.length > 0 && acks[0]!.at <= t) readAck();
    arm();
  }
  return {
    timers: counts.timers / MINUTES,
    probes: counts.probes / MINUTES,
    pushPulls: counts.pushPulls / MINUTES,
  };
}

describe('idle wake-ups per minute (gossip core + wake sharing + Node timer semantics, fake clock)', () => {
  it('a learner (no heartbeats to share) wakes once per probe: push-pull rides a probe', () => {
    const r = idle({ probeScale: 1, heartbeatMs: null });
    expect(r.probes).toBeGreaterThanOrEqual(59);
    // Every 10 s for the first minute, then every 30 s once the view stayed unchanged (the
    // anti-entropy quiet stretch): about 2.4 a minute over these 5 minutes.
    expect(r.pushPulls).toBeGreaterThan(1.5);
    // One timer per probe and nothing else (push-pull on its own timer added ~6 a minute).
    expect(r.timers).toBeLessThanOrEqual(r.probes + 0.5);
  });

  it('an ack read after the timer was armed costs one stale expiry per probe, no more', () => {
    const r = idle({ probeScale: 1, heartbeatMs: null, ackMs: 2 });
    expect(r.timers).toBeLessThanOrEqual(2 * r.probes + 0.5);
  });

  it('a follower: the probe rides the leader heartbeat, at the same probe rate', () => {
    const r = idle({ probeScale: 1, heartbeatMs: 1000 });
    // A probe a second on its own timer is 60 timer wake-ups a minute; a fallback timer re-armed
    // one period ahead at every heartbeat would still expire (stale) about as often.
    expect(r.timers).toBeLessThanOrEqual(22);
    // Failure detection keeps its pace: the probe rate stays within the window of one a second.
    expect(r.probes).toBeGreaterThanOrEqual(55);
    expect(r.probes).toBeLessThanOrEqual(62);
  });

  it('heartbeats twice a period or every other period: exact probe timers, full probe rate', () => {
    expect(idle({ probeScale: 1, heartbeatMs: 500 }).probes).toBeGreaterThanOrEqual(59);
    expect(idle({ probeScale: 1, heartbeatMs: 2000 }).probes).toBeGreaterThanOrEqual(59);
  });

  it('a learner in emergency wakes once per stretched probe period, not also at its end', () => {
    const r = idle({ probeScale: EMERGENCY_PROBE_SCALE, heartbeatMs: null });
    expect(r.probes).toBeGreaterThanOrEqual(14);
    expect(r.probes).toBeLessThanOrEqual(15.5);
    // An acked probe's end (1 s after it, 3 s before the next) used to be a timer of its own: 30.
    expect(r.timers).toBeLessThanOrEqual(r.probes + 0.5);
    // Push-pull is stretched as much (each exchange wakes the partner too).
    const normal = idle({ probeScale: 1, heartbeatMs: null });
    expect(r.pushPulls).toBeLessThan(normal.pushPulls / 2);
  });

  it('a learner in emergency: chores with less slack than the probe period ride the probes too', () => {
    const r = idle({ probeScale: EMERGENCY_PROBE_SCALE, heartbeatMs: null, chores: true });
    expect(r.probes).toBeGreaterThanOrEqual(14);
    // The compiler-tiering check (2 s window, 2 s slack) fell due between two 4 s probes every
    // period: a timer of its own, 15 wake-ups a minute more (measured on real daemons: 0.25/s).
    expect(r.timers).toBeLessThanOrEqual(r.probes + 0.5);
    const follower = idle({
      probeScale: EMERGENCY_PROBE_SCALE,
      heartbeatMs: EMERGENCY_QUIET_HEARTBEAT_MS,
      chores: true,
    });
    expect(follower.timers).toBeLessThanOrEqual(6);
  });

  it('a follower in emergency: heartbeats every 4 s idle carry the probes, probe rate kept', () => {
    expect(EMERGENCY_QUIET_HEARTBEAT_MS).toBe(1000 * EMERGENCY_PROBE_SCALE);
    const r = idle({ probeScale: EMERGENCY_PROBE_SCALE, heartbeatMs: EMERGENCY_QUIET_HEARTBEAT_MS });
    expect(r.probes).toBeGreaterThanOrEqual(13.5);
    expect(r.probes).toBeLessThanOrEqual(16);
    expect(r.timers).toBeLessThanOrEqual(6);
  });
});
