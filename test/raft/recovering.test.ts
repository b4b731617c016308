/**
 * Issue #14 item 1, core side: a node that may have lost entries it
 * acknowledged (RecoveredState.recoveringUntil) neither votes nor counts
 * toward any quorum until a leader's commit index covers what it may have lost.
 */
import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../src/raft/messages.js';
import type { RecoveredState } from '../../src/raft/types.js';
import { ackAppend, drain, ent, makeLeader, mkNode, ofType } from './manual.js';

function recovering(until: number, terms: number[], term: number): RecoveredState {
  return {
    hardState: { term, vote: null, commit: terms.length },
    snapshot: null,
    entries: terms.map((t, i) => ent(i + 1, t)),
    recoveringUntil: until,
  };
}

describe('a recovering node (docs/raft.md "Recovering nodes")', () => {
  it('does not campaign, and refuses pre-votes and votes', () => {
    const n = mkNode('a', ['a', 'b', 'c'], {}, recovering(5, [1, 1, 1], 1));
    expect(n.status().recoveringUntil).toBe(5);
    n.tick(0);
    n.tick(10_000);
    const out = drain(n).msgs;
    expect(ofType(out, 'request_vote')).toHaveLength(0);
    expect(n.status().role).toBe('follower');
    for (const preVote of [true, false]) {
      n.step(
        {
          type: 'request_vote',
          from: 'b',
          to: 'a',
          term: 2,
          lastLogIndex: 10,
          lastLogTerm: 2,
          preVote,
          transfer: false,
        },
        20_000,
      );
      const r = ofType(drain(n).msgs, 'request_vote_response')[0]!;
      expect(r.granted).toBe(false);
    }
    n.step({ type: 'timeout_now', from: 'b', to: 'a', term: n.status().term }, 30_000);
    expect(ofType(drain(n).msgs, 'request_vote')).toHaveLength(0);
  });

  it('flags its answers until the leader commit covers recoveringUntil, then votes again', () => {
    const n = mkNode('a', ['a', 'b', 'c'], {}, recovering(5, [1, 1, 1], 1));
    const append = (prev: number, entries: number[], commit: number): RaftMessage => ({
      type: 'append_entries',
      from: 'b',
      to: 'a',
      term: 2,
      prevLogIndex: prev,
      prevLogTerm: 1,
      entries: entries.map((i) => ent(i, 2)),
      commit,
    });
    n.step(append(3, [4, 5, 6], 4), 0);
    let out = drain(n);
    let r = ofType(out.msgs, 'append_entries_response')[0]!;
    expect(r.success).toBe(true);
    expect(r.recovering).toBe(true);
    expect(out.readies.some((rd) => rd.recovered)).toBe(false);
    n.step({ type: 'heartbeat', from: 'b', to: 'a', term: 2, commit: 4, readCtx: 3 }, 10);
    expect(ofType(drain(n).msgs, 'heartbeat_response')[0]!.recovering).toBe(true);
    // The leader commits 6 without us: we hold what we may have lost.
    n.step({ type: 'heartbeat', from: 'b', to: 'a', term: 2, commit: 6, readCtx: 4 }, 20);
    out = drain(n);
    expect(ofType(out.msgs, 'heartbeat_response')[0]!.recovering).toBeFalsy();
    expect(out.readies.filter((rd) => rd.recovered)).toHaveLength(1);
    expect(n.status().recoveringUntil).toBe(0);
    n.step(append(6, [7], 6), 30);
    r = ofType(drain(n).msgs, 'append_entries_response')[0]!;
    expect(r.recovering).toBeFalsy();
  });

  it('a single-voter node that lost acknowledged entries refuses to start', () => {
    expect(() => mkNode('a', ['a'], {}, recovering(5, [1, 1, 1], 1))).toThrow(/single-voter/);
  });

  it('the leader counts neither its acks toward commit nor its heartbeat toward ReadIndex', () => {
    const a = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    makeLeader(a);
    drain(a);
    const term = a.status().term;
    a.propose(new Uint8Array([1]), 1001);
    drain(a);
    const last = a.status().lastIndex;
    a.step({ ...ackAppend('b', 'a', term, last), recovering: true } as RaftMessage, 1002);
    drain(a);
    expect(a.status().commit).toBeLessThan(last);
    expect(a.status().progress?.b?.recovering).toBe(true);
    // The same ack without the flag commits.
    a.step(ackAppend('c', 'a', term, last), 1003);
    drain(a);
    expect(a.status().commit).toBe(last);

    a.readIndex('r1', 1004);
    const hb = ofType(drain(a).msgs, 'heartbeat').find((m) => m.readCtx > 0)!;
    a.step(
      { type: 'heartbeat_response', from: 'b', to: 'a', term, readCtx: hb.readCtx, recovering: true },
      1005,
    );
    expect(drain(a).readies.flatMap((rd) => rd.readStates)).toHaveLength(0);
    a.step({ type: 'heartbeat_response', from: 'c', to: 'a', term, readCtx: hb.readCtx }, 1006);
    expect(drain(a).readies.flatMap((rd) => rd.readStates.map((s) => s.requestId))).toEqual(['r1']);
  });

  it('check-quorum does not count a recovering follower as active', () => {
    const a = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    makeLeader(a);
    drain(a);
    const term = a.status().term;
    for (let t = 1000; t < 3000; t += 50) {
      a.step({ type: 'heartbeat_response', from: 'b', to: 'a', term, readCtx: 0, recovering: true }, t);
      a.tick(t);
      drain(a);
    }
    expect(a.status().role).not.toBe('leader');
  });
});
