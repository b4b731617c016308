/**
 * A few real daemons on loopback for the CLI start-up and RSS benchmarks:
 * started as `swarm demo` starts them (detached daemon entry, the launcher's
 * V8 flags, multicast off, each node's join list naming the others, a config
 * file bound to 127.0.0.1), stopped by the bench over the API or by PID.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoNodeConfig, demoStartFlags, planNodes, type DemoNode } from '../src/cli/commands/demo.js';
import { overridesFrom } from '../src/cli/config-access.js';
import { spawnDaemon, stopDaemon } from '../src/cli/daemon.js';
import { loadConfig } from '../src/config/load.js';
import type { SwarmConfig } from '../src/config/schema.js';

export interface LocalSwarm {
  root: string;
  config: string;
  nodes: DemoNode[];
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startLocalSwarm(count: number): Promise<LocalSwarm> {
  const root = mkdtempSync(join(tmpdir(), 'swarm-bench-local-'));
  const config = join(root, 'config.toml');
  writeFileSync(
    config,
    '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nbind_address = "127.0.0.1"\n',
  );
  const env: NodeJS.ProcessEnv = { ...process.env, SWARM_CONFIG: '' };
  const nodes = await planNodes(root, count);
  const stop = async (): Promise<void> => {
    await Promise.allSettled(
      nodes.filter((n) => n.runtime).map((n) => stopDaemon({ dataDir: n.dataDir, timeoutMs: 15_000 })),
    );
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      nodes.map(async (n) => {
        n.runtime = await spawnDaemon({ config: await demoNodeConfig(n, nodes, config, env), env });
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { root, config, nodes, env, stop };
}

/** Until node `n`'s API reports a Raft leader (bounded by `ms`). */
export async function waitLeader(n: DemoNode, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://127.0.0.1:${n.apiPort}/v1/leader`, { signal: AbortSignal.timeout(2000) });
      if (r.ok && ((await r.json()) as { leader?: string | null }).leader) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`no leader seen by ${n.name} within ${ms} ms`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const r1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * A `swarm demo` node's config (its ports, multicast off, every other node in
 * its join list), except that the cluster forms from the first 5 voter-capable
 * members seen (bootstrap_expect is at most 15; [raft] voters = 5, the rest
 * join as learners).
 */
export function swarmNodeConfig(
  n: DemoNode,
  nodes: readonly DemoNode[],
  path: string,
  env: NodeJS.ProcessEnv,
): SwarmConfig {
  const flags = demoStartFlags(n, nodes, Math.min(5, nodes.length));
  return loadConfig({ path, env, overrides: overridesFrom(flags, n.dataDir) }).config;
}

/** SIGTERM a daemon child and wait for its exit; SIGKILL if it has not exited after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
