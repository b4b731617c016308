/**
 * Latency of KV requests sent to a follower of 3 local daemons (compiled
 * binary, loopback, multicast off, join list, etcd-like timing): one client,
 * one request at a time, FOLLOWER_OPS (default 500) 64-byte writes, then as
 * many linearizable reads of the keys written, then the same against the
 * leader for reference. A follower forwards a write to the leader over the
 * Raft channel and serves a linearizable read after a ReadIndex through the
 * leader (src/node/raft-forward.ts). Bounded: FOLLOWER_OPS per series, 5 s
 * per request. Every process started here is killed here, also on error.
 */
import { call, pct, round, VALUE } from './etcd-load.js';
import { Cluster } from './raft-kv.bench.js';
import type { BenchReport } from './types.js';

const OPS = Number(process.env.FOLLOWER_OPS ?? 500);

async function series(label: string, n: number, op: (i: number) => Promise<number>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const status = await op(i);
    if (status !== 200) throw new Error(`${label} #${i}: HTTP ${status}`);
    ms.push(performance.now() - t0);
  }
  return ms;
}

export default async function bench(): Promise<BenchReport> {
  const c = new Cluster({ hb: 100, min: 1000, max: 2000 });
  try {
    await c.start();
    const leader = await c.leader(30_000, 3);
    const follower = c.nodes.find((d) => d !== leader)!;
    const body = JSON.stringify({ value: VALUE });
    const put = (api: string) => async (i: number) =>
      (await call(`${api}/v1/kv/fl-${i % 100}`, 'PUT', body, 5000)).status;
    const get = (api: string) => async (i: number) =>
      (await call(`${api}/v1/kv/fl-${i % 100}`, 'GET', undefined, 5000)).status;
    // Unmeasured warm-up: the first requests pay for connection set-up and V8 compiling the path.
    await series('warm-up', 50, put(follower.api));
    await series('warm-up', 50, get(follower.api));
    const fw = await series('follower put', OPS, put(follower.api));
    const fr = await series('follower get', OPS, get(follower.api));
    const lw = await series('leader put', OPS, put(leader.api));
    const lr = await series('leader get', OPS, get(leader.api));
    const m = (xs: number[], p: number): number => round(pct(xs, p), 2);
    return {
      name: 'follower-latency',
      description: `one client, ${OPS} sequential requests each: 64-byte writes and linearizable reads through a follower (and the leader for reference), 3 local nodes`,
      metrics: {
        follower_write_p50_ms: m(fw, 50),
        follower_write_p99_ms: m(fw, 99),
        follower_read_p50_ms: m(fr, 50),
        follower_read_p99_ms: m(fr, 99),
        leader_write_p50_ms: m(lw, 50),
        leader_write_p99_ms: m(lw, 99),
        leader_read_p50_ms: m(lr, 50),
        leader_read_p99_ms: m(lr, 99),
      },
      details: { ops: OPS },
    };
  } finally {
    await c.stopAll();
  }
}
