/**
 * One client's writes, ours and etcd 3.4 side by side (issue #16, helper p99d): the raft-kv bench's
 * 3 daemons (etcd's timing) and a 3-member etcd, one closed-loop client writing 64-byte values to
 * the leader (MODE=leader) or round the members (MODE=spread) for SECS s after 3 s of warm-up, ROUNDS
 * times alternating. Printed per system: writes/s, p50/p90/p95/p99/p99.9, how many writes took
 * over 1, 2 and 3 ms, and each process's CPU time per write over the window (from /proc/PID/stat),
 * the client's included: on this 2-core machine, the CPU the four processes need per write is
 * what the run queue has to fit between two writes.
 * CLIENTS=N runs N closed-loop clients instead of one (16 and 64 for the throughput goal); PROF=1
 * writes each daemon's V8 CPU profile over the measured window to PROF_DIR (cpu-prof-preload.cjs).
 * COUNT=1 prints each daemon's operation counts over the window per write (op-count-preload.cjs and
 * src/common/op-counts.ts: Raft messages by kind, socket writes and frames, Readys, fsyncs; ours only).
 * Run under the bench lock: `flock /tmp/bench.lock npx tsx bench/raft-write-cpu.ts`.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Cluster } from './raft-kv.bench.js';
import { EtcdCluster, etcdPut, findEtcd } from './etcd.js';
import { send, closeAgents, VALUE, type Write } from './etcd-load.js';

const MODE = process.env.MODE ?? 'leader';
const SECS = Number(process.env.SECS ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const SYSTEMS = (process.env.SYSTEMS ?? 'ours,etcd').split(',');
/** Closed-loop clients (each one write in flight); 16 or 64 for the throughput goal. */
const CLIENTS = Number(process.env.CLIENTS ?? 1);
/** PROF=1: each daemon's V8 CPU profile over the measured window (cpu-prof-preload.cjs) into PROF_DIR. */
const PROF = process.env.PROF === '1';
if (PROF)
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${fileURLToPath(new URL('./cpu-prof-preload.cjs', import.meta.url))}`;
/** COUNT=1: each daemon's operation counts over the measured window (op-count-preload.cjs), per write. */
const COUNT = process.env.COUNT === '1';
const COUNT_DIR = process.env.COUNT_DIR ?? mkdtempSync(join(tmpdir(), 'opc-'));
if (COUNT) {
  process.env.COUNT_DIR = COUNT_DIR;
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${fileURLToPath(new URL('./op-count-preload.cjs', import.meta.url))}`;
}
const HZ = 100;

/** Per write, each daemon's counts between its two dumps (see COUNT). */
function printCounts(pids: [string, number][], writes: number): void {
  const read = (pid: number, n: number): Record<string, number> =>
    JSON.parse(readFileSync(join(COUNT_DIR, `counts-${pid}-${n}.json`), 'utf8')) as Record<string, number>;
  for (const [name, pid] of pids) {
    const a = read(pid, 0);
    const b = read(pid, 1);
    const keys = Object.keys(b).sort();
    console.log(
      `  counts/write ${name}=${pid}: ` +
        keys.map((k) => `${k} ${((b[k]! - (a[k] ?? 0)) / writes).toFixed(3)}`).join(', '),
    );
  }
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / HZ;
}

/** Run-queue wait (ms) and scheduled slices of all the process's threads (/proc/PID/task/TID/schedstat). */
function waitMs(pid: number): [number, number] {
  let w = 0;
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ');
      w += Number(f[1]) / 1e6;
      n += Number(f[2]);
    } catch {
      // the thread ended
    }
  }
  return [w, n];
}

async function drive(
  targets: string[],
  write: (t: string, seq: number) => Write,
  pids: [string, number][],
): Promise<void> {
  let seq = 0;
  const run = async (secs: number, lat: number[] | null): Promise<void> => {
    const end = performance.now() + secs * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() < end) {
          seq++;
          const t = performance.now();
          const r = await send(write(targets[seq % targets.length]!, seq));
          if (r.status === 200 && lat) lat.push(performance.now() - t);
        }
      }),
    );
  };
  const profiled = PROF ? pids.filter(([n]) => n !== 'client') : [];
  await run(3, null);
  const lat: number[] = [];
  const all: [string, number][] = [...pids, ['client', process.pid]];
  const c0 = all.map(([, p]) => cpuMs(p));
  const w0 = all.map(([, p]) => waitMs(p));
  const u0 = process.cpuUsage();
  for (const [, pid] of profiled) process.kill(pid, 'SIGTTIN');
  if (COUNT) for (const [, pid] of pids) process.kill(pid, 'SIGTTOU');
  await run(SECS, lat);
  if (COUNT) for (const [, pid] of pids) process.kill(pid, 'SIGTTOU');
  const u1 = process.cpuUsage(u0);
  for (const [, pid] of profiled) process.kill(pid, 'SIGTTIN');
  const w1 = all.map(([, p]) => waitMs(p));
  const c1 = all.map(([, p]) => cpuMs(p));
  c1[c1.length - 1] = c0[c0.length - 1]! + (u1.user + u1.system) / 1000;
  lat.sort((a, b) => a - b);
  const p = (q: number): string => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!.toFixed(2);
  const over = (ms: number): number => lat.filter((x) => x > ms).length;
  console.log(
    `  writes/s ${(lat.length / SECS).toFixed(0)} p50 ${p(0.5)} p90 ${p(0.9)} p95 ${p(0.95)} p99 ${p(0.99)} p999 ${p(0.999)} ` +
      `>1ms ${over(1)} >2ms ${over(2)} >3ms ${over(3)} of ${lat.length}`,
  );
  console.log(
    '  CPU us/write: ' +
      all.map(([n], i) => `${n} ${(((c1[i]! - c0[i]!) * 1000) / lat.length).toFixed(0)}`).join(', '),
  );
  console.log(
    '  run-queue wait us/write (slices/write): ' +
      all
        .map(
          ([n], i) =>
            `${n} ${(((w1[i]![0] - w0[i]![0]) * 1000) / lat.length).toFixed(0)} (${((w1[i]![1] - w0[i]![1]) / lat.length).toFixed(1)})`,
        )
        .join(', '),
  );
  if (COUNT) {
    await new Promise((r) => setTimeout(r, 200));
    printCounts(pids, lat.length);
  }
  if (PROF) await new Promise((r) => setTimeout(r, 2000)); // the profiles are written before the daemons stop
}

const body = JSON.stringify({ value: VALUE });
const ours = async (): Promise<void> => {
  const c = new Cluster({ hb: 100, min: 1000, max: 2000 });
  try {
    await c.start();
    const leader = await c.leader(20000, 3);
    const targets = MODE === 'leader' ? [leader.api] : c.nodes.map((n) => n.api);
    console.log(
      `ours (${MODE}, ${CLIENTS} clients) pids ${c.nodes.map((n) => `${n === leader ? 'L' : 'F'}=${n.pid}`).join(' ')}`,
    );
    await drive(
      targets,
      (t, seq) => ({ url: `${t}/v1/kv/bench-0-${seq % 1000}`, method: 'PUT', body }),
      c.nodes.map((n) => [n === leader ? 'L' : 'F', n.pid]),
    );
  } finally {
    await c.stopAll();
  }
};
const etcd = async (): Promise<void> => {
  const found = findEtcd();
  if (found.bin === null) return console.log(`etcd: ${found.reason}`);
  const e = new EtcdCluster(found.bin);
  try {
    await e.start();
    const leader = await e.leader();
    const targets = MODE === 'leader' ? [leader.client] : e.members.map((m) => m.client);
    console.log(`etcd (${MODE}, ${CLIENTS} clients)`);
    await drive(
      targets,
      (t, seq) => etcdPut(t, `bench-0-${seq % 1000}`),
      e.members.map((m) => [m === leader ? 'L' : 'F', m.proc!.pid!]),
    );
  } finally {
    await e.stopAll();
  }
};
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of SYSTEMS) await (s === 'etcd' ? etcd() : ours());
  }
} finally {
  closeAgents();
}
