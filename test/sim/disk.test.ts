import { describe, expect, it } from 'vitest';
import { SimDisk } from '../../src/sim/raft/disk.js';
import { EntryType, type Entry, type Snapshot } from '../../src/raft/types.js';

const e = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array([index]),
});
const snap = (index: number, term: number): Snapshot => ({
  meta: { index, term, conf: { voters: ['n1'], learners: [] } },
  data: new Uint8Array([9]),
});

describe('simulated disk', () => {
  it('loses every write after the last sync on crash', () => {
    const d = new SimDisk();
    d.appendNow([e(1, 1), e(2, 1)]);
    d.setHardStateNow({ term: 1, vote: 'n1', commit: 0 });
    d.syncNow();
    d.appendNow([e(3, 1)]);
    d.setHardStateNow({ term: 2, vote: 'n2', commit: 1 });
    expect(d.viewLog().entries.map((x) => x.index)).toEqual([1, 2, 3]);
    d.crash();
    const r = d.loadNow();
    expect(r.entries.map((x) => x.index)).toEqual([1, 2]);
    expect(r.hardState).toEqual({ term: 1, vote: 'n1', commit: 0 });
  });

  it('append overwrites the stored suffix and refuses gaps', () => {
    const d = new SimDisk();
    d.appendNow([e(1, 1), e(2, 1), e(3, 1)]);
    d.appendNow([e(2, 2)]);
    d.syncNow();
    expect(d.loadNow().entries.map((x) => `${x.index}/${x.term}`)).toEqual(['1/1', '2/2']);
    d.appendNow([e(5, 2)]);
    expect(() => d.syncNow()).toThrow(/gap/);
  });

  it('a snapshot drops covered entries and keeps a matching tail only', () => {
    const d = new SimDisk();
    d.appendNow([e(1, 1), e(2, 1), e(3, 1), e(4, 1)]);
    d.saveSnapshotNow(snap(2, 1));
    expect(d.loadNow().entries.map((x) => x.index)).toEqual([3, 4]);
    expect(d.loadNow().snapshot?.meta.index).toBe(2);
    // A snapshot from a leader whose log disagrees at its index replaces the whole log.
    d.saveSnapshotNow(snap(3, 5));
    expect(d.loadNow().entries).toEqual([]);
    expect(d.durableTermAt(3)).toBe(5);
    d.appendNow([e(4, 5)]);
    d.syncNow();
    expect(d.loadNow().entries.map((x) => x.index)).toEqual([4]);
  });

  it('a lying disk acknowledges syncs and keeps nothing', async () => {
    const d = new SimDisk('lying-sync');
    d.append([e(1, 1)]);
    await d.sync();
    d.crash();
    expect((await d.load()).entries).toEqual([]);
  });
});
