/**
 * A leader tells followers a commit as soon as it moves (etcd-io/raft's bcastAppend after maybeCommit),
 * not at the next heartbeat: a follower applies an entry, and its KV watchers see it, only once it
 * knows the entry committed. Batched: one message per follower per Ready, none when an append carries it.
 */
import { describe, expect, it } from 'vitest';
import { TestCluster } from './cluster.js';
import { ackAppend, drain, makeLeader, mkNode, ofType } from './manual.js';

/** Leader `a` of voters a, b, c (plus `learners`), every follower acknowledged up to the no-op. */
function leaderWithFollowers(learners: string[] = [], commitNotifyDelayMs = 0) {
  const a = mkNode('a', ['a', 'b', 'c'], { preVote: false, commitNotifyDelayMs }, undefined, learners);
  makeLeader(a);
  drain(a);
  const term = a.status().term;
  const noop = a.status().lastIndex;
  for (const f of ['b', 'c', ...learners]) a.step(ackAppend(f, 'a', term, noop), 1001);
  drain(a);
  expect(a.status().commit).toBe(noop);
  return { a, term, noop };
}

describe('commit notification', () => {
  it('both followers learn a commit without a heartbeat tick, one message each for two acknowledgements', () => {
    const { a, term, noop } = leaderWithFollowers();
    for (let i = 0; i < 3; i++) a.propose(new Uint8Array([i]), 1002);
    drain(a);
    const last = noop + 3;
    // b's answer commits; c's arrives after the commit moved, in the same Ready cycle.
    a.step(ackAppend('b', 'a', term, last), 1003);
    a.step(ackAppend('c', 'a', term, last), 1003);
    expect(a.status().commit).toBe(last);
    const hbs = ofType(drain(a).msgs, 'heartbeat');
    expect(hbs.map((m) => [m.to, m.commit]).sort()).toEqual([
      ['b', last],
      ['c', last],
    ]);
    // Nothing more until a new commit: no message per acknowledgement.
    a.step(ackAppend('c', 'a', term, last), 1004);
    expect(ofType(drain(a).msgs, 'heartbeat')).toHaveLength(0);
  });

  it('the slower follower is told when its acknowledgement comes after the commit', () => {
    const { a, term, noop } = leaderWithFollowers();
    a.propose(new Uint8Array([1]), 1002);
    drain(a);
    a.step(ackAppend('b', 'a', term, noop + 1), 1003);
    const first = ofType(drain(a).msgs, 'heartbeat');
    // c holds only the no-op as far as the leader knows: nothing it could adopt yet.
    expect(first.map((m) => m.to)).toEqual(['b']);
    a.step(ackAppend('c', 'a', term, noop + 1), 1004);
    const second = ofType(drain(a).msgs, 'heartbeat');
    expect(second.map((m) => [m.to, m.commit])).toEqual([['c', noop + 1]]);
  });

  it('an append going out anyway carries the commit: no extra message', () => {
    const { a, term, noop } = leaderWithFollowers();
    a.propose(new Uint8Array([1]), 1002);
    drain(a);
    a.step(ackAppend('b', 'a', term, noop + 1), 1003);
    a.step(ackAppend('c', 'a', term, noop + 1), 1003);
    a.propose(new Uint8Array([2]), 1003);
    const { msgs } = drain(a);
    expect(ofType(msgs, 'heartbeat')).toHaveLength(0);
    const appends = ofType(msgs, 'append_entries');
    expect(appends.map((m) => [m.to, m.commit]).sort()).toEqual([
      ['b', noop + 1],
      ['c', noop + 1],
    ]);
  });

  it('learners are told too unless the runtime spares them (learner heartbeat rounds > 1)', () => {
    for (const rounds of [1, 20]) {
      const { a, term, noop } = leaderWithFollowers(['l']);
      a.setLearnerHeartbeatRounds(rounds);
      a.propose(new Uint8Array([1]), 1002);
      drain(a);
      for (const f of ['l', 'b', 'c']) a.step(ackAppend(f, 'a', term, noop + 1), 1003);
      const to = ofType(drain(a).msgs, 'heartbeat')
        .map((m) => m.to)
        .sort();
      expect(to).toEqual(rounds === 1 ? ['b', 'c', 'l'] : ['b', 'c']);
    }
  });

  it('in a running cluster every follower commits an entry with no time passing', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 7, { heartbeatIntervalMs: 50 });
    const leader = await c.electLeader();
    await c.advance(200);
    // propose() delivers every message until the network is quiet and lets no tick fire.
    const { index } = await c.propose('x');
    for (const id of ['a', 'b', 'c']) {
      expect(c.node(id).status().commit, `${id} (leader ${leader.id})`).toBeGreaterThanOrEqual(index);
    }
  });

  it('held (commitNotifyDelayMs): the next append carries the commit; alone, it goes at the deadline', () => {
    const { a, term, noop } = leaderWithFollowers([], 2);
    a.propose(new Uint8Array([1]), 1002);
    drain(a);
    a.step(ackAppend('b', 'a', term, noop + 1), 1003);
    a.step(ackAppend('c', 'a', term, noop + 1), 1003);
    expect(a.status().commit).toBe(noop + 1);
    // Held: no message now, and the runtime is told when to wake for it.
    expect(a.hasReady() ? ofType(drain(a).msgs, 'heartbeat') : []).toHaveLength(0);
    expect(a.nextDeadline()).toBe(1005);
    // A lone client's next write: its appends carry the commit, the notification has nothing left to say.
    a.propose(new Uint8Array([2]), 1004);
    const appends = ofType(drain(a).msgs, 'append_entries');
    expect(appends.map((m) => [m.to, m.commit]).sort()).toEqual([
      ['b', noop + 1],
      ['c', noop + 1],
    ]);
    a.tick(1005);
    expect(ofType(drain(a).msgs, 'heartbeat')).toHaveLength(0);
    // That write commits and no other follows: told at its deadline, 2 ms after the commit.
    a.step(ackAppend('b', 'a', term, noop + 2), 1006);
    expect(a.status().commit).toBe(noop + 2);
    expect(ofType(drain(a).msgs, 'heartbeat')).toHaveLength(0);
    expect(a.nextDeadline()).toBe(1008);
    a.tick(1008);
    // c holds only noop + 1 as far as the leader knows, and its append already said so.
    const hbs = ofType(drain(a).msgs, 'heartbeat');
    expect(hbs.map((m) => [m.to, m.commit])).toEqual([['b', noop + 2]]);
  });
});
