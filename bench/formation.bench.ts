/**
 * Zero-config formation time: N daemons (default [raft] settings, no
 * bootstrap flag) started at once on loopback, multicast off, each with the
 * others in its join list. Measures the time from the last `swarm node start`
 * returning to every node naming the same leader, and checks that the first
 * leader already had all N founders as voters. 3 and 5 nodes, a few trials
 * each; every process started here is killed here, every wait is bounded.
 * Target (issue #13, design notes): agreed leader within 10 s of the last start.
 * Needs `npm run build`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loopbackToml } from '../test/helpers/config-toml.js';
import { freeUdpPorts } from '../test/helpers/free-ports.js';
import type { BenchReport } from './types.js';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));
const TRIALS = 3;
const LEADER_DEADLINE_MS = 60_000;

interface Started {
  pid: number;
  id: string;
  api_url: string;
}
interface Leader {
  self: string;
  leader: string | null;
  role: string;
  voters: string[];
}

function swarm(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

async function leaderOf(api: string): Promise<Leader | null> {
  try {
    const res = await fetch(`${api}/v1/leader`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as Leader) : null;
  } catch {
    return null;
  }
}

async function trial(root: string, tag: string, n: number): Promise<{ ms: number; firstVoters: number }> {
  const env = { ...process.env, HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), SWARM_CONFIG: '' };
  const config = join(root, 'config.toml');
  const ports = await freeUdpPorts(n);
  const started: Started[] = [];
  try {
    await Promise.all(
      ports.map(async (p, i) => {
        const joinList = ports.filter((q) => q !== p).map((q) => `127.0.0.1:${q}`);
        const out = await swarm(
          ['--config', config, 'node', 'start', '--json', '--data-dir', join(root, `${tag}${i}`)].concat([
            '--gossip-port',
            String(p),
            '--join',
            joinList.join(','),
          ]),
          env,
        );
        started.push(JSON.parse(out) as Started);
      }),
    );
    const t0 = performance.now();
    let firstVoters = 0;
    while (performance.now() - t0 < LEADER_DEADLINE_MS) {
      const ls = await Promise.all(started.map((s) => leaderOf(s.api_url)));
      const lead = ls.find((l) => l?.role === 'leader');
      if (lead && firstVoters === 0) firstVoters = lead.voters.length;
      const id = ls[0]?.leader ?? null;
      if (id !== null && ls.every((l) => l?.leader === id))
        return { ms: performance.now() - t0, firstVoters };
      await new Promise((r) => setTimeout(r, 50));
    }
    return { ms: Number.NaN, firstVoters };
  } finally {
    for (const s of started) {
      try {
        process.kill(s.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export default async function run(): Promise<BenchReport> {
  const root = mkdtempSync(join(tmpdir(), 'swarm-formation-bench-'));
  writeFileSync(join(root, 'config.toml'), loopbackToml([]));
  const details: Record<string, { ms: number; firstVoters: number }[]> = {};
  const metrics: BenchReport['metrics'] = {};
  try {
    for (const n of [3, 5]) {
      const runs: { ms: number; firstVoters: number }[] = [];
      for (let t = 0; t < TRIALS; t++) runs.push(await trial(root, `n${n}t${t}-`, n));
      details[`nodes_${n}`] = runs;
      const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
      metrics[`agreed_leader_${n}_nodes_median_ms`] = Math.round(ms[Math.floor(ms.length / 2)]!);
      metrics[`agreed_leader_${n}_nodes_max_ms`] = Math.round(ms[ms.length - 1]!);
      metrics[`first_leader_${n}_nodes_min_voters`] = Math.min(...runs.map((r) => r.firstVoters));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return {
    name: 'formation',
    description:
      'Zero-config formation on loopback: last `node start` to an agreed leader, default settings, 3 and 5 nodes',
    metrics,
    goals: [
      { metric: 'agreed_leader_3_nodes_max_ms', op: '<=', target: 10_000 },
      { metric: 'agreed_leader_5_nodes_max_ms', op: '<=', target: 10_000 },
      { metric: 'first_leader_3_nodes_min_voters', op: '>=', target: 3 },
      { metric: 'first_leader_5_nodes_min_voters', op: '>=', target: 5 },
    ],
    details,
  };
}
