/**
 * Idle daemon memory (issue #16: median RSS of an idle daemon <= 45 MB): 3
 * real daemons on loopback started as `swarm node start` starts them (the
 * launcher's V8 flags, multicast off, join lists), a cluster formed, one key
 * written, then RSS_IDLE_S (default 30) s idle; VmRSS, RssAnon and RssFile of
 * each daemon sampled every second over the last 10 s. Reports the median
 * over all samples of all daemons, and the leader's and a follower's own.
 * The 25-node figure is node-swarm-idle's (a bigger membership table); this
 * one is small enough to run beside other work. Anchors measured in the same
 * run: `node -e 0` (its own RSS as it ends, median of 5) and a bare Node
 * process idling on a timer, sampled beside the daemons.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonEntry } from '../src/cli/daemon.js';
import { median, r1, startLocalSwarm, waitLeader } from './local-swarm.js';
import type { BenchReport } from './types.js';

const IDLE_S = Number(process.env.RSS_IDLE_S ?? 30);
const SAMPLE_S = 10;
const GOAL_MB = 45;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function memMb(pid: number): { rss: number; anon: number; file: number } {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/** `node -e 0`'s own RSS, read by itself as it ends (the anchor of issue #16): median of 5. */
function nodeE0(): { rss: number; anon: number; file: number } {
  const runs = Array.from({ length: 5 }, () => {
    const r = spawnSync(
      process.execPath,
      ['-e', "process.stdout.write(require('fs').readFileSync('/proc/self/status','utf8'))"],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    const kb = (k: string): number =>
      Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(r.stdout)?.[1] ?? NaN) / 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
  });
  const m = (k: 'rss' | 'anon' | 'file'): number => median(runs.map((x) => x[k]));
  return { rss: m('rss'), anon: m('anon'), file: m('file') };
}

export default async function bench(): Promise<BenchReport> {
  const e0 = nodeE0();
  // The other anchor, sampled beside the daemons: a bare Node process idling on a timer.
  const idleNode = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e3)'], { stdio: 'ignore' });
  const entry = daemonEntry();
  const swarm = await startLocalSwarm(3).catch((err: unknown) => {
    idleNode.kill('SIGKILL');
    throw err;
  });
  try {
    await waitLeader(swarm.nodes[0]!);
    const api = `http://127.0.0.1:${swarm.nodes[0]!.apiPort}`;
    const put = await fetch(`${api}/v1/kv/rss-key`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 1 }),
    });
    if (!put.ok) throw new Error(`write failed: HTTP ${put.status}`);
    const leader = ((await (await fetch(`${api}/v1/leader`)).json()) as { leader: string | null }).leader;
    await sleep(Math.max(0, IDLE_S - SAMPLE_S) * 1000);
    const pids = swarm.nodes.map((n) => n.runtime!.pid);
    const ids = swarm.nodes.map((n) => n.runtime!.id);
    const samples: { rss: number; anon: number; file: number }[][] = pids.map(() => []);
    const anchor: { rss: number; anon: number; file: number }[] = [];
    for (let s = 0; s < SAMPLE_S; s++) {
      pids.forEach((pid, i) => samples[i]!.push(memMb(pid)));
      anchor.push(memMb(idleNode.pid!));
      await sleep(1000);
    }
    const all = samples.flat();
    // Daemons that turned V8's optimizing compilers on (busy for a window: src/node/compiler-tiering.ts).
    const compilersOn = swarm.nodes.filter((n) => {
      try {
        return readFileSync(join(n.dataDir, 'node.log'), 'utf8').includes('"optimizing compilers on"');
      } catch {
        return false;
      }
    }).length;
    const li = ids.indexOf(leader ?? '');
    const fi = li === 0 ? 1 : 0;
    const med = (xs: { rss: number }[]): number => r1(median(xs.map((x) => x.rss)));
    return {
      name: 'daemon-rss',
      description: `Idle daemon RSS: 3 daemons on loopback (launcher flags, multicast off), ${IDLE_S} s idle after forming and one write; VmRSS sampled every second over the last ${SAMPLE_S} s`,
      metrics: {
        rss_median_mb: med(all),
        rss_max_mb: r1(Math.max(...all.map((x) => x.rss))),
        anon_median_mb: r1(median(all.map((x) => x.anon))),
        file_median_mb: r1(median(all.map((x) => x.file))),
        leader_rss_median_mb: li >= 0 ? med(samples[li]!) : null,
        follower_rss_median_mb: med(samples[fi]!),
        node_e0_rss_mb: r1(e0.rss),
        node_e0_anon_mb: r1(e0.anon),
        node_e0_file_mb: r1(e0.file),
        idle_node_rss_median_mb: med(anchor),
        idle_node_anon_median_mb: r1(median(anchor.map((x) => x.anon))),
        idle_node_file_median_mb: r1(median(anchor.map((x) => x.file))),
        daemons_with_optimizing_compilers: compilersOn,
      },
      goals: [{ metric: 'rss_median_mb', op: '<=', target: GOAL_MB }],
      details: {
        idle_s: IDLE_S,
        daemon_entry: entry.replace(/^.*\/dist\//, 'dist/'),
        idle_node_anchor: "node -e 'setInterval(()=>{},1e3)', no flags, sampled with the daemons",
        node_flags: process.env.NODE_OPTIONS ?? '',
        per_daemon_rss_mb: samples.map((xs) => xs.map((x) => r1(x.rss))),
      },
    };
  } finally {
    idleNode.kill('SIGKILL');
    await swarm.stop();
  }
}
