/** The node's watch hub: cursors over the history, wake-ups, the watcher cap, resets. */
import { describe, expect, it } from 'vitest';
import type { KvEvent } from '../../src/kv/types.js';
import { CompactedError, TooManyWatchersError, WatchHub } from '../../src/node/watch-hub.js';

const ev = (revision: number, key = `k/${revision}`): KvEvent => ({
  type: 'put',
  key,
  value: revision,
  revision,
  createRevision: revision,
  lease: 0,
});

describe('WatchHub', () => {
  it('a cursor waits for the next applied batch and resumes where it stood', async () => {
    const hub = new WatchHub();
    hub.configure({ maxEvents: 100, maxBytes: 1 << 20 }, 4);
    hub.event(ev(1));
    const cur = hub.cursor({ prefix: 'k/' });
    expect(cur.position).toBe(2);
    const waiting = cur.next(5000);
    hub.event(ev(2));
    hub.event(ev(3, 'other'));
    hub.wakeAll();
    expect((await waiting).map((e) => e.revision)).toEqual([2]);
    expect(cur.position).toBe(4);
    expect(await cur.next(10)).toEqual([]);
    cur.close();
    expect(hub.watchers).toBe(0);
  });

  it('refuses a start below the history, and caps watchers (internal cursors are not counted)', () => {
    const hub = new WatchHub();
    hub.configure({ maxEvents: 16, maxBytes: 1 << 20 }, 2);
    for (let r = 1; r <= 20; r++) hub.event(ev(r));
    expect(() => hub.cursor({ prefix: '' }, 1)).toThrow(CompactedError);
    const a = hub.cursor({ prefix: '' }, 5);
    const b = hub.cursor({ prefix: '' }, 21);
    expect(() => hub.cursor({ prefix: '' })).toThrow(TooManyWatchersError);
    const internal = hub.cursor({ prefix: '' }, undefined, { internal: true });
    expect(internal.position).toBe(21);
    a.close();
    expect(() => hub.cursor({ prefix: '' })).not.toThrow();
    b.close();
  });

  it('a slow cursor overtaken by the history is told compacted', () => {
    const hub = new WatchHub();
    hub.configure({ maxEvents: 16, maxBytes: 1 << 20 }, 8);
    const slow = hub.cursor({ prefix: '' }, 1);
    for (let r = 1; r <= 40; r++) hub.event(ev(r));
    expect(() => slow.poll()).toThrow(CompactedError);
  });

  it('a snapshot moving forward keeps later cursors; a store going back (merge) compacts every cursor', () => {
    const hub = new WatchHub();
    hub.configure({ maxEvents: 100, maxBytes: 1 << 20 }, 8);
    for (let r = 1; r <= 10; r++) hub.event(ev(r));
    const ahead = hub.cursor({ prefix: '' }, 60);
    hub.restored(50);
    hub.event(ev(51));
    expect(ahead.poll()).toEqual([]);
    hub.restored(0);
    hub.event(ev(1));
    expect(() => ahead.poll()).toThrow(CompactedError);
  });
});
