/**
 * CLI start-up against `node -e 0` (issue #16: `swarm kv get` and
 * `swarm node status` <= 1.6x its wall time), in the same run: 3 real
 * daemons on loopback (multicast off, join lists), one key written, then
 * CLI_RUNS (default 20) rounds, each running `node -e 0`, `swarm node status`,
 * `swarm kv get` (a linearizable read through the leader) and
 * `swarm kv get --stale` once, in that order, so that machine load drifts
 * through all of them alike. Wall time from spawn to exit of `bin/swarm.js`
 * as a user runs it (the compiled CLI; `npx tsc -p tsconfig.build.json`
 * first), medians. Every run must exit 0. The modules each command loads are
 * counted once (a resolve hook, test/helpers/module-trace.ts), to show what
 * the time is spent on.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleTraceNodeOptions } from '../test/helpers/module-trace.js';
import { median, r1, startLocalSwarm, waitLeader } from './local-swarm.js';
import type { BenchReport } from './types.js';

/** CLI_BIN: another entry to time (e.g. an older bin/swarm.js copied beside it, for a before/after). */
const BIN = process.env.CLI_BIN ?? fileURLToPath(new URL('../bin/swarm.js', import.meta.url));
const RUNS = Number(process.env.CLI_RUNS ?? 20);
const GOAL_RATIO = 1.6;

function wallMs(args: readonly string[], env: NodeJS.ProcessEnv): { ms: number; ok: boolean; err: string } {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000 });
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, ok: r.status === 0, err: String(r.stderr ?? '') };
}

/** Our modules and npm packages one command loads. */
function modulesLoaded(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  log: string,
): { own: number; packages: string[] } {
  spawnSync(process.execPath, args, {
    env: { ...env, NODE_OPTIONS: moduleTraceNodeOptions(JSON.stringify(log)) },
    stdio: 'ignore',
    timeout: 15_000,
  });
  const urls = readFileSync(log, 'utf8')
    .split('\n')
    .filter((u) => u.startsWith('file:'));
  rmSync(log, { force: true });
  const packages = new Set<string>();
  let own = 0;
  for (const u of new Set(urls)) {
    const p = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1];
    if (p) packages.add(p);
    else own++;
  }
  return { own, packages: [...packages].sort() };
}

export default async function bench(): Promise<BenchReport> {
  const swarm = await startLocalSwarm(3);
  try {
    const n = swarm.nodes[1]!;
    await waitLeader(n);
    const env = swarm.env;
    const base = [BIN, '-c', swarm.config];
    const dd = ['--data-dir', n.dataDir];
    const put = wallMs([...base, 'kv', 'put', 'bench-key', '1', ...dd], env);
    if (!put.ok) throw new Error(`kv put failed: ${put.err}`);
    const commands: Record<string, string[]> = {
      node_e0: ['-e', '0'],
      node_status: [...base, 'node', 'status', ...dd],
      kv_get: [...base, 'kv', 'get', 'bench-key', ...dd],
      kv_get_stale: [...base, 'kv', 'get', 'bench-key', '--stale', ...dd],
    };
    const ms: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
    // One untimed round: the page cache holds every file after it, as for a user's second call.
    for (const args of Object.values(commands)) wallMs(args, env);
    for (let i = 0; i < RUNS; i++) {
      for (const [k, args] of Object.entries(commands)) {
        const r = wallMs(args, env);
        if (!r.ok) throw new Error(`${k} failed: ${r.err}`);
        ms[k]!.push(r.ms);
      }
    }
    const med = Object.fromEntries(Object.entries(ms).map(([k, xs]) => [k, median(xs)]));
    const e0 = med.node_e0!;
    const loaded = Object.fromEntries(
      Object.entries(commands)
        .filter(([k]) => k !== 'node_e0')
        .map(([k, args]) => [k, modulesLoaded(args, env, join(swarm.root, `modules-${k}`))]),
    );
    return {
      name: 'cli-start',
      description: `CLI wall time beside \`node -e 0\` in the same run (3 daemons on loopback, multicast off; ${RUNS} interleaved rounds, medians; linearizable \`kv get\` through the leader)`,
      metrics: {
        node_e0_ms: r1(e0),
        node_status_ms: r1(med.node_status!),
        kv_get_ms: r1(med.kv_get!),
        kv_get_stale_ms: r1(med.kv_get_stale!),
        node_status_ratio: Math.round((med.node_status! / e0) * 100) / 100,
        kv_get_ratio: Math.round((med.kv_get! / e0) * 100) / 100,
        kv_get_stale_ratio: Math.round((med.kv_get_stale! / e0) * 100) / 100,
      },
      goals: [
        { metric: 'node_status_ratio', op: '<=', target: GOAL_RATIO },
        { metric: 'kv_get_ratio', op: '<=', target: GOAL_RATIO },
      ],
      details: {
        runs: RUNS,
        ms: Object.fromEntries(Object.entries(ms).map(([k, xs]) => [k, xs.map(r1)])),
        modules_loaded: loaded,
        note: 'ratio = median wall time / median wall time of `node -e 0`; modules_loaded counts our own modules (dist/ and bin/) and lists npm packages',
      },
    };
  } finally {
    await swarm.stop();
  }
}
