/**
 * RaftNode.nextDeadline: a runtime that ticks the core only at the deadline it names (one timer, no
 * periodic tick) behaves as one that ticks every millisecond. Self-contained (no cluster helpers).
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import type { NodeId } from '../../src/raft/types.js';

const EMPTY = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };

function node(id: NodeId, voters: NodeId[], learners: NodeId[] = [], seed = 7): RaftNode {
  return new RaftNode(
    {
      id,
      electionTimeoutMinMs: 150,
      electionTimeoutMaxMs: 300,
      heartbeatIntervalMs: 50,
      rng: createRng(seed),
    },
    EMPTY,
    { voters, learners },
  );
}

function drain(n: RaftNode): RaftMessage[] {
  const out: RaftMessage[] = [];
  for (let i = 0; i < 100 && n.hasReady(); i++) {
    const rd = n.ready();
    out.push(...rd.messages);
    n.advance(rd);
  }
  return out;
}

/** `a` wins against voter b (pre-vote then vote) at time `now`; returns what it sent since. */
function lead(a: RaftNode, now: number): void {
  a.tick(now);
  a.tick(a.nextDeadline());
  drain(a);
  const t = a.nextDeadline();
  const st = a.status();
  a.step(
    { type: 'request_vote_response', from: 'b', to: 'a', term: st.term + 1, granted: true, preVote: true },
    t - 1,
  );
  drain(a);
  a.step(
    {
      type: 'request_vote_response',
      from: 'b',
      to: 'a',
      term: a.status().term,
      granted: true,
      preVote: false,
    },
    t - 1,
  );
  drain(a);
  expect(a.isLeader).toBe(true);
}

describe('RaftNode.nextDeadline', () => {
  it('a follower campaigns at its deadline, not a millisecond before', () => {
    const n = node('a', ['a', 'b', 'c']);
    n.tick(1000);
    const d = n.nextDeadline();
    expect(d).toBeGreaterThanOrEqual(1150);
    expect(d).toBeLessThanOrEqual(1300);
    n.tick(d - 1);
    expect(drain(n).filter((m) => m.type === 'request_vote')).toHaveLength(0);
    n.tick(d);
    expect(drain(n).filter((m) => m.type === 'request_vote')).toHaveLength(2);
    // Campaigning re-armed the timer.
    expect(n.nextDeadline()).toBeGreaterThan(d);
  });

  it('ticking only at the deadline equals ticking every millisecond', () => {
    const fine = node('a', ['a', 'b', 'c'], [], 3);
    const sparse = node('a', ['a', 'b', 'c'], [], 3);
    fine.tick(0);
    sparse.tick(0);
    const campaigns = (n: RaftNode, times: number[]): number[] => {
      const at: number[] = [];
      for (const t of times) {
        n.tick(t);
        if (drain(n).some((m) => m.type === 'request_vote')) at.push(t);
      }
      return at;
    };
    const every = campaigns(
      fine,
      Array.from({ length: 2000 }, (_, i) => i + 1),
    );
    const deadlines: number[] = [];
    while (sparse.nextDeadline() <= 2000) {
      const d = sparse.nextDeadline();
      deadlines.push(d);
      expect(campaigns(sparse, [d])).toEqual([d]);
    }
    expect(every.length).toBeGreaterThan(3);
    expect(deadlines).toEqual(every);
  });

  it('a learner has nothing to wake for', () => {
    const n = node('c', ['a', 'b'], ['c']);
    n.tick(1000);
    expect(n.nextDeadline()).toBe(Infinity);
  });

  it('a leader wakes for heartbeats; learners get every Nth round only', () => {
    const a = node('a', ['a', 'b'], ['c']);
    lead(a, 1000);
    a.setLearnerHeartbeatRounds(4);
    const toB: number[] = [];
    const toC: number[] = [];
    for (let i = 0; i < 8; i++) {
      const d = a.nextDeadline();
      a.tick(d);
      for (const m of drain(a)) {
        if (m.type !== 'heartbeat') continue;
        if (m.to === 'b') toB.push(i);
        if (m.to === 'c') toC.push(i);
      }
      // Keep the leader's quorum active so check-quorum does not depose it.
      a.step(
        {
          type: 'heartbeat_response',
          from: 'b',
          to: 'a',
          term: a.status().term,
          readCtx: 0,
        } as RaftMessage,
        d,
      );
      drain(a);
    }
    expect(toB).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(toC).toHaveLength(2);
  });

  it('a contact learner (setContactLearners: it runs tasks) gets every round all the same', () => {
    const a = node('a', ['a', 'b'], ['c', 'd']);
    lead(a, 1000);
    a.setLearnerHeartbeatRounds(20);
    a.setContactLearners(new Set(['c']));
    const to: Record<string, number> = {};
    for (let i = 0; i < 8; i++) {
      const d = a.nextDeadline();
      a.tick(d);
      for (const m of drain(a)) if (m.type === 'heartbeat') to[m.to] = (to[m.to] ?? 0) + 1;
      a.step(
        { type: 'heartbeat_response', from: 'b', to: 'a', term: a.status().term, readCtx: 0 } as RaftMessage,
        d,
      );
      drain(a);
    }
    expect(to.b).toBe(8);
    expect(to.c).toBe(8);
    expect(to.d ?? 0).toBeLessThanOrEqual(1);
  });

  it('a learner skipping rounds still gets a new commit index at the next round, then is left alone', () => {
    const a = node('a', ['a', 'b'], ['c']);
    lead(a, 1000);
    a.setLearnerHeartbeatRounds(20);
    drain(a);
    const term = a.status().term;
    // The leader's no-op, on an empty log (lead() already sent it to b and c).
    const last = 1;
    const ack = (from: NodeId, at: number): void => {
      a.step(
        {
          type: 'append_entries_response',
          from,
          to: 'a',
          term,
          success: true,
          matchIndex: last,
          rejectedIndex: 0,
          conflictTerm: 0,
          conflictIndex: 0,
          lastLogIndex: last,
        } as RaftMessage,
        at,
      );
    };
    // The learner holds the entry before it commits: the append it got carried the old commit.
    ack('c', 1001);
    ack('b', 1002);
    expect(a.status().commit).toBe(last);
    drain(a);
    const commitsToC: number[] = [];
    for (let i = 0; i < 6; i++) {
      const d = a.nextDeadline();
      a.tick(d);
      for (const m of drain(a)) if (m.type === 'heartbeat' && m.to === 'c') commitsToC.push(m.commit);
      a.step({ type: 'heartbeat_response', from: 'b', to: 'a', term, readCtx: 0 } as RaftMessage, d);
      drain(a);
    }
    // Without the rule the learner would wait for round 20 to learn the commit.
    expect(commitsToC).toEqual([last]);
  });

  it('a stretched heartbeat (energy emergency): rounds and check-quorum x3, back at the base period at once', () => {
    const a = node('a', ['a', 'b']);
    lead(a, 1000);
    drain(a);
    const term = a.status().term;
    a.setHeartbeatScale(3);
    const rounds: number[] = [];
    let t = a.nextDeadline();
    for (let i = 0; i < 6 && a.isLeader; i++) {
      t = a.nextDeadline();
      a.tick(t);
      if (drain(a).some((m) => m.type === 'heartbeat' && m.to === 'b')) rounds.push(t);
      a.step({ type: 'heartbeat_response', from: 'b', to: 'a', term, readCtx: 0 } as RaftMessage, t);
      drain(a);
    }
    // Still leading: check-quorum runs over 3 x 150 ms while b answers every 150 ms.
    expect(a.isLeader).toBe(true);
    const gaps = rounds.slice(1).map((x, i) => x - rounds[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    for (const g of gaps) expect(g).toBe(150);
    a.setHeartbeatScale(1);
    expect(a.nextDeadline()).toBeLessThanOrEqual(t + 50);
  });

  it('check-quorum deposes a silent leader ticked only at its deadlines', () => {
    const a = node('a', ['a', 'b', 'c']);
    a.tick(1000);
    a.tick(a.nextDeadline());
    drain(a);
    const term = a.status().term + 1;
    a.step({ type: 'request_vote_response', from: 'b', to: 'a', term, granted: true, preVote: true }, 1200);
    drain(a);
    a.step({ type: 'request_vote_response', from: 'b', to: 'a', term, granted: true, preVote: false }, 1200);
    drain(a);
    expect(a.isLeader).toBe(true);
    let wakes = 0;
    while (a.isLeader && wakes < 100) {
      a.tick(a.nextDeadline());
      drain(a);
      wakes++;
    }
    expect(a.isLeader).toBe(false);
    // Heartbeats every 50 ms over two check-quorum periods (150 ms each): a handful of wakes, no more.
    expect(wakes).toBeLessThanOrEqual(8);
  });
});
