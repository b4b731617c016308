/**
 * A node at idle: time from spawning the node daemon (what `swarm node start`
 * runs detached: dist/cli/daemon-main.js node start --foreground) to the API
 * answering, resident memory and CPU use while idle. Loopback only, port 0,
 * multicast off; every process started here is stopped here.
 * Target (design notes): ready < 500 ms, RSS < 60 MB, < 1% of one core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './types.js';

// What `swarm node start` spawns for a detached node.
const BIN = fileURLToPath(new URL('../dist/cli/daemon-main.js', import.meta.url));
const TRIALS = 5;
const IDLE_S = 5;
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

async function waitReady(dataDir: string, child: ChildProcess, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end && child.exitCode === null) {
    try {
      const rt = JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8')) as { api_url: string };
      const res = await fetch(`${rt.api_url}/v1/health`);
      if (res.ok) return true;
    } catch {
      // not yet
    }
    await sleep(5);
  }
  return false;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

export default async function bench(): Promise<BenchReport> {
  const root = mkdtempSync(join(tmpdir(), 'swarm-bench-idle-'));
  const config = join(root, 'config.toml');
  writeFileSync(
    config,
    '[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n',
  );
  const readyMs: number[] = [];
  const readyCpuMs: number[] = [];
  let rss = Number.NaN;
  let cpuPercent = Number.NaN;
  try {
    for (let t = 0; t < TRIALS; t++) {
      const dataDir = join(root, `d${t}`);
      const t0 = performance.now();
      const child = spawn(
        process.execPath,
        [BIN, '--config', config, 'node', 'start', '--foreground', '--data-dir', dataDir],
        {
          stdio: 'ignore',
          env: { ...process.env, SWARM_CONFIG: '' },
        },
      );
      try {
        if (!(await waitReady(dataDir, child, 15_000))) throw new Error('node did not become ready');
        readyMs.push(performance.now() - t0);
        // CPU spent until ready does not depend on how loaded the machine is, unlike wall time.
        if (child.pid !== undefined) readyCpuMs.push((cpuTicks(child.pid) * 1000) / TICKS_PER_S);
        if (t === TRIALS - 1 && child.pid !== undefined) {
          await sleep(1000);
          const c0 = cpuTicks(child.pid);
          const w0 = performance.now();
          await sleep(IDLE_S * 1000);
          const c1 = cpuTicks(child.pid);
          cpuPercent = (((c1 - c0) / TICKS_PER_S) * 1000 * 100) / (performance.now() - w0);
          rss = rssMb(child.pid);
        }
      } finally {
        await stop(child);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return {
    name: 'node-idle',
    description:
      'Single node (API only so far; gossip/Raft components add to this as they are plugged in): spawn-to-ready time, idle RSS and CPU.',
    metrics: {
      ready_median_ms: Math.round(median(readyMs)),
      ready_max_ms: Math.round(Math.max(...readyMs)),
      ready_cpu_median_ms: Math.round(median(readyCpuMs)),
      machine_load_1m: Math.round((loadavg()[0] ?? 0) * 10) / 10,
      idle_rss_mb: Math.round(rss * 10) / 10,
      idle_cpu_percent: Math.round(cpuPercent * 100) / 100,
    },
    goals: [
      { metric: 'ready_median_ms', op: '<', target: 500 },
      { metric: 'idle_rss_mb', op: '<', target: 60 },
      { metric: 'idle_cpu_percent', op: '<', target: 1 },
    ],
    details: {
      trials: TRIALS,
      idle_seconds: IDLE_S,
      ready_ms: readyMs.map(Math.round),
      ready_cpu_ms: readyCpuMs,
      note: 'ready_* wall times include Node start-up and module loading; compare ready_cpu_median_ms when the machine is loaded',
    },
  };
}
