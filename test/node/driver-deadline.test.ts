/**
 * RaftDriver over a clock with one-shot timers (DriverClock.after): it wakes only at the core's
 * nextDeadline, one timer at a time, never on a periodic tick (the issue #16 wake-up budget).
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import type { DriverClock } from '../../src/driver/interfaces.js';
import { memoryStorage } from '../../src/driver/memory-storage.js';
import { KEEP_ARMED_MS, RaftDriver } from '../../src/driver/raft-driver.js';
import { KvApplier } from '../../src/raft/kv-applier.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import type { NodeId } from '../../src/raft/types.js';

interface Timer {
  at: number;
  fn: () => void;
  live: boolean;
}

function world(id: NodeId, voters: NodeId[], learners: NodeId[] = []) {
  let t = 1000;
  const timers: Timer[] = [];
  const clock: DriverClock = {
    now: () => t,
    preciseNow: () => t,
    nextTurn: () => new Promise<void>((resolve) => setImmediate(resolve)),
    every: () => {
      throw new Error('the driver must not tick periodically when the clock has one-shot timers');
    },
    after: (ms, fn) => {
      const x: Timer = { at: t + ms, fn, live: true };
      timers.push(x);
      return () => {
        x.live = false;
      };
    },
  };
  const core = new RaftNode(
    {
      id,
      electionTimeoutMinMs: 150,
      electionTimeoutMaxMs: 300,
      heartbeatIntervalMs: 50,
      rng: createRng(11),
    },
    { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
    { voters, learners },
  );
  const sent: RaftMessage[] = [];
  const driver = new RaftDriver({
    core,
    storage: memoryStorage,
    transport: {
      maxFrameBytes: Number.POSITIVE_INFINITY,
      send: (m) => {
        sent.push(m);
        return 'queued';
      },
    },
    clock,
    applier: new KvApplier(),
    tickMs: 10,
    snapshotEvery: 0,
  });
  const live = (): Timer[] => timers.filter((x) => x.live);
  /** Fire due timers in time order up to `to`, letting the Ready loop run after each. */
  const advance = async (to: number): Promise<void> => {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(live().length).toBeLessThanOrEqual(1);
      const next = live().sort((a, b) => a.at - b.at)[0];
      if (next === undefined || next.at > to) break;
      t = next.at;
      next.live = false;
      next.fn();
    }
    t = to;
  };
  return { core, driver, sent, live, advance, now: () => t, armed: () => timers.length };
}

describe('RaftDriver deadline timer', () => {
  it('a follower wakes once, at its election deadline, and campaigns', async () => {
    const w = world('a', ['a', 'b', 'c']);
    w.core.tick(w.now());
    w.driver.updateTimer();
    const d = w.core.nextDeadline();
    expect(w.live().map((x) => x.at)).toEqual([d]);
    await w.advance(d - 1);
    expect(w.driver.ticks).toBe(0);
    await w.advance(d);
    expect(w.driver.ticks).toBe(1);
    expect(w.sent.filter((m) => m.type === 'request_vote')).toHaveLength(2);
    // Re-armed for the next election deadline.
    expect(w.live().map((x) => x.at)).toEqual([w.core.nextDeadline()]);
    await w.driver.stop();
    expect(w.live()).toHaveLength(0);
  });

  it('a leader wakes for its heartbeats and check-quorum only, not every tickMs', async () => {
    const w = world('a', ['a']);
    w.driver.updateTimer();
    await w.advance(w.now() + 400);
    expect(w.core.isLeader).toBe(true);
    const before = w.driver.ticks;
    await w.advance(w.now() + 1000);
    // Heartbeats every 50 ms, check-quorum every 150 ms from the same start (they coincide): 20
    // wakes in 1 s, where ticking every tickMs (10) would wake 100 times.
    expect(w.driver.ticks - before).toBeGreaterThanOrEqual(19);
    expect(w.driver.ticks - before).toBeLessThanOrEqual(21);
    await w.driver.stop();
  });

  it('a follower hearing heartbeats re-arms its election timer and never wakes early', async () => {
    const w = world('b', ['a', 'b', 'c']);
    w.core.tick(w.now());
    w.driver.updateTimer();
    // The leader's heartbeat every 50 ms pushes the election deadline 50 ms on each time: a timer
    // kept for the old deadline would fire before each new one, a wake-up with nothing due.
    for (let i = 0; i < 40; i++) {
      w.driver.receive({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0, readCtx: 0 });
      await w.advance(w.now() + 50);
    }
    expect(w.core.isLeader).toBe(false);
    expect(w.driver.ticks).toBe(0);
    await w.driver.stop();
  });

  it('a follower taking appends every 2 ms keeps its timer for later deadlines within KEEP_ARMED_MS', async () => {
    const w = world('b', ['a', 'b', 'c']);
    w.core.tick(w.now());
    w.driver.updateTimer();
    const before = w.armed();
    // Each append draws a new random election timeout: the deadline jumps by up to 150 ms each time.
    for (let i = 0; i < 100; i++) {
      w.driver.receive({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0, readCtx: 0 });
      await w.advance(w.now() + 2);
    }
    // Re-armed for every append that moved the deadline later was 85 of the 100 here; a deadline that
    // moved earlier (a shorter draw) still re-arms, about half of the others.
    const rearms = w.armed() - before;
    expect(rearms).toBeGreaterThan(0);
    expect(rearms).toBeLessThanOrEqual(100 / 3);
    expect(KEEP_ARMED_MS).toBeGreaterThan(2);
    // Still armed no later than the election deadline, so a leader that goes silent is noticed.
    expect(w.live()).toHaveLength(1);
    expect(w.live()[0]!.at).toBeLessThanOrEqual(w.core.nextDeadline());
    expect(w.core.isLeader).toBe(false);
    await w.driver.stop();
  });

  it('a learner arms no timer at all', async () => {
    const w = world('c', ['a', 'b'], ['c']);
    w.driver.updateTimer();
    await w.advance(w.now() + 5000);
    expect(w.driver.ticks).toBe(0);
    expect(w.live()).toHaveLength(0);
  });
});
