/**
 * Issue #14 items 2 and 3: a follower whose log got shorter than what it once
 * acknowledged is repaired, and replication is bounded by bytes (per message
 * and in flight), not only by counts.
 */
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/raft/progress.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { ackAppend, drain, makeLeader, mkNode, ofType } from './manual.js';

const KB = 1024;

function rejectFrom(from: string, to: string, term: number, rejected: number, last: number): RaftMessage {
  return {
    type: 'append_entries_response',
    from,
    to,
    term,
    success: false,
    matchIndex: 0,
    rejectedIndex: rejected,
    conflictTerm: 0,
    conflictIndex: last + 1,
    lastLogIndex: last,
  };
}

describe('progress: a follower whose log got shorter (item 2)', () => {
  it('a rejection whose follower log ends below match lowers match and next', () => {
    const pr = new Progress('b', 11, false);
    pr.maybeUpdate(10);
    pr.becomeReplicate();
    expect(pr.next).toBe(11);
    // The follower repaired a damaged tail and now ends at 7.
    expect(pr.maybeDecrTo(10, 8, 7)).toBe(true);
    expect(pr.match).toBe(7);
    expect(pr.next).toBe(8);
    expect(pr.state).toBe('probe');
  });

  it('in probe state too (the answer to a probe at match)', () => {
    const pr = new Progress('b', 11, false);
    pr.maybeUpdate(10);
    pr.becomeProbe();
    pr.sentAppend(10, 0);
    expect(pr.maybeDecrTo(10, 6, 5)).toBe(true);
    expect(pr.match).toBe(5);
    expect(pr.next).toBe(6);
  });

  it('a stale rejection from a follower still holding match is ignored as before', () => {
    const pr = new Progress('b', 11, false);
    pr.maybeUpdate(10);
    pr.becomeReplicate();
    expect(pr.maybeDecrTo(9, 5, 12)).toBe(false);
    expect(pr.match).toBe(10);
  });

  it('the leader stops re-sending the same append and repairs the follower', () => {
    const a = mkNode('a', ['a', 'b'], { preVote: false });
    makeLeader(a);
    drain(a);
    const term = a.status().term;
    for (let i = 0; i < 9; i++) a.propose(new Uint8Array([i]), 1001);
    drain(a);
    a.step(ackAppend('b', 'a', term, 10), 1002);
    drain(a);
    expect(a.status().progress?.b?.match).toBe(10);
    // b lost its tail: it now ends at 4. The leader's next append (prev 10) is rejected.
    a.step(rejectFrom('b', 'a', term, 10, 4), 1003);
    const appends = ofType(drain(a).msgs, 'append_entries').filter((m) => m.to === 'b');
    expect(a.status().progress?.b?.match).toBe(4);
    expect(appends).toHaveLength(1);
    expect(appends[0]!.prevLogIndex).toBe(4);
    expect(appends[0]!.entries.map((e) => e.index)).toEqual([5, 6, 7, 8, 9, 10]);
  });
});

describe('byte-bounded replication (item 3)', () => {
  it('an append carries at most maxSizePerMsg bytes of entries, but at least one entry', () => {
    const a = mkNode('a', ['a', 'b'], { preVote: false, maxSizePerMsg: 256 * KB, maxInflightMsgs: 1000 });
    makeLeader(a);
    drain(a);
    a.step(ackAppend('b', 'a', a.status().term, 1), 1001);
    drain(a);
    for (let i = 0; i < 40; i++) a.propose(new Uint8Array(60 * KB), 1002);
    a.propose(new Uint8Array(600 * KB), 1002);
    const appends = ofType(drain(a).msgs, 'append_entries').filter((m) => m.to === 'b');
    let total = 0;
    for (const m of appends) {
      const bytes = m.entries.reduce((s, e) => s + e.data.byteLength, 0);
      total += m.entries.length;
      expect(m.entries.length).toBeGreaterThan(0);
      if (m.entries.length > 1) expect(bytes).toBeLessThanOrEqual(256 * KB);
    }
    expect(total).toBe(41);
    // The 600 KiB entry exceeds the limit alone and still goes, by itself.
    expect(appends[appends.length - 1]!.entries).toHaveLength(1);
  });

  it('the default keeps 512 entries of 60 KB far below the 16 MiB frame limit', () => {
    const a = mkNode('a', ['a', 'b'], { preVote: false });
    makeLeader(a);
    drain(a);
    a.step(ackAppend('b', 'a', a.status().term, 1), 1001);
    drain(a);
    for (let i = 0; i < 300; i++) a.propose(new Uint8Array(60_000), 1002);
    const appends = ofType(drain(a).msgs, 'append_entries').filter((m) => m.to === 'b');
    for (const m of appends) {
      expect(m.entries.reduce((s, e) => s + e.data.byteLength, 0)).toBeLessThanOrEqual(1024 * KB);
    }
  });

  it('in-flight appends to a follower are bounded by bytes as well as by count', () => {
    const a = mkNode('a', ['a', 'b'], {
      preVote: false,
      maxSizePerMsg: 100 * KB,
      maxInflightBytes: 400 * KB,
      maxInflightMsgs: 64,
    });
    makeLeader(a);
    drain(a);
    a.step(ackAppend('b', 'a', a.status().term, 1), 1001);
    drain(a);
    for (let i = 0; i < 100; i++) a.propose(new Uint8Array(50 * KB), 1002);
    const appends = ofType(drain(a).msgs, 'append_entries').filter((m) => m.to === 'b');
    const sent = appends.reduce((s, m) => s + m.entries.reduce((t, e) => t + e.data.byteLength, 0), 0);
    // Paused once 400 KiB are unacknowledged (the last message may cross the line).
    expect(sent).toBeLessThanOrEqual(500 * KB);
    expect(appends.length).toBeLessThan(64);
    // An acknowledgement frees room and the pipeline moves on.
    const last = appends[0]!.entries[appends[0]!.entries.length - 1]!.index;
    a.step(ackAppend('b', 'a', a.status().term, last), 1003);
    expect(ofType(drain(a).msgs, 'append_entries').filter((m) => m.to === 'b').length).toBeGreaterThan(0);
  });

  it('Progress counts in-flight bytes and frees them on acknowledgement', () => {
    const pr = new Progress('b', 1, false);
    pr.becomeReplicate();
    pr.sentAppend(5, 5, 1000);
    pr.sentAppend(9, 4, 3000);
    expect(pr.inflightBytes).toBe(4000);
    expect(pr.isPaused(10, 4000)).toBe(true);
    expect(pr.isPaused(10, 4001)).toBe(false);
    pr.maybeUpdate(5);
    expect(pr.inflightBytes).toBe(3000);
    expect(pr.isPaused(10, 4000)).toBe(false);
  });
});
