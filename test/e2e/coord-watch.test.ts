/**
 * Watch on real daemons (3 on loopback, multicast off): a watcher that
 * resumes with Last-Event-ID sees every revision once, in order, with no gap,
 * across a reconnect in the middle of a 1,000-put burst (to another node),
 * across a leader SIGKILL, and across a SIGKILL and restart of the follower
 * it watches; a start older than the history answers 410 with the oldest
 * revision; bad input is a 4xx, never a 500. Needs `npm run build`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/client.js';
import { CoordCluster, api, type Daemon } from '../helpers/coord-cluster.js';
import { until } from '../helpers/kv-history.js';

interface Ev {
  type: string;
  key: string;
  revision: number;
}

let c: CoordCluster;

beforeAll(async () => {
  // No snapshot during the test: a restarted follower replays its whole log, so its history covers it.
  c = await CoordCluster.start(3, { raft: ['snapshot_interval_entries = 100000'], tag: 'cwatch' });
}, 120_000);

afterAll(() => c?.cleanup());

const url = (d: Daemon): string => d.info.api_url;

/** Collect events of `prefix` from node `d` after revision `lastId` until `stop` says so or the stream breaks. */
async function collect(
  d: Daemon,
  prefix: string,
  lastId: number,
  out: Ev[],
  stop: (out: Ev[]) => boolean,
  ms = 60_000,
): Promise<'stopped' | 'broken'> {
  const client = new SwarmClient({ baseUrl: url(d) });
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  // The condition may become true without a new event (the writer finished after the last one).
  const poll = setInterval(() => {
    if (stop(out)) ac.abort();
  }, 200);
  try {
    for await (const m of client.sse(`/v1/watch?prefix=${encodeURIComponent(prefix)}`, lastId, ac.signal)) {
      if (m.event !== 'put' && m.event !== 'delete') continue;
      const ev = JSON.parse(m.data) as Ev;
      expect(Number(m.id)).toBe(ev.revision);
      out.push(ev);
      if (stop(out)) {
        ac.abort();
        return 'stopped';
      }
    }
    return 'stopped';
  } catch {
    if (ac.signal.aborted && !stop(out))
      throw new Error(`watch on ${d.name} timed out with ${out.length} events`);
    return 'broken';
  } finally {
    clearTimeout(timer);
    clearInterval(poll);
  }
}

async function revisionNow(d: Daemon): Promise<number> {
  return (await api<{ revision: number }>(url(d), 'GET', '/v1/kv?prefix=__none__')).body.revision;
}

/** A put through any live node, retried elsewhere while no node answers 200; returns the acked revision or null. */
async function put(key: string, value: unknown, prefer = 0): Promise<number | null> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const live = c.live();
    const d = live[(prefer + attempt) % live.length]!;
    try {
      const r = await api<{ revision: number }>(url(d), 'PUT', `/v1/kv/${key}`, { value }, 8000);
      if (r.status === 200) return r.body.revision;
    } catch {
      /* node down or slow: next one */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

function expectContiguous(evs: Ev[], first: number, count?: number): void {
  const revs = evs.map((e) => e.revision);
  expect(new Set(revs).size).toBe(revs.length);
  revs.forEach((r, i) => expect(r).toBe(first + i));
  if (count !== undefined) expect(revs.length).toBe(count);
}

describe('watch on real daemons', () => {
  it('resumes with Last-Event-ID on another node in the middle of a 1,000-put burst: no gap, no duplicate', async () => {
    const [f1, f2] = await c.followers();
    const start = await revisionNow(f1!);
    const seen: Ev[] = [];
    const first = collect(f1!, 'burst/', start, seen, (o) => o.length >= 300);
    await new Promise((r) => setTimeout(r, 300));
    let next = 0;
    const acked: number[] = [];
    const writer = async (w: number): Promise<void> => {
      while (next < 1000) {
        const i = next++;
        const rev = await put(`burst/${i}`, i, w);
        if (rev !== null) acked.push(rev);
      }
    };
    const writers = Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(writer));
    expect(await first).toBe('stopped');
    // Reconnect to the other follower with the last id seen, while the burst goes on.
    const mid = seen.length;
    await collect(f2!, 'burst/', seen[seen.length - 1]!.revision, seen, (o) => o.length >= 1000);
    await writers;
    expect(acked.length).toBe(1000);
    expectContiguous(seen, start + 1, 1000);
    expect(new Set(seen.map((e) => e.key)).size).toBe(1000);
    expect(mid).toBeGreaterThanOrEqual(300);
  }, 180_000);

  it('consistent=true on a follower starts after every write acknowledged before the request', async () => {
    const leader = await c.leader();
    const [f] = await c.followers();
    for (let i = 0; i < 5; i++) {
      const put1 = await api<{ revision: number }>(url(leader), 'PUT', '/v1/kv/cons/k', { value: i });
      const w = await api<{ revision: number; next_revision: number }>(
        url(f!),
        'GET',
        '/v1/watch?key=cons/k&consistent=true&wait=0s',
      );
      expect(w.status).toBe(200);
      expect(w.body.revision).toBeGreaterThanOrEqual(put1.body.revision);
      expect(w.body.next_revision).toBeGreaterThan(put1.body.revision);
    }
  }, 60_000);

  it('keeps order with no gap across a leader SIGKILL (watching a surviving follower)', async () => {
    const leader = await c.leader();
    const [w] = await c.followers();
    const start = await revisionNow(w!);
    const seen: Ev[] = [];
    const acked: number[] = [];
    let done = false;
    const watcher = (async () => {
      // A break (none expected: w survives) is resumed from the last event, as a client would.
      while (!(done && acked.every((r) => seen.some((e) => e.revision === r)))) {
        const last = seen.length === 0 ? start : seen[seen.length - 1]!.revision;
        await collect(
          w!,
          'lc/',
          last,
          seen,
          () => done && Math.max(0, ...acked) <= seen[seen.length - 1]!.revision,
          90_000,
        );
      }
    })();
    for (let i = 0; i < 200; i++) {
      if (i === 60) c.kill(leader);
      const rev = await put(`lc/${i}`, i, i);
      if (rev !== null) acked.push(rev);
    }
    done = true;
    await watcher;
    expectContiguous(seen, start + 1);
    for (const r of acked) expect(seen.filter((e) => e.revision === r)).toHaveLength(1);
    expect(acked.length).toBeGreaterThanOrEqual(190);
    await c.restart(leader);
    await c.leader(60_000);
  }, 240_000);

  it('resumes on a follower after its SIGKILL and restart with no gap and no duplicate', async () => {
    const [f] = await c.followers();
    const start = await revisionNow(f!);
    const seen: Ev[] = [];
    const w1 = collect(f!, 'fr/', start, seen, (o) => o.length >= 50);
    await new Promise((r) => setTimeout(r, 300));
    const others = () => c.live().filter((d) => d !== f);
    for (let i = 0; i < 50; i++) await put(`fr/${i}`, i, i);
    expect(await w1).toBe('stopped');
    c.kill(f!);
    for (let i = 50; i < 150; i++) {
      const d = others()[i % others().length]!;
      expect((await api(url(d), 'PUT', `/v1/kv/fr/${i}`, { value: i })).status).toBe(200);
    }
    await c.restart(f!);
    await collect(f!, 'fr/', seen[seen.length - 1]!.revision, seen, (o) => o.length >= 150, 90_000);
    expectContiguous(seen, start + 1, 150);
  }, 240_000);
});

describe('watch history bounds and bad input (one node, watch_history_events = 16, max_watchers = 2)', () => {
  let one: CoordCluster;
  beforeAll(async () => {
    one = await CoordCluster.start(1, {
      more: ['[coordination]', 'watch_history_events = 16', 'max_watchers = 2'],
      tag: 'cwatch1',
    });
  }, 60_000);
  afterAll(() => one?.cleanup());

  it('answers 410 with the oldest revision once the start is compacted; later starts work', async () => {
    const base = one.ds[0]!.info.api_url;
    for (let i = 1; i <= 40; i++)
      expect((await api(base, 'PUT', `/v1/kv/h${i}`, { value: i })).status).toBe(200);
    const gone = await api<{ error: { code: string }; oldest_revision: number }>(
      base,
      'GET',
      '/v1/watch?prefix=&from_revision=1&wait=1s',
    );
    expect(gone.status).toBe(410);
    expect(gone.body).toMatchObject({ error: { code: 'compacted' }, oldest_revision: 25 });
    const sse = await fetch(`${base}/v1/watch?prefix=`, { headers: { 'last-event-id': '3' } });
    expect(sse.status).toBe(410);
    await sse.body?.cancel();
    const ok = await api<{ events: Ev[]; next_revision: number }>(
      base,
      'GET',
      '/v1/watch?prefix=&from_revision=25&wait=1s',
    );
    expect(ok.status).toBe(200);
    expect(ok.body.events.map((e) => e.revision)).toEqual([...Array(16).keys()].map((i) => 25 + i));
    expect(ok.body.next_revision).toBe(41);
    // A long poll with nothing new answers [] at its timeout, ready to continue where it stood.
    const empty = await api<{ events: Ev[]; next_revision: number }>(
      base,
      'GET',
      '/v1/watch?key=h1&from_revision=41&wait=300ms',
    );
    expect(empty.body).toMatchObject({ events: [], next_revision: 41 });
  }, 60_000);

  it('bad input is 4xx JSON, and the watcher cap answers 429', async () => {
    const base = one.ds[0]!.info.api_url;
    for (const q of [
      '?wait=1s',
      '?key=a&prefix=b&wait=1s',
      '?key=&wait=1s',
      '?prefix=&from_revision=-1&wait=1s',
      '?prefix=&wait=abc',
      '?prefix=&wait=9999s',
      '?prefix=&limit=x&wait=1s',
    ]) {
      const r = await api<{ error: { code: string } }>(base, 'GET', `/v1/watch${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
    }
    const bad = await fetch(`${base}/v1/watch?prefix=`, { headers: { 'last-event-id': 'x' } });
    expect(bad.status).toBe(400);
    const a = new AbortController();
    const s1 = await fetch(`${base}/v1/watch?prefix=`, { signal: a.signal });
    const s2 = await fetch(`${base}/v1/watch?prefix=`, { signal: a.signal });
    expect([s1.status, s2.status]).toEqual([200, 200]);
    const s3 = await api<{ error: { code: string } }>(base, 'GET', '/v1/watch?prefix=&wait=1s');
    expect(s3.status).toBe(429);
    expect(s3.body.error.code).toBe('too_many_watchers');
    a.abort();
    // Closed streams free their slots.
    await until(
      'slots freed',
      async () => (await api(base, 'GET', '/v1/watch?prefix=&wait=100ms')).status === 200,
      10_000,
    );
  }, 60_000);
});
