/**
 * Issue #15: hasReady() only reads. A leader's batched appends and a due
 * ReadIndex round become messages in ready(), not when the driver asks
 * whether there is work, so asking (any number of times) changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { ackAppend, drain, makeLeader, mkNode, ofType } from './manual.js';

describe('hasReady() is a pure read', () => {
  it('does not send a leader batched appends; ready() does', () => {
    const a = mkNode('a', ['a', 'b', 'c']);
    makeLeader(a);
    drain(a);
    const term = a.status().term;
    const last = a.status().lastIndex;
    // Both followers acknowledge the no-op: they replicate, so a new entry would be pipelined at once.
    a.step(ackAppend('b', 'a', term, last), 1000);
    a.step(ackAppend('c', 'a', term, last), 1000);
    drain(a);
    expect(a.status().progress?.['b']?.state).toBe('replicate');

    expect(a.propose(new TextEncoder().encode('x'), 1000).ok).toBe(true);
    const before = a.status();
    expect(a.hasReady()).toBe(true);
    expect(a.hasReady()).toBe(true);
    expect(a.status()).toEqual(before);

    const rd = a.ready();
    const appends = ofType([...rd.messages], 'append_entries');
    expect(appends.map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(appends.every((m) => m.entries.length === 1)).toBe(true);
    expect(a.status().progress?.['b']?.inflight).toBe((before.progress?.['b']?.inflight ?? 0) + 1);
    // Outstanding Ready: nothing more until advance, however often asked.
    expect(a.hasReady()).toBe(false);
    a.advance(rd);
  });

  // Not a regression test (the old hasReady() also started one round only): pins where the round starts.
  it('does not start a ReadIndex round; ready() does', () => {
    const a = mkNode('a', ['a', 'b', 'c']);
    makeLeader(a);
    drain(a);
    const term = a.status().term;
    a.step(ackAppend('b', 'a', term, a.status().lastIndex), 1000);
    drain(a);
    expect(a.status().commit).toBe(a.status().lastIndex); // an entry of this term committed: reads go out
    expect(a.readIndex('r1', 1000).ok).toBe(true);
    expect(a.hasReady()).toBe(true);
    expect(a.hasReady()).toBe(true);
    const rd = a.ready();
    const beats = ofType([...rd.messages], 'heartbeat');
    expect(beats.map((m) => m.to).sort()).toEqual(['b', 'c']);
    // One round only: the asks above did not start rounds of their own.
    expect(new Set(beats.map((m) => m.readCtx)).size).toBe(1);
    expect(beats[0]!.readCtx).toBeGreaterThan(0);
    a.advance(rd);
  });
});
