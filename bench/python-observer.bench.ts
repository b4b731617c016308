/**
 * The swarm_lite observer's budget (issue #19): a `minimal` member run by CPython against 3 real
 * daemons on loopback (multicast off), plaintext and with a swarm key. Measured by the observer
 * itself (its packet and byte counters) over an idle window after it joined:
 * - join time: process spawn -> listed alive by every node's /v1/members, and inside the observer
 *   from the Swarm() call to its first live member;
 * - idle traffic in and out, bytes/s and packets/s (a battery device's radio budget);
 * - tracemalloc under CPython, a proxy for an ESP32's heap: the peak from the Swarm() call on and
 *   the memory held at the end of the window, apart from the import's peak (CPython compiling the
 *   file; a board runs it precompiled with mpy-cross or pays that once at boot).
 *
 *   npx tsx bench/run.ts python-observer        (build first: the daemons are dist/)
 */
import type { BenchReport } from './types.js';
import { Observer, poll, TestSwarm } from '../test/python/helpers.js';

const IDLE_S = Number(process.env.SWARM_BENCH_OBSERVER_IDLE_S ?? 60);

interface Stats {
  packets_in: number;
  packets_out: number;
  bytes_in: number;
  bytes_out: number;
  dropped: number;
  joined_ms: number | null;
}

async function stats(obs: Observer): Promise<{
  stats: Stats;
  peak: number;
  current: number;
  importPeak: number;
  module: number;
}> {
  const before = obs.lines.length;
  obs.send('stats');
  const l = await poll(
    async () => obs.lines.slice(before).find((x) => x.kind === 'stats'),
    (x) => x !== undefined,
    10_000,
    'observer stats',
    20,
  );
  return {
    stats: l!.stats as Stats,
    peak: l!.tracemalloc_peak as number,
    current: l!.tracemalloc_current as number,
    importPeak: l!.tracemalloc_import_peak as number,
    module: l!.tracemalloc_module as number,
  };
}

async function measure(key: string): Promise<Record<string, number>> {
  const swarm = new TestSwarm(key);
  const obs: Observer[] = [];
  try {
    const nodes = await swarm.start(3);
    const t0 = Date.now();
    const o = new Observer(`127.0.0.1:${nodes[0]!.port}`, 'bench-observer', {
      battery: '80',
      power: '0.1',
      trace: '1',
      ...(key ? { key } : {}),
    });
    obs.push(o);
    const id = (await o.waitFor('ready', 20_000)).id as string;
    await Promise.all(
      nodes.map((n) =>
        poll(
          () => n.client.members(),
          (m) => m.members.some((x) => x.id === id && x.status === 'alive'),
          20_000,
          `${n.name} lists the observer`,
          20,
        ),
      ),
    );
    const listedMs = Date.now() - t0;
    const joined = await o.waitFor('joined', 10_000);
    // Settle (the join's exchanges, the nodes' metadata republishes), then the idle window.
    await new Promise((r) => setTimeout(r, 5000));
    const a = await stats(o);
    const ta = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const b = await stats(o);
    const s = (Date.now() - ta) / 1000;
    const d = (k: keyof Stats): number => ((b.stats[k] as number) - (a.stats[k] as number)) / s;
    return {
      listed_by_all_ms: listedMs,
      join_in_process_ms: b.stats.joined_ms ?? -1,
      joined_line_ms: joined.ms as number,
      idle_bytes_out_per_s: round(d('bytes_out')),
      idle_packets_out_per_s: round(d('packets_out')),
      idle_bytes_in_per_s: round(d('bytes_in')),
      idle_packets_in_per_s: round(d('packets_in')),
      dropped: b.stats.dropped,
      // The observer's own heap, above what the import left (code objects): peak from the Swarm()
      // call on (join, AES tables when keyed, every packet), and held at the end of the window.
      tracemalloc_peak_kib: round(b.peak / 1024),
      tracemalloc_held_kib: round(b.current / 1024),
      tracemalloc_import_peak_kib: round(b.importPeak / 1024),
      tracemalloc_after_import_kib: round(b.module / 1024),
    };
  } finally {
    for (const o of obs) o.kill();
    swarm.stop();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export default async function bench(): Promise<BenchReport> {
  const plain = await measure('');
  const keyed = await measure(Buffer.alloc(32, 7).toString('base64'));
  const metrics: BenchReport['metrics'] = { idle_window_s: IDLE_S };
  for (const [k, v] of Object.entries(plain)) metrics[`plain_${k}`] = v;
  for (const [k, v] of Object.entries(keyed)) metrics[`keyed_${k}`] = v;
  return {
    name: 'python-observer',
    description:
      "swarm_lite.py (CPython) as a minimal member of 3 real daemons on loopback, plaintext and with a swarm key. listed_by_all_ms: process spawn to alive in every node's /v1/members; join_in_process_ms: Swarm() to its first live member. idle_*: the observer's own counters over the idle window after joining (a battery device's radio budget; it only answers probes). tracemalloc_peak/held: the observer's heap above what the import left, peak since Swarm() and held at the end; keyed adds the pure-Python AES tables (about 45 KiB), which MicroPython does not build (it uses ucryptolib). import_peak is CPython compiling the file (a board runs it precompiled with mpy-cross).",
    metrics,
    goals: [
      { metric: 'plain_listed_by_all_ms', op: '<', target: 3000 },
      { metric: 'keyed_listed_by_all_ms', op: '<', target: 3000 },
      // It only answers: about one ack per probe period, whatever the swarm's size.
      { metric: 'plain_idle_packets_out_per_s', op: '<=', target: 2 },
    ],
  };
}
