/** The shared application side of a Ready: entries in order, proposals matched by term, reads after apply. */
import { describe, expect, it } from 'vitest';
import { encodeCommand, KvStateMachine, type KvResult } from '../../src/raft/kv.js';
import { KvApplier, type PendingProposal } from '../../src/raft/kv-applier.js';
import { EntryType, type Entry } from '../../src/raft/types.js';

const put = (index: number, term: number, key: string, value: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: encodeCommand({ op: 'put', key, value }),
});

function proposal(term: number): PendingProposal & { outcome: string | null; result: KvResult | null } {
  const p = {
    term,
    outcome: null as string | null,
    result: null as KvResult | null,
    applied(r: KvResult) {
      p.outcome = 'applied';
      p.result = r;
    },
    superseded(index: number, t: number) {
      p.outcome = `superseded ${index}@${t}`;
    },
    abandoned(reason: string) {
      p.outcome = `abandoned: ${reason}`;
    },
  };
  return p;
}

const ready = (committed: Entry[], readStates: { requestId: string; index: number }[] = []) => ({
  snapshot: undefined,
  committed,
  readStates,
});

describe('KvApplier', () => {
  it('answers a proposal when its entry applies in the same term, and reports a replaced one', () => {
    const a = new KvApplier();
    const mine = proposal(2);
    const lost = proposal(2);
    a.awaitApply(1, mine);
    a.awaitApply(2, lost);
    a.apply(ready([put(1, 2, 'k', 1), put(2, 3, 'k', 2)]));
    expect(mine.outcome).toBe('applied');
    expect(mine.result).toMatchObject({ ok: true });
    expect(lost.outcome).toBe('superseded 2@3');
    expect(a.kv.get('k')?.value).toBe(2);
    expect(a.appliedIndex).toBe(2);
  });

  it('applies each index once even when a Ready repeats it', () => {
    const a = new KvApplier();
    a.apply(ready([put(1, 1, 'k', 1)]));
    a.apply(ready([put(1, 1, 'k', 9), put(2, 1, 'j', 2)]));
    expect(a.kv.get('k')?.value).toBe(1);
    expect(a.kv.get('j')?.modRevision).toBe(2);
  });

  it('releases a confirmed read only once the state machine reaches its index', () => {
    const a = new KvApplier();
    const seen: (number | null)[] = [];
    a.awaitRead('r1', { ready: (kv) => seen.push((kv.get('k')?.value as number | undefined) ?? null) });
    a.apply(ready([put(1, 1, 'k', 1)], [{ requestId: 'r1', index: 2 }]));
    expect(seen).toEqual([]);
    a.apply(ready([put(2, 1, 'k', 2)]));
    expect(seen).toEqual([2]);
    // A cancelled read is never answered.
    a.awaitRead('r2', { ready: () => seen.push(-1) });
    expect(a.cancelRead('r2')).toBe(true);
    a.apply(ready([], [{ requestId: 'r2', index: 1 }]));
    expect(seen).toEqual([2]);
  });

  it('restores a snapshot in place of its prefix and abandons what still waits on stop', () => {
    const src = new KvStateMachine();
    src.apply(put(1, 1, 'a', 1));
    src.apply(put(2, 1, 'b', 2));
    const a = new KvApplier();
    const waiting = proposal(1);
    a.awaitApply(3, waiting);
    a.apply({
      snapshot: { meta: { index: 2, term: 1, conf: { voters: ['x'], learners: [] } }, data: src.snapshot() },
      committed: [put(2, 1, 'b', 99)],
      readStates: [],
    });
    expect(a.snapshotIndex).toBe(2);
    expect(a.kv.get('b')?.value).toBe(2);
    a.abandonAll('node stopping');
    expect(waiting.outcome).toBe('abandoned: node stopping');
    expect(a.cancelApply(3)).toBe(false);
  });
});
