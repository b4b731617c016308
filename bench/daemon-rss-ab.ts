/**
 * Idle daemon RSS, A/B: several swarms of real daemons at once, each with its
 * own daemon entry and Node flags, so every variant idles under the same
 * machine load (docs/operations.md, "Memory"). Not a *.bench.ts: it compares
 * builds, it records nothing.
 *
 *   VARIANTS='[{"name":"before","entry":"/work/main/dist/daemon.mjs","flags":["--max-semi-space-size=4"]},
 *              {"name":"after","entry":"dist/daemon.cjs"}]' \
 *   flock /tmp/bench.lock npx tsx bench/daemon-rss-ab.ts
 *
 * Per variant: N (3) daemons on loopback, multicast off, up to 5 founding voters
 * and the rest learners (as node-swarm-idle), every member alive, a leader and
 * one key written, IDLE (30) s idle, VmRSS/RssAnon/RssFile of each sampled
 * every second over the last 10 s; prints the medians. A variant without
 * `flags` gets the launcher's (daemonNodeFlags), `n` overrides N, `env` adds
 * variables. SMAPS=1 prints the last daemon's resident memory per mapping,
 * HOLD=s keeps the daemons that long after sampling (pids printed), KEEP=1
 * keeps their data dirs.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { planNodes } from '../src/cli/commands/demo.js';
import { daemonEnv, daemonNodeFlags } from '../src/cli/daemon.js';
import { writeResolvedConfig } from '../src/cli/resolved-config.js';
import { median, swarmNodeConfig } from './local-swarm.js';

const DAEMON_V8_FLAGS = daemonNodeFlags({});
const N = Number(process.env.N ?? 3);
const IDLE = Number(process.env.IDLE ?? 30);
const variants = JSON.parse(process.env.VARIANTS ?? '[]') as {
  name: string;
  entry: string;
  flags?: string[];
  env?: Record<string, string>;
  n?: number;
}[];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
interface Mem {
  rss: number;
  anon: number;
  file: number;
}
function mem(pid: number): Mem {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}
const root = mkdtempSync(join(tmpdir(), 'rss-ab-'));
const cfg = join(root, 'config.toml');
writeFileSync(
  cfg,
  '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nbind_address = "127.0.0.1"\n' +
    (process.env.EXTRA_TOML ?? ''),
);
// The launcher's environment (MALLOC_ARENA_MAX), as `swarm node start` gives a daemon.
const env: NodeJS.ProcessEnv = daemonEnv({ ...process.env, SWARM_CONFIG: '' });
delete env.NODE_OPTIONS;
const runs: { v: (typeof variants)[0]; pids: number[]; api: number; dirs: string[] }[] = [];
try {
  // Every variant's ports before any daemon binds: planNodes' free ports are free only until a
  // daemon of an earlier variant takes them (a Raft port twice: one daemon could not listen).
  const plans: Awaited<ReturnType<typeof planNodes>>[] = [];
  const used = new Set<number>();
  for (const v of variants) {
    const vr = join(root, v.name);
    mkdirSync(vr);
    let nodes = await planNodes(vr, v.n ?? N);
    const ports = (ns: typeof nodes): number[] => ns.flatMap((n) => [n.gossipPort, n.apiPort, n.raftPort]);
    for (let tries = 0; ports(nodes).some((p) => used.has(p)) && tries < 20; tries++)
      nodes = await planNodes(vr, v.n ?? N);
    for (const p of ports(nodes)) used.add(p);
    plans.push(nodes);
  }
  for (const [vi, v] of variants.entries()) {
    const nodes = plans[vi]!;
    const pids: number[] = [];
    for (const n of nodes) {
      // Up to 5 founding voters, the rest learners (node-swarm-idle's shape; demo's would found all).
      const c = swarmNodeConfig(n, nodes, cfg, env);
      mkdirSync(n.dataDir, { recursive: true });
      const fd = openSync(join(n.dataDir, 'node.log'), 'a');
      const ch = spawn(
        process.execPath,
        [...(v.flags ?? DAEMON_V8_FLAGS), resolve(v.entry), writeResolvedConfig(n.dataDir, c)],
        { detached: true, stdio: ['ignore', fd, fd], env: { ...env, ...(v.env ?? {}) }, cwd: n.dataDir },
      );
      ch.unref();
      pids.push(ch.pid!);
    }
    runs.push({ v, pids, api: nodes[0]!.apiPort, dirs: nodes.map((n) => n.dataDir) });
  }
  // wait for a leader and every member alive in the first node's view, then one write
  for (const r of runs) {
    const end = Date.now() + 120_000;
    let ok = false;
    while (Date.now() < end && !ok) {
      try {
        const j = (await (await fetch(`http://127.0.0.1:${r.api}/v1/leader`)).json()) as { leader?: string };
        const m = (await (await fetch(`http://127.0.0.1:${r.api}/v1/members`)).json()) as {
          members: { status: string }[];
        };
        if (j.leader && m.members.filter((x) => x.status === 'alive').length === r.pids.length) ok = true;
      } catch {
        // not up yet
      }
      if (!ok) await sleep(200);
    }
    if (!ok) throw new Error(`${r.v.name}: no leader, or not every member alive`);
    const put = await fetch(`http://127.0.0.1:${r.api}/v1/kv/rss-key`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"value":1}',
    });
    if (!put.ok) throw new Error(`${r.v.name}: put ${put.status}`);
  }
  await sleep((IDLE - 10) * 1000);
  const samples: Mem[][][] = runs.map((r) => r.pids.map(() => []));
  for (let s = 0; s < 10; s++) {
    runs.forEach((r, i) => r.pids.forEach((p, j) => samples[i]![j]!.push(mem(p))));
    await sleep(1000);
  }
  runs.forEach((r, i) => {
    const all = samples[i]!.flat();
    const f = (k: keyof Mem): string => median(all.map((x) => x[k])).toFixed(1);
    console.log(
      r.v.name.padEnd(14),
      'rss',
      f('rss'),
      'anon',
      f('anon'),
      'file',
      f('file'),
      // Daemons whose load turned V8's optimizing compilers on (src/node/compiler-tiering.ts): 5-6 MB more.
      'compilers-on',
      r.dirs.filter((d) => {
        try {
          return readFileSync(join(d, 'node.log'), 'utf8').includes('"optimizing compilers on"');
        } catch {
          return false;
        }
      }).length,
      ' per-node',
      samples[i]!.map((xs) => median(xs.map((x) => x.rss)).toFixed(1)).join(' '),
    );
  });
  if (process.env.SMAPS) {
    const { execSync } = await import('node:child_process');
    for (const r of runs)
      console.log(
        r.v.name,
        '\n' +
          execSync(
            `awk '/^[0-9a-f]+-[0-9a-f]+ /{n=$6" "$2} /^Rss:/{r[n]+=$2} END{for(k in r) if (r[k]>=100) printf "%8d %s\\n", r[k], k}' /proc/${r.pids.at(-1)}/smaps | sort -rn | head -15`,
            { encoding: 'utf8' },
          ),
      );
  }
  if (process.env.HOLD) {
    for (const r of runs) console.log(r.v.name, r.pids.join(' '));
    await sleep(Number(process.env.HOLD) * 1000);
  }
} finally {
  for (const r of runs)
    for (const p of r.pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  if (!process.env.KEEP) rmSync(root, { recursive: true, force: true });
  else console.log(root);
}
