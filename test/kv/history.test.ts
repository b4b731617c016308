/** The per-node watch history: revision order, no gap, bounds, compaction. */
import { describe, expect, it } from 'vitest';
import { WatchHistory } from '../../src/kv/history.js';
import type { KvEvent } from '../../src/kv/types.js';

const ev = (revision: number, key = `k${revision}`, value: string | null = 'v'): KvEvent => ({
  type: value === null ? 'delete' : 'put',
  key,
  value,
  revision,
  createRevision: revision,
  lease: 0,
});

describe('WatchHistory', () => {
  it('reads from a revision with a filter; next moves past what was scanned', () => {
    const h = new WatchHistory({ maxEvents: 100, maxBytes: 1 << 20 });
    for (let r = 1; r <= 10; r++) h.push(ev(r, r % 2 === 0 ? `a/${r}` : `b/${r}`));
    const r = h.read(3, { prefix: 'a/' });
    expect(r).toEqual({
      ok: true,
      events: [ev(4, 'a/4'), ev(6, 'a/6'), ev(8, 'a/8'), ev(10, 'a/10')],
      next: 11,
    });
    expect(h.read(11, { prefix: '' })).toEqual({ ok: true, events: [], next: 11 });
    expect(h.read(5, { key: 'b/5' })).toMatchObject({ events: [ev(5, 'b/5')], next: 11 });
    const lim = h.read(1, { prefix: '' }, 3);
    expect(lim).toMatchObject({ next: 4 });
  });

  it('drops the oldest past maxEvents and answers compacted with the oldest revision', () => {
    const h = new WatchHistory({ maxEvents: 16, maxBytes: 1 << 20 });
    for (let r = 1; r <= 40; r++) h.push(ev(r));
    expect(h.size).toBe(16);
    expect(h.oldestRevision).toBe(25);
    expect(h.read(24, { prefix: '' })).toEqual({ ok: false, oldest: 25 });
    const all = h.read(25, { prefix: '' });
    expect(all.ok && all.events.map((e) => e.revision)).toEqual([...Array(16).keys()].map((i) => 25 + i));
  });

  it('bounds bytes too', () => {
    const h = new WatchHistory({ maxEvents: 1000, maxBytes: 2000 });
    for (let r = 1; r <= 100; r++) h.push(ev(r, 'k', 'x'.repeat(100)));
    expect(h.byteSize).toBeLessThanOrEqual(2000);
    expect(h.oldestRevision).toBeGreaterThan(1);
  });

  it('restarts at a snapshot: earlier revisions are compacted, later ones follow with no gap', () => {
    const h = new WatchHistory({ maxEvents: 100, maxBytes: 1 << 20 });
    for (let r = 1; r <= 5; r++) h.push(ev(r));
    h.reset(50);
    expect(h.read(10, { prefix: '' })).toEqual({ ok: false, oldest: 51 });
    h.push(ev(51));
    expect(h.read(51, { prefix: '' })).toMatchObject({ ok: true, events: [ev(51)] });
  });
});
