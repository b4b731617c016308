/** The polling model without ink: rates from counter deltas, events from diffs, reconnecting. */
import { describe, expect, it } from 'vitest';
import {
  applyPoll,
  emptyModel,
  pollOnce,
  type DashboardModel,
  type PollSample,
} from '../../../src/cli/dashboard/model.js';
import { T0, leaderResponse, member, membersResponse, three, withCounters } from './fixtures.js';

const ok = (at: number, m = membersResponse(three())): PollSample => ({
  at,
  members: m,
  leader: leaderResponse(),
  error: null,
});
const down = (at: number): PollSample => ({ at, members: null, leader: null, error: 'connection refused' });

function run(samples: PollSample[]): DashboardModel {
  return samples.reduce((m, s) => applyPoll(m, s), emptyModel());
}

describe('dashboard model', () => {
  it('first poll shows the swarm with no events and no rate yet', () => {
    const m = run([ok(T0)]);
    expect(m.members?.members).toHaveLength(3);
    expect(m.leader?.commit).toBe(42);
    expect(m.events).toEqual([]);
    expect(m.rateIn).toEqual([]);
    expect(m.reconnecting).toBe(false);
  });

  it('packet rates are counter deltas over the time between polls', () => {
    const base = membersResponse(three());
    const m = run([
      ok(T0, withCounters(base, 100, 50)),
      ok(T0 + 1000, withCounters(base, 110, 53)),
      ok(T0 + 3000, withCounters(base, 150, 61)),
    ]);
    expect(m.rateIn).toEqual([10, 20]);
    expect(m.rateOut).toEqual([3, 4]);
    expect(m.bytesInRate).toBe(2000);
  });

  it('history is capped', () => {
    const base = membersResponse(three());
    let model = emptyModel();
    for (let i = 0; i < 10; i++)
      model = applyPoll(model, ok(T0 + i * 1000, withCounters(base, i * 10, i)), {
        historySize: 4,
        maxEvents: 3,
      });
    expect(model.rateIn).toEqual([10, 10, 10, 10]);
  });

  it('joins, failures, recoveries, leaves, leader and mode changes become events, newest first', () => {
    const a = membersResponse(three());
    const b = membersResponse(
      [
        member(1, { raft_role: 'follower' }),
        member(2, { raft_role: 'leader' }),
        member(3, { status: 'dead' }),
        member(4, { device_class: 'minimal' }),
      ],
      {
        adaptive: {
          ...a.adaptive,
          mode: 'emergency',
          interval_ms: 5000,
          fanout: 1,
          reason: 'battery critical',
        },
      },
    );
    const c = membersResponse(
      [
        member(1, { raft_role: 'follower' }),
        member(2, { raft_role: 'leader' }),
        member(3),
        member(4, { status: 'left' }),
      ],
      {
        adaptive: b.adaptive,
      },
    );
    const m = run([ok(T0, a), ok(T0 + 1000, b), ok(T0 + 2000, c)]);
    expect(m.events.map((e) => [e.kind, e.text])).toEqual([
      ['leave', 'node-4 left'],
      ['recover', 'node-3 is alive again (was dead)'],
      ['mode', 'gossip mode normal -> emergency (interval 5000 ms, fanout 1): battery critical'],
      ['leader', 'leader node-1 -> node-2'],
      ['join', 'node-4 joined (minimal)'],
      ['failure', 'node-3 failed'],
    ]);
    // The node's own reason repeats the transition; the event says it once.
    const d = membersResponse(three(), {
      adaptive: {
        ...c.adaptive,
        mode: 'conservative',
        reason: 'emergency -> conservative: battery 35% (3 evaluations)',
      },
    });
    expect(
      applyPoll(m, ok(T0 + 3000, d)).events.find((e) => e.kind === 'mode' && e.at === T0 + 3000)?.text,
    ).toBe(
      `gossip mode emergency -> conservative (interval ${c.adaptive.interval_ms} ms, fanout ${c.adaptive.fanout}): battery 35% (3 evaluations)`,
    );
    expect(m.events[0]?.at).toBe(T0 + 2000);
  });

  it('a member dropped from the list is reported once', () => {
    const a = membersResponse([member(1), member(2), member(3, { status: 'dead' })]);
    const b = membersResponse([member(1), member(2)]);
    const m = run([ok(T0, a), ok(T0 + 1000, b), ok(T0 + 2000, b)]);
    expect(m.events.map((e) => e.text)).toEqual(['node-3 removed from the member list']);
  });

  it('a node going away keeps the last data, flags reconnecting once, and recovers without a bogus rate', () => {
    const base = membersResponse(three());
    const before = run([ok(T0, withCounters(base, 100, 100)), ok(T0 + 1000, withCounters(base, 120, 110))]);
    const gone = run([
      ok(T0, withCounters(base, 100, 100)),
      ok(T0 + 1000, withCounters(base, 120, 110)),
      down(T0 + 2000),
      down(T0 + 3000),
    ]);
    expect(gone.reconnecting).toBe(true);
    expect(gone.error).toBe('connection refused');
    expect(gone.members).toEqual(before.members);
    expect(gone.events.filter((e) => e.kind === 'connection')).toHaveLength(1);
    // The restarted node's counters begin again near zero: no negative rate, no rate across the gap.
    const back = applyPoll(gone, ok(T0 + 4000, withCounters(base, 3, 2)));
    expect(back.reconnecting).toBe(false);
    expect(back.rateIn).toEqual([20]);
    expect(back.events[0]?.text).toBe('node answers again');
    const next = applyPoll(back, ok(T0 + 5000, withCounters(base, 8, 4)));
    expect(next.rateIn).toEqual([20, 5]);
  });

  it('pollOnce: a failing leader call alone still yields the members; a failing members call is an error', async () => {
    const good = await pollOnce(
      {
        members: () => Promise.resolve(membersResponse(three())),
        leader: () => Promise.reject(new Error('raft disabled')),
        taskList: () => Promise.resolve({ tasks: [] }),
      },
      () => T0,
    );
    expect(good.members?.members).toHaveLength(3);
    expect(good.leader).toBeNull();
    const bad = await pollOnce(
      {
        members: () => Promise.reject(new Error('no node answers')),
        leader: () => Promise.resolve(leaderResponse()),
        taskList: () => Promise.resolve({ tasks: [] }),
      },
      () => T0,
    );
    expect(bad).toEqual({ at: T0, members: null, leader: null, tasks: null, error: 'no node answers' });
  });
});
