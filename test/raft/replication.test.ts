/** Paper sections 5.3 (log replication), 5.4.2 (committing entries from previous terms) and flow control. */
import { describe, expect, it } from 'vitest';
import type { AppendEntriesMsg } from '../../src/raft/messages.js';
import { TestCluster, text } from './cluster.js';
import { ackAppend, drain, ent, makeLeader, mkNode, ofType, withLog } from './manual.js';

function append(
  from: string,
  to: string,
  term: number,
  prevLogIndex: number,
  prevLogTerm: number,
  entries: ReturnType<typeof ent>[],
  commit = 0,
): AppendEntriesMsg {
  return { type: 'append_entries', from, to, term, prevLogIndex, prevLogTerm, entries, commit };
}

describe('5.3 log replication', () => {
  it('log matching: rejects an append whose previous entry does not match, with a conflict hint', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1, 1, 2, 2, 2], 3);
    n.step(append('b', 'a', 3, 4, 3, [ent(5, 3)]), 0);
    const r = ofType(drain(n).msgs, 'append_entries_response')[0]!;
    expect(r.success).toBe(false);
    expect(r.rejectedIndex).toBe(4);
    expect(r.conflictTerm).toBe(2);
    expect(r.conflictIndex).toBe(3);
  });

  it('a follower whose log is too short answers with its length', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1, 1], 2);
    n.step(append('b', 'a', 2, 6, 2, [ent(7, 2)]), 0);
    const r = ofType(drain(n).msgs, 'append_entries_response')[0]!;
    expect(r.success).toBe(false);
    expect(r.conflictTerm).toBe(0);
    expect(r.conflictIndex).toBe(3);
  });

  it('truncates a conflicting uncommitted suffix and appends the leader entries (persisted before the ack)', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1, 1, 2, 2], 3);
    n.step(append('b', 'a', 3, 2, 1, [ent(3, 3, 'x'), ent(4, 3, 'y'), ent(5, 3, 'z')], 4), 0);
    const { readies } = drain(n);
    const rd = readies[0]!;
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([
      [3, 3],
      [4, 3],
      [5, 3],
    ]);
    const ack = ofType([...rd.messages], 'append_entries_response')[0]!;
    expect(ack.success).toBe(true);
    expect(ack.matchIndex).toBe(5);
    expect(n.status().commit).toBe(4);
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  it('an old, reordered append does not truncate entries a newer one added', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [], 1);
    n.step(append('b', 'a', 1, 0, 0, [ent(1, 1), ent(2, 1), ent(3, 1)]), 0);
    drain(n);
    n.step(append('b', 'a', 1, 0, 0, [ent(1, 1)]), 1);
    const r = ofType(drain(n).msgs, 'append_entries_response')[0]!;
    expect(r.success).toBe(true);
    expect(n.status().lastIndex).toBe(3);
  });

  it('commit index on a follower never passes the last entry the append proved', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1, 1, 1, 1], 1);
    // Leader commit 4, but the append only proves index 2.
    n.step(append('b', 'a', 1, 1, 1, [ent(2, 1)], 4), 0);
    drain(n);
    expect(n.status().commit).toBe(2);
  });

  it('an append entirely below the commit index is acknowledged with the commit index', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1, 1], 1);
    n.step(append('b', 'a', 1, 2, 1, [], 2), 0);
    drain(n);
    n.step(append('c', 'a', 2, 0, 0, [ent(1, 1)], 0), 1);
    const r = ofType(drain(n).msgs, 'append_entries_response')[0]!;
    expect(r.success).toBe(true);
    expect(r.matchIndex).toBe(2);
    expect(n.status().lastIndex).toBe(2);
  });

  it('fast back-off: a follower with a long divergent log is repaired in a few round trips', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 5);
    const l = await c.electLeader();
    const follower = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    c.isolate(follower);
    for (let i = 0; i < 200; i++) l.propose(text(`e${i}`), c.now);
    await c.advance(200);
    const before = c.sent.length;
    c.heal();
    await c.advance(300);
    const rejections = c.sent
      .slice(before)
      .filter((m) => m.type === 'append_entries_response' && m.from === follower && !m.success);
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(c.appliedTexts(follower)).toHaveLength(200);
  });

  it('a leader converges a follower that has many uncommitted entries from old terms', async () => {
    const c = TestCluster.boot(['a', 'b', 'c', 'd', 'e'], 8);
    const l1 = await c.electLeader();
    // The old leader appends entries that never commit, then loses leadership.
    c.isolate(l1.id);
    for (let i = 0; i < 50; i++) l1.propose(text(`lost${i}`), c.now);
    await c.deliver();
    await c.advance(1500);
    const l2 = await c.electLeader();
    expect(l2.id).not.toBe(l1.id);
    for (let i = 0; i < 10; i++) l2.propose(text(`kept${i}`), c.now);
    await c.deliver();
    c.heal();
    await c.advance(1500);
    const texts = c.appliedTexts(l1.id);
    expect(texts.filter((t) => t.startsWith('lost'))).toEqual([]);
    expect(texts.filter((t) => t.startsWith('kept'))).toHaveLength(10);
    c.checkLogMatching();
  });
});

describe('5.4.2 committing entries from previous terms', () => {
  it('a leader does not commit an old-term entry by counting replicas (figure 8)', () => {
    // a leads term 3 with an entry of term 2 at index 2 that is replicated to b (a majority with a).
    const a = withLog('a', ['a', 'b', 'c'], [1, 2], 2, { preVote: false });
    makeLeader(a);
    const term = a.status().term;
    expect(term).toBe(3);
    drain(a);
    // b acknowledges index 2 only (not the no-op at 3).
    a.step(ackAppend('b', 'a', term, 2), 1001);
    drain(a);
    expect(a.status().commit).toBe(0);
    // Once the current-term no-op is on a majority, everything before it commits too.
    a.step(ackAppend('b', 'a', term, 3), 1002);
    const { readies } = drain(a);
    expect(a.status().commit).toBe(3);
    expect(readies.flatMap((r) => r.committed.map((e) => e.index))).toEqual([1, 2, 3]);
  });

  it('a new leader appends a no-op of its term first', async () => {
    const a = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    makeLeader(a);
    const { readies } = drain(a);
    const e = readies.flatMap((r) => r.entries)[0]!;
    expect(e.term).toBe(a.status().term);
    expect(e.data.length).toBe(0);
  });

  it('the leader counts its own entry only once it is durable', async () => {
    const a = mkNode('a', ['a', 'b'], { preVote: false });
    makeLeader(a);
    const rd = a.ready();
    const noop = rd.entries[0]!;
    // b acknowledges before the leader's own write is done: 1 of 2 voters is not a majority.
    a.step(ackAppend('b', 'a', a.status().term, noop.index), 1001);
    expect(a.status().commit).toBe(0);
    a.advance(rd);
    expect(a.status().commit).toBe(noop.index);
  });

  it('learners are replicated to but not counted in the quorum', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 21, {}, ['l1', 'l2']);
    const l = await c.electLeader();
    const others = ['a', 'b', 'c'].filter((id) => id !== l.id);
    for (const id of others) c.crash(id);
    l.propose(text('x'), c.now);
    await c.advance(200);
    // Two learners hold the entry but the leader alone is not a majority of voters.
    expect(c.appliedTexts('l1')).toEqual([]);
    expect(l.status().progress?.l1?.match).toBe(l.status().lastIndex);
    expect(l.status().commit).toBeLessThan(l.status().lastIndex);
  });
});

describe('flow control and batching', () => {
  it('proposals between two Readys go out as one append per follower', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 2);
    const l = await c.electLeader();
    await c.advance(100);
    const before = c.sent.length;
    for (let i = 0; i < 10; i++) l.propose(text(`p${i}`), c.now);
    await c.deliver();
    const appends = c.sent.slice(before).filter((m) => m.type === 'append_entries' && m.from === l.id);
    expect(appends).toHaveLength(2);
    expect(appends.every((m) => m.type === 'append_entries' && m.entries.length === 10)).toBe(true);
  });

  it('bounds unacknowledged appends per follower and respects maxEntriesPerMsg', () => {
    const a = mkNode('a', ['a', 'b'], { preVote: false, maxInflightMsgs: 3, maxEntriesPerMsg: 2 });
    makeLeader(a);
    drain(a);
    // Put b into replicate state.
    a.step(ackAppend('b', 'a', a.status().term, 1), 1001);
    drain(a);
    expect(a.status().progress?.b?.state).toBe('replicate');
    for (let i = 0; i < 20; i++) a.propose(text(`p${i}`), 1002);
    const appends = ofType(drain(a).msgs, 'append_entries').filter((m) => m.to === 'b');
    expect(appends).toHaveLength(3);
    expect(appends.every((m) => m.entries.length <= 2)).toBe(true);
    expect(a.status().progress?.b?.inflight).toBe(3);
  });
});
