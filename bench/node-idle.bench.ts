/**
 * A node at idle in a 5-node swarm: time from spawning each node daemon (what
 * `swarm node start` spawns detached, same entry and Node flags) to its API
 * answering, then resident memory and CPU of every node while the formed
 * swarm (gossip membership of 5, one Raft leader) sits idle.
 *
 * Nodes start one after another, so a node's ready time is its own start-up
 * and not five start-ups competing for the cores. Loopback only, multicast
 * off, static join lists on 127.0.0.1 with distinct ports; every process
 * started here is stopped here, and every wait is bounded.
 * Target (issue #5): ready < 500 ms, RSS < 60 MB, < 1% of one core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoNodeConfig, planNodes, type DemoNode } from '../src/cli/commands/demo.js';
import { daemonArgs } from '../src/cli/daemon.js';
import { stopChild } from './local-swarm.js';
import type { BenchReport } from './types.js';

const NODES = 5;
/** Idle seconds before measuring, so start-up garbage and the first elections are behind. */
const SETTLE_S = 5;
const IDLE_S = 30;
const TICKS_PER_S = 100; // USER_HZ on Linux

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

interface BenchNode extends DemoNode {
  child?: ChildProcess;
  pid?: number;
  apiUrl?: string;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function waitReady(n: BenchNode, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end && n.child?.exitCode === null) {
    try {
      const rt = JSON.parse(readFileSync(join(n.dataDir, 'node.json'), 'utf8')) as { api_url: string };
      await getJson(`${rt.api_url}/v1/health`);
      n.apiUrl = rt.api_url;
      return true;
    } catch {
      // not yet
    }
    await sleep(5);
  }
  return false;
}

/** Every node sees all 5 members alive and the same Raft leader. */
async function waitFormed(nodes: readonly BenchNode[], deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    try {
      const views = await Promise.all(
        nodes.map(async (n) => {
          const s = (await getJson(`${n.apiUrl}/v1/status`)) as { leader: string | null };
          const m = (await getJson(`${n.apiUrl}/v1/members`)) as { members: { status: string }[] };
          return { leader: s.leader, alive: m.members.filter((x) => x.status === 'alive').length };
        }),
      );
      const leaders = new Set(views.map((v) => v.leader));
      if (views.every((v) => v.alive === NODES && v.leader !== null) && leaders.size === 1) return true;
    } catch {
      // a node between states
    }
    await sleep(100);
  }
  return false;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const round1 = (x: number): number => Math.round(x * 10) / 10;

export default async function bench(): Promise<BenchReport> {
  const root = mkdtempSync(join(tmpdir(), 'swarm-bench-idle-'));
  const config = join(root, 'config.toml');
  writeFileSync(
    config,
    '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nbind_address = "127.0.0.1"\n',
  );
  const nodes: BenchNode[] = await planNodes(root, NODES);
  const readyMs: number[] = [];
  const readyCpuMs: number[] = [];
  const readyRss: number[] = [];
  let formedMs = Number.NaN;
  const idleRss: number[] = [];
  const idleCpu: number[] = [];
  try {
    const t0 = performance.now();
    for (const n of nodes) {
      // The config a `swarm demo` node gets (static join list on 127.0.0.1, multicast off).
      const env = { ...process.env, SWARM_CONFIG: '' };
      const nodeConfig = await demoNodeConfig(n, nodes, config, env);
      const started = performance.now();
      const child = spawn(process.execPath, daemonArgs(nodeConfig, env), {
        stdio: 'ignore',
        env,
      });
      n.child = child;
      n.pid = child.pid;
      if (!(await waitReady(n, 15_000)) || n.pid === undefined)
        throw new Error(`${n.name} did not become ready`);
      readyMs.push(performance.now() - started);
      // CPU spent until ready does not depend on how loaded the machine is, unlike wall time.
      readyCpuMs.push((cpuTicks(n.pid) * 1000) / TICKS_PER_S);
      readyRss.push(rssMb(n.pid));
    }
    if (!(await waitFormed(nodes, 30_000))) throw new Error('the swarm did not form (members, leader)');
    formedMs = performance.now() - t0;
    await sleep(SETTLE_S * 1000);
    const pids = nodes.map((n) => n.pid ?? 0);
    const c0 = pids.map(cpuTicks);
    const w0 = performance.now();
    await sleep(IDLE_S * 1000);
    const c1 = pids.map(cpuTicks);
    const wallMs = performance.now() - w0;
    pids.forEach((pid, i) => {
      idleCpu.push((((c1[i]! - c0[i]!) / TICKS_PER_S) * 1000 * 100) / wallMs);
      idleRss.push(rssMb(pid));
    });
  } finally {
    await Promise.all(nodes.map((n) => (n.child ? stopChild(n.child) : undefined)));
    rmSync(root, { recursive: true, force: true });
  }
  return {
    name: 'node-idle',
    description: `${NODES}-node swarm on loopback (gossip, Raft, energy, API): per-node spawn-to-ready time, then RSS and CPU of every node after ${IDLE_S} s idle.`,
    metrics: {
      ready_median_ms: Math.round(median(readyMs)),
      ready_max_ms: Math.round(Math.max(...readyMs)),
      ready_cpu_median_ms: Math.round(median(readyCpuMs)),
      formed_ms: Math.round(formedMs),
      machine_load_1m: round1(loadavg()[0] ?? 0),
      idle_rss_median_mb: round1(median(idleRss)),
      idle_rss_max_mb: round1(Math.max(...idleRss)),
      idle_cpu_median_percent: Math.round(median(idleCpu) * 100) / 100,
      idle_cpu_max_percent: Math.round(Math.max(...idleCpu) * 100) / 100,
    },
    goals: [
      { metric: 'ready_median_ms', op: '<', target: 500 },
      { metric: 'idle_rss_max_mb', op: '<', target: 60 },
      { metric: 'idle_cpu_max_percent', op: '<', target: 1 },
    ],
    details: {
      nodes: NODES,
      settle_seconds: SETTLE_S,
      idle_seconds: IDLE_S,
      ready_ms: readyMs.map(Math.round),
      ready_cpu_ms: readyCpuMs,
      ready_rss_mb: readyRss.map(round1),
      idle_rss_mb: idleRss.map(round1),
      idle_cpu_percent: idleCpu.map((x) => Math.round(x * 100) / 100),
      note: 'ready_* wall times include Node start-up and module loading; compare ready_cpu_median_ms when the machine is loaded. RSS counts the node binary pages each process maps (about 35 MB for a bare `node`).',
    },
  };
}
