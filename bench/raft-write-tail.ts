/**
 * Where the slow writes of one client come from (issue #16, helper p99c): the raft-kv bench's
 * 3 daemons (bench/raft-kv.bench.ts `Cluster`, etcd's timing), one closed-loop client writing
 * 64-byte values to the leader (MODE=leader) or round the members (MODE=spread) for SECS s after
 * 3 s of warm-up. Each daemon runs raft-write-tail-preload.cjs (NODE_OPTIONS --require), which
 * records its GC pauses (PerformanceObserver 'gc') and inline fdatasyncs with absolute times; the
 * client records each write's start and latency and its own GC. Printed: writes/s, p50..p999, each
 * process's GC and fsync counts, and which events overlap the writes at or over p99, against the
 * share of all writes they overlap.
 *   HEAP=1           V8's sampling heap profile of the leader over the measured window: bytes per
 *                    write by allocation site (HEAP_LIVE=1: only what is still live at the end;
 *                    HEAP_LIVE=promoted: what survived the scavenges; HEAP_TOP=n rows;
 *                    HEAP_NODE=follower: a follower's profile instead, per write to the leader)
 *   P99C_V8FLAGS=... V8 flags the daemons set at start and again every second, since the node's
 *                    tiering sets its heap flags when it turns busy (e.g. --trace-gc-nvp, with
 *                    KEEPLOG=1 to keep the leader's node.log; --minor-gc-task-trigger=80 for V8's
 *                    scavenge trigger); SNAP=1 writes a heap snapshot of the leader mid-run
 *   TAIL_SPACES=1    the daemons record their young large-object space every 20 ms when not empty
 *   TAIL_TASKS=1     the daemons' timer and immediate callbacks over 0.2 ms count as events too
 *   TAIL_NET=1       the daemons record every socket read and write (not counted here): with
 *                    DUMP=FILE (the writes and events, and FILE.nodes.json: pids and ports),
 *                    bench/raft-write-hops.py prints each slow write's timeline hop by hop
 * Run under the bench lock: `flock /tmp/bench.lock npx tsx bench/raft-write-tail.ts`.
 */
// Probe (p99c): 3 daemons, 1 client to leader (or spread), record each write's absolute start/end,
// the client's own GC, then correlate slow writes with daemons' GC and fsync records.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from './raft-kv.bench.js';
import { send, closeAgents, VALUE } from './etcd-load.js';

type Node = {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
};
function heap(path: string, writes: number): void {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { head: Node };
  const by = new Map<string, number>();
  let total = 0;
  const walk = (n: Node, stack: string[]): void => {
    const f = n.callFrame;
    const here = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    if (n.selfSize > 0) {
      total += n.selfSize;
      const k = [here, ...stack.slice(-2).reverse()].join(' < ');
      by.set(k, (by.get(k) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, [...stack, here]);
  };
  walk(prof.head, []);
  console.log(`heap: ${(total / writes / 1024).toFixed(1)} KB per write over ${writes} writes`);
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.HEAP_TOP ?? 45)))
    console.log(`  ${(v / writes).toFixed(0).padStart(6)} B  ${k}`);
}
const DIR = process.env.TAIL_DIR ?? join(tmpdir(), 'raft-write-tail');
mkdirSync(DIR, { recursive: true });
const PRELOAD = fileURLToPath(new URL('./raft-write-tail-preload.cjs', import.meta.url));
const MODE = process.env.MODE ?? 'leader';
const SECS = Number(process.env.SECS ?? 8);
for (const f of readdirSync(DIR)) if (f.startsWith('obs-')) rmSync(join(DIR, f));
const cgc: [number, number][] = [];
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) cgc.push([performance.timeOrigin + e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });
process.env.TAIL_DIR = DIR;
process.env.NODE_OPTIONS = `${process.env.EXTRA_NODE_OPTIONS ?? ''} --require ${PRELOAD}`;
const c = new Cluster({ hb: 100, min: 1000, max: 2000 });
try {
  await c.start();
  const leader = await c.leader(20000, 3);
  const targets = MODE === 'leader' ? [leader.api] : c.nodes.map((n) => n.api);
  const body = JSON.stringify({ value: VALUE });
  const run = async (secs: number, rec: [number, number, number][] | null): Promise<void> => {
    const end = performance.now() + secs * 1000;
    let seq = 0;
    while (performance.now() < end) {
      seq++;
      const t = performance.now();
      const tgt = targets[seq % targets.length]!;
      const r = await send({ url: `${tgt}/v1/kv/bench-0-${seq % 1000}`, method: 'PUT', body });
      const t1 = performance.now();
      if (r.status === 200 && rec) rec.push([performance.timeOrigin + t, t1 - t, seq % targets.length]);
    }
  };
  await run(3, null);
  const rec: [number, number, number][] = [];
  const g0 = cgc.length;
  // HEAP_NODE=follower: profile a follower instead of the leader (writes still go to MODE's targets).
  const heapPid = process.env.HEAP_NODE === 'follower' ? c.nodes.find((n) => n !== leader)!.pid : leader.pid;
  if (process.env.HEAP) process.kill(heapPid, 'SIGUSR2');
  if (process.env.SNAP) {
    setTimeout(() => process.kill(leader.pid, 'SIGWINCH'), SECS * 500);
  }
  await run(SECS, rec);
  if (process.env.HEAP) process.kill(heapPid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 1500));
  if (process.env.HEAP) heap(join(DIR, `heap-${heapPid}.heapprofile`), rec.length);
  if (process.env.DUMP)
    writeFileSync(
      `${process.env.DUMP}.nodes.json`,
      JSON.stringify(
        c.nodes.map((n) => ({ pid: n.pid, api: n.api, raft: n.raftPort, leader: n === leader })),
      ),
    );
  if (process.env.KEEPLOG) writeFileSync(join(DIR, 'leader.log'), readFileSync(`${leader.dir}/node.log`));
  const lat = rec.map((r) => r[1]).sort((a, b) => a - b);
  const p = (q: number) => lat[Math.floor(q * lat.length)]!;
  console.log(
    `mode ${MODE} writes/s ${(rec.length / SECS).toFixed(0)} p50 ${p(0.5).toFixed(2)} p90 ${p(0.9).toFixed(2)} p99 ${p(0.99).toFixed(2)} p999 ${p(0.999).toFixed(2)}`,
  );
  const pids = new Map(c.nodes.map((n, i) => [n.pid, n === leader ? `L` : `F${i}`]));
  const ev: { who: string; kind: string; t: number; d: number }[] = [];
  for (const f of readdirSync(DIR)) {
    const m = /^obs-(\d+)\.txt$/.exec(f);
    if (!m || !pids.has(Number(m[1]))) continue;
    for (const line of readFileSync(join(DIR, f), 'utf8').split('\n')) {
      const [k, t, d, kind] = line.split(' ');
      if (!k || k === 'snap' || k === 'net' || k === 'space') continue;
      ev.push({
        who: pids.get(Number(m[1]))!,
        kind: k === 'gc' ? kind! : k === 'task' ? `task(${kind!.slice(0, 50)})` : k === 'fsync' ? 'fsync' : k,
        t: Number(t),
        d: Number(d),
      });
    }
  }
  for (const [t, d] of cgc.slice(g0)) ev.push({ who: 'C', kind: 'gc', t, d });
  const thr = p(0.99);
  const slow = rec.filter((r) => r[1] >= thr);
  const cats = new Map<string, number>();
  const t0 = rec[0]![0],
    tEnd = rec[rec.length - 1]![0];
  const inWin = ev.filter((e) => e.t >= t0 && e.t <= tEnd);
  const sum = new Map<string, { n: number; d: number; max: number }>();
  for (const e of inWin) {
    const k = `${e.who}:${e.kind}`;
    const s = sum.get(k) ?? { n: 0, d: 0, max: 0 };
    s.n++;
    s.d += e.d;
    s.max = Math.max(s.max, e.d);
    sum.set(k, s);
  }
  for (const [k, s] of [...sum].sort())
    console.log(
      `  ${k} n=${s.n} mean=${(s.d / s.n).toFixed(3)} max=${s.max.toFixed(2)} per-s=${(s.n / SECS).toFixed(1)}`,
    );
  // Fraction of all writes overlapping each category vs fraction of slow writes.
  const overl = (r: [number, number, number], e: { t: number; d: number }) =>
    e.t < r[0] + r[1] && e.t + e.d > r[0];
  const tag = (r: [number, number, number]) => {
    const hits = inWin.filter((e) => overl(r, e) && (e.kind !== 'fsync' || e.d > 1.0));
    return (
      [...new Set(hits.map((e) => `${e.who}:${e.kind}${e.kind === 'fsync' ? '>1ms' : ''}`))]
        .sort()
        .join('+') || 'none'
    );
  };
  for (const r of slow) cats.set(tag(r), (cats.get(tag(r)) ?? 0) + 1);
  console.log(`slow (>= p99 ${thr.toFixed(2)} ms): ${slow.length}`);
  for (const [k, n] of [...cats].sort((a, b) => b[1] - a[1])) console.log(`  ${n}\t${k}`);
  const all = new Map<string, number>();
  for (const r of rec) for (const k of tag(r).split('+')) all.set(k, (all.get(k) ?? 0) + 1);
  console.log('all writes overlapping:');
  for (const [k, n] of [...all].sort((a, b) => b[1] - a[1]))
    console.log(`  ${((100 * n) / rec.length).toFixed(2)}%\t${k}`);
  if (process.env.DUMP) writeFileSync(process.env.DUMP, JSON.stringify({ rec, ev: inWin }));
} finally {
  await c.stopAll();
  closeAgents();
}
