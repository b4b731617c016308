/**
 * Coordination on 3 local daemons (compiled binary, loopback, multicast off,
 * join list; heartbeat 100 ms, election 600-1200 ms):
 * - watch latency: one client writes (PUT to follower A, one at a time,
 *   COORD_LATENCY_OPS = 500 puts of 64 B); a watcher streams the prefix (SSE)
 *   from another node: the other follower B, then the leader; time from the
 *   PUT sent to the event received.
 * - watcher throughput: COORD_BURST = 5000 puts from 32 concurrent writers
 *   spread over the three nodes, one SSE watcher on a follower; events/s it
 *   received over the burst and its lag behind the last acknowledged write;
 *   then a catch-up read of the whole burst from the history (from_revision).
 * - lock hand-over: a holder process takes a lock with a 5 s lease kept alive
 *   every second, another client waits for the lock; SIGKILL the holder:
 *   time until the waiter holds the lock (COORD_HANDOVER_TRIALS = 3).
 * Every process started here is killed here, also on error.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SwarmClient } from '../src/client/client.js';
import { keepLeaseAlive } from '../src/client/keepalive.js';
import { CoordCluster } from '../test/helpers/coord-cluster.js';
import { pct, round, sleep, VALUE } from './etcd-load.js';
import type { BenchReport } from './types.js';

const LAT_OPS = Number(process.env.COORD_LATENCY_OPS ?? 500);
const BURST = Number(process.env.COORD_BURST ?? 5000);
const TRIALS = Number(process.env.COORD_HANDOVER_TRIALS ?? 3);

async function put(base: string, key: string): Promise<number> {
  const r = await fetch(`${base}/v1/kv/${key}`, {
    method: 'PUT',
    body: JSON.stringify({ value: VALUE }),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(5000),
  });
  await r.arrayBuffer();
  return r.status;
}

/** Stream events of `prefix` from `base`, calling `on(revision, key, at)` for each, until aborted. */
function stream(
  base: string,
  prefix: string,
  on: (key: string, rev: number, at: number) => void,
): AbortController {
  const ac = new AbortController();
  const c = new SwarmClient({ baseUrl: base });
  void (async () => {
    try {
      for await (const ev of c.watchKv({ prefix }, { signal: ac.signal }))
        on(ev.key, ev.revision, performance.now());
    } catch {
      /* aborted */
    }
  })();
  return ac;
}

export default async function bench(): Promise<BenchReport> {
  const c = await CoordCluster.start(3, { tag: 'cbench' });
  try {
    const leader = await c.leader();
    const [b, a] = await c.followers();
    // --- latency: PUT at A (a follower: forwarded), event at W: the other follower, then the leader.
    const latency = async (watchAt: string, label: string): Promise<number[]> => {
      const sentAt = new Map<string, number>();
      const lat: number[] = [];
      const w = stream(watchAt, `${label}/`, (key, _rev, at) => {
        const t = sentAt.get(key);
        if (t !== undefined) lat.push(at - t);
      });
      await sleep(500);
      for (let i = 0; i < 50; i++) await put(a!.info.api_url, `warm/${i}`);
      for (let i = 0; i < LAT_OPS; i++) {
        const key = `${label}/${i}`;
        const seen = lat.length;
        sentAt.set(key, performance.now());
        if ((await put(a!.info.api_url, key)) !== 200) throw new Error(`put ${key} failed`);
        const end = performance.now() + 5000;
        while (lat.length === seen && performance.now() < end) await sleep(1);
      }
      w.abort();
      return lat;
    };
    const lat = await latency(b!.info.api_url, 'latf');
    const latLeader = await latency(leader.info.api_url, 'latl');
    // --- throughput: one watcher on a follower, 32 writers over all nodes
    let got = 0;
    let firstAt = 0;
    let lastAt = 0;
    let lastRev = 0;
    const w2 = stream(b!.info.api_url, 'burst/', (_k, rev, at) => {
      if (got === 0) firstAt = at;
      got++;
      lastAt = at;
      lastRev = rev;
    });
    await sleep(500);
    const nodes = [leader, a!, b!].map((d) => d.info.api_url);
    let next = 0;
    let maxAck = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        while (next < BURST) {
          const i = next++;
          const r = await fetch(`${nodes[w % 3]}/v1/kv/burst/${i}`, {
            method: 'PUT',
            body: JSON.stringify({ value: VALUE }),
            headers: { 'content-type': 'application/json' },
            signal: AbortSignal.timeout(5000),
          });
          const body = (await r.json()) as { revision?: number };
          if (r.status === 200) maxAck = Math.max(maxAck, body.revision ?? 0);
        }
      }),
    );
    const writeS = (performance.now() - t0) / 1000;
    const ackedAt = performance.now();
    const end = performance.now() + 30_000;
    while (lastRev < maxAck && performance.now() < end) await sleep(5);
    const lagMs = Math.max(0, lastAt - ackedAt);
    w2.abort();
    // Catch-up: the whole burst again, from the history, as fast as the watcher reads it.
    const cl = new SwarmClient({ baseUrl: b!.info.api_url });
    const firstRev = maxAck - BURST + 1;
    const tc = performance.now();
    let caught = 0;
    const ac = new AbortController();
    for await (const ev of cl.watchKv({ prefix: 'burst/' }, { fromRevision: firstRev, signal: ac.signal })) {
      caught++;
      if (ev.revision >= maxAck) break;
    }
    const catchS = (performance.now() - tc) / 1000;
    // --- lock hand-over after the holder's SIGKILL (ttl 5 s, keep-alive every 1 s)
    const handover: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const base = a!.info.api_url;
      const script = `
const base = process.argv[1];
const call = async (m, p, b) => (await fetch(base + p, { method: m, body: JSON.stringify(b ?? {}), headers: { 'content-type': 'application/json' } })).json();
const l = await call('POST', '/v1/lease', { ttl_s: 5 });
const h = await call('POST', '/v1/lock/bench', { lease: l.id, wait_s: 30 });
process.stdout.write(JSON.stringify({ held: h.revision }) + '\\n');
for (;;) { await new Promise((r) => setTimeout(r, 1000)); await call('POST', '/v1/lease/' + l.id + '/keepalive'); }`;
      const holder = spawn(process.execPath, ['--input-type=module', '-e', script, base], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      c.pids.add(holder.pid!);
      await new Promise<void>((resolve) =>
        createInterface({ input: holder.stdout! }).once('line', () => resolve()),
      );
      const waiter = new SwarmClient({ baseUrl: b!.info.api_url, timeoutMs: 40_000 });
      const lease = await waiter.leaseGrant(5);
      const kept = keepLeaseAlive(waiter, lease.id, 5);
      const got2 = waiter.lock('bench', { lease: lease.id, waitS: 30 });
      await sleep(1000 + 333 * t); // kill at different points of the keep-alive period
      const tk = performance.now();
      holder.kill('SIGKILL');
      await got2;
      handover.push(performance.now() - tk);
      kept.stop();
      await waiter.unlock('bench', lease.id);
      await waiter.leaseRevoke(lease.id);
    }
    return {
      name: 'coord',
      description:
        'watch, leases, locks on 3 local daemons: put->event latency at another node, events/s one SSE watcher keeps up with, lock hand-over after the holder SIGKILL (ttl 5 s)',
      metrics: {
        watch_latency_p50_ms: round(pct(lat, 50)),
        watch_latency_p99_ms: round(pct(lat, 99)),
        watch_latency_samples: lat.length,
        watch_latency_at_leader_p50_ms: round(pct(latLeader, 50)),
        watch_latency_at_leader_p99_ms: round(pct(latLeader, 99)),
        burst_writes_per_s: Math.round(BURST / writeS),
        watcher_events_per_s: Math.round(got / Math.max(0.001, (lastAt - firstAt) / 1000)),
        watcher_events_received: got,
        watcher_lag_after_last_ack_ms: round(lagMs),
        catchup_events_per_s: Math.round(caught / catchS),
        lock_handover_median_ms: round(pct(handover, 50)),
        lock_handover_max_ms: round(Math.max(...handover)),
      },
      goals: [
        // The leader tells followers a commit at once (docs/raft.md "Commit propagation"); waiting for
        // its next heartbeat put a follower's watcher 100 ms (one interval here) behind the leader's.
        { metric: 'watch_latency_p99_ms', op: '<', target: 75 },
        { metric: 'watch_latency_at_leader_p99_ms', op: '<', target: 50 },
        { metric: 'lock_handover_max_ms', op: '<', target: 6500 },
      ],
      details: { handover_ms: handover.map(round), burst: BURST, latency_ops: LAT_OPS },
    };
  } finally {
    c.cleanup();
  }
}
