/**
 * One graceful leader stop's timeline on the real daemons (a development tool, not a benchmark
 * with goals; run it under the benchmark lock like one):
 *
 *   flock /tmp/bench.lock npx tsx bench/raft-handover-timeline.ts [trials] [signal|cli|both]
 *
 * 3 daemons at debug level with etcd's timing (as bench/raft-kv.bench.ts runs them), warmed by
 * 2 s of writes; then per trial a client writes continuously through a survivor while the leader
 * is stopped (SIGTERM, `swarm node stop`, or `both`: the SIGTERM trials, then as many CLI ones),
 * and the script prints the largest gap between
 * acknowledged writes with the client's writes and the three daemons' log lines around it, in
 * ms from the stop. What the lines mean: docs/raft-runtime.md, "Graceful stop: where the write gap
 * goes". SWARM_DEBUG_TRACE_GC=1 adds the daemons' collector pauses of 1 ms or more (src/cli/daemon-main.ts);
 * TIMELINE_ALL=1 keeps the gossip, energy and metrics lines too. TIMELINE_PROBE=1 runs a probe
 * process beside the daemons (at their priority) that logs its own stalls: a 1 ms timer firing 4 ms
 * or more late (the process was off the CPU: the machine, not a daemon) and an fdatasync of 64 bytes
 * in the daemons' directory taking 4 ms or more (the disk); both are merged into the timelines as
 * `probe` lines, so a slow write can be told apart from our own work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type Daemon } from './raft-kv.bench.js';
import { load, send, sleep } from './etcd-load.js';

const TRIALS = Number(process.argv[2] ?? 3);
/** `signal`, `cli`, or `both`: TRIALS stops by SIGTERM, then TRIALS by `swarm node stop` (the bench's order). */
const MODES: ('signal' | 'cli')[] =
  process.argv[3] === 'both' ? ['signal', 'cli'] : [process.argv[3] === 'cli' ? 'cli' : 'signal'];
/** Log lines of these components/messages are noise here (gossip, metrics). */
const QUIET = /gossip|energy|metrics|adaptive|probe|push-pull/;

interface W {
  start: number;
  end: number;
  status: number;
  text: string;
}

const wall = (): number => performance.timeOrigin + performance.now();

/** The probe's program (see the header): one JSON line per stall, wall-clock ms. */
const PROBE = `
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[1];
const wall = () => performance.timeOrigin + performance.now();
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
let last = wall();
setInterval(() => {
  const now = wall();
  if (now - last >= 5) out({ t: last, kind: 'cpu', ms: now - last - 1 });
  last = now;
}, 1);
const fd = fs.openSync(path.join(dir, 'probe-fsync'), 'w');
const buf = Buffer.alloc(64, 1);
// Asynchronous (the thread pool): a slow fdatasync must not read as the timer's lateness above.
let syncing = false;
setInterval(() => {
  if (syncing) return;
  syncing = true;
  const t = wall();
  fs.write(fd, buf, 0, 64, 0, () => fs.fdatasync(fd, () => {
    syncing = false;
    const ms = wall() - t;
    if (ms >= 4) out({ t, kind: 'fsync', ms });
  }));
}, 20);
`;

interface ProbeEvent {
  t: number;
  kind: 'cpu' | 'fsync';
  ms: number;
}

const probeEvents: ProbeEvent[] = [];
let probe: ChildProcess | null = null;

function startProbe(dir: string): void {
  probe = spawn(process.execPath, ['-e', PROBE, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  probe.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        probeEvents.push(JSON.parse(line) as ProbeEvent);
      } catch {
        // a partial line at exit
      }
    }
  });
}

async function trial(c: Cluster, n: number, MODE: 'signal' | 'cli'): Promise<void> {
  const leader = await c.leader(20_000, 3);
  const other = c.nodes.find((d) => d.alive && d !== leader)!;
  const names = new Map<Daemon, string>(c.nodes.map((d, i) => [d, `n${i}`]));
  const writes: W[] = [];
  let stop = false;
  const writer = (async () => {
    for (let i = 1; !stop; i++) {
      const start = wall();
      const r = await send({
        url: `${other.api}/v1/kv/probe`,
        method: 'PUT',
        body: JSON.stringify({ value: i }),
      });
      writes.push({
        start,
        end: wall(),
        status: r.status,
        text: r.status === 200 ? '' : r.text.slice(0, 200),
      });
      if (r.status !== 200) await sleep(2);
    }
  })();
  await sleep(500);
  const t0 = wall();
  if (MODE === 'cli') await c.stop(leader);
  else await c.terminate(leader);
  const tExit = wall();
  await sleep(1000);
  stop = true;
  await writer;
  // The largest gap between acknowledgements that ends after the stop began.
  let gap = 0;
  let gapFrom = 0;
  let gapTo = 0;
  let last = 0;
  for (const w of writes) {
    if (w.status !== 200) continue;
    if (last > 0 && w.end > t0 && w.end - last > gap) {
      gap = w.end - last;
      gapFrom = last;
      gapTo = w.end;
    }
    last = w.end;
  }
  const rel = (t: number): string => (t - t0).toFixed(1).padStart(8);
  const lines: { t: number; text: string }[] = [];
  lines.push({
    t: t0,
    text: `bench   ${MODE === 'cli' ? 'swarm node stop' : 'SIGTERM'} ${names.get(leader)} (leader)`,
  });
  lines.push({ t: tExit, text: `bench   leader process gone` });
  for (const w of writes) {
    if (w.end < gapFrom - 5 || w.start > gapTo + 5) continue;
    lines.push({
      t: w.start,
      text: `client  write via ${names.get(other)} sent (answered ${rel(w.end).trim()} ms, ${w.status}, took ${(w.end - w.start).toFixed(1)} ms)`,
    });
  }
  for (const d of c.nodes) {
    let text = '';
    try {
      text = readFileSync(join(d.dir, 'node.log'), 'utf8');
    } catch {
      continue;
    }
    let anchor: number | null = null;
    for (const line of text.split('\n')) {
      // --trace-gc lines (time since the isolate started), anchored by a GCANCHOR line (wall clock at 0).
      const a = /^GCANCHOR ([\d.]+)/.exec(line);
      if (a) anchor = Number(a[1]);
      const g = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: (\S+(?: \S+)?) .*?, ([\d.]+) \/ ([\d.]+) ms/.exec(line);
      if (g && anchor !== null) {
        const t = anchor + Number(g[1]);
        const ms = Number(g[3]);
        if (t >= Math.min(t0, gapFrom) - 50 && t <= gapTo + 20 && ms >= 1)
          lines.push({ t, text: `${names.get(d)!.padEnd(7)} GC ${g[2]} ${ms} ms` });
        continue;
      }
      if (!line.startsWith('{')) continue;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const t = Date.parse(String(rec.ts));
      if (t < Math.min(t0, gapFrom) - 20 || t > gapTo + 20) continue;
      const { ts: _ts, level: _l, component, msg, ...rest } = rec;
      if (!process.env.TIMELINE_ALL && QUIET.test(`${String(component)} ${String(msg)}`)) continue;
      lines.push({ t, text: `${names.get(d)!.padEnd(7)} ${String(msg)} ${JSON.stringify(rest)}` });
    }
  }
  for (const e of probeEvents)
    if (e.t >= Math.min(t0, gapFrom) - 20 && e.t <= gapTo + 20)
      lines.push({
        t: e.t,
        text: `probe   ${e.kind === 'cpu' ? 'off the CPU' : 'fdatasync'} ${e.ms.toFixed(1)} ms`,
      });
  lines.sort((a, b) => a.t - b.t);
  process.stdout.write(
    `\ntrial ${n}: gap ${gap.toFixed(1)} ms (${rel(gapFrom).trim()} .. ${rel(gapTo).trim()} ms), ` +
      `${writes.filter((w) => w.status !== 200).length} failed writes, leader ${names.get(leader)}, client via ${names.get(other)} (${MODE})\n`,
  );
  for (const w of writes.filter((x) => x.status !== 200))
    process.stdout.write(
      `  failed at ${rel(w.start).trim()} .. ${rel(w.end).trim()} ms: ${w.status} ${w.text}\n`,
    );
  for (const l of lines) process.stdout.write(`${rel(l.t)}  ${l.text}\n`);
  await c.restart(leader);
  await c.leader(20_000, 3);
  await sleep(1500);
}

async function main(): Promise<void> {
  const c = new Cluster({ hb: 100, min: 1000, max: 2000 }, 'debug');
  if (process.env.TIMELINE_PROBE) startProbe(mkdtempSync(join(tmpdir(), 'timeline-probe-')));
  try {
    await c.start();
    const l = await c.leader(20_000, 3);
    // Warm the daemons' JIT as the benchmark's load runs do before its stops.
    await load(
      (_c, seq) => ({
        url: `${c.nodes[seq % 3]!.api}/v1/kv/w${seq % 100}`,
        method: 'PUT',
        body: '{"value":1}',
      }),
      2,
      4,
    );
    void l;
    for (const mode of MODES) for (let n = 1; n <= TRIALS; n++) await trial(c, n, mode);
  } finally {
    probe?.kill();
    await c.stopAll();
  }
}

await main();
