/**
 * `swarm demo`: N real node daemons on loopback, in temp data dirs, multicast
 * off, each joining the others; prints who is who, then stops them all on
 * Ctrl+C, SIGTERM or after --duration. Rows come from each node's own
 * /v1/status, so once gossip and Raft are plugged in the table shows roles and
 * the leader without changes here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../common/errors.js';
import { SwarmClient } from '../../client/client.js';
import { ApiRequestError } from '../../client/errors.js';
import type { StatusResponse } from '../../api/types.js';
import type { RuntimeInfo } from '../../node/datadir.js';
import { agentsDemo, type AgentsDemoFlags } from './agent.js';
import type { Registrar } from '../context.js';
import type { SwarmConfig } from '../../config/schema.js';
import { spawnDaemon, stopDaemon, waitForExit } from '../daemon.js';
import type { StartOptions } from '../config-access.js';
import { formatTable } from '../output.js';
import { freePort } from '../ports.js';

const MAX_NODES = 25;
const NON_TTY_DEFAULT_S = 10;
/** Bound on waiting for the swarm to agree on a leader before printing the table. */
const LEADER_WAIT_MS = 5000;

export interface DemoNode {
  name: string;
  dataDir: string;
  gossipPort: number;
  apiPort: number;
  raftPort: number;
  runtime?: RuntimeInfo;
}

interface DemoRow {
  name: string;
  id: string;
  api_url: string;
  pid: number;
  role: string;
  leader: string | null;
  gossip: string | null;
}

function parseIntOption(
  flag: string,
  text: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || n < min || n > max) {
    throw new UsageError(`${flag} ${JSON.stringify(text)}: must be a number between ${min} and ${max}`);
  }
  return n;
}

/** The leader's name as its peers see it, or '-' (no leader yet, or no Raft in the node). */
function leaderName(leader: string | null, rows: readonly DemoRow[]): string {
  if (leader === null) return '-';
  return rows.find((r) => r.id === leader)?.name ?? leader;
}

/**
 * Statuses of all nodes. When the nodes run Raft (a role other than
 * 'standalone'), wait, bounded, until they all name the same leader so the
 * table shows a settled swarm rather than an election in progress.
 */
async function settledStatuses(nodes: readonly DemoNode[], waitMs: number): Promise<StatusResponse[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const statuses = await Promise.all(
      nodes.map((n) => new SwarmClient({ baseUrl: n.runtime?.api_url ?? '' }).status()),
    );
    const consensus = statuses.some((s) => s.role !== 'standalone');
    const leaders = new Set(statuses.map((s) => s.leader));
    if (!consensus || (leaders.size === 1 && !leaders.has(null)) || Date.now() >= deadline) return statuses;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The config's default `[raft] voters`: the demo forms up to this many voters. */
const DEFAULT_VOTERS = 5;

/** Wait, bounded, until the leader reports `want` voters (learners are promoted one at a time). */
async function votersJoined(nodes: readonly DemoNode[], want: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  const client = new SwarmClient({ baseUrl: nodes[0]?.runtime?.api_url ?? '' });
  while (Date.now() < deadline) {
    const info = await client.leader().catch(() => null);
    if (info !== null && info.voters.length >= want) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface DemoWrite {
  key: string;
  value?: unknown;
  revision?: number;
  via: string;
  error?: string;
}

/**
 * A demo write, tried again (up to 3 times, 300 ms apart) while the answer is "no leader elected":
 * on a loaded machine the freshly formed swarm may still re-elect, and that answer means nothing was
 * sent. Any other error, including a write whose outcome is unknown, is reported as it is.
 */
async function putSettled(client: SwarmClient, key: string, value: unknown): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.kvPut(key, value);
      return;
    } catch (err) {
      const retry =
        attempt < 3 &&
        err instanceof ApiRequestError &&
        err.apiCode === 'no_quorum' &&
        /no leader elected/.test(err.message);
      if (!retry) throw err;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

/** A few writes, each sent to a different node (followers forward to the leader), then read back. */
async function demoWrites(nodes: readonly DemoNode[]): Promise<DemoWrite[]> {
  const samples: [string, unknown][] = [
    ['demo/greeting', 'hello from the swarm'],
    ['demo/started_at', new Date().toISOString()],
    ['demo/nodes', nodes.length],
  ];
  const out: DemoWrite[] = [];
  for (const [i, [key, value]] of samples.entries()) {
    const via = nodes[i % nodes.length]!;
    const client = new SwarmClient({ baseUrl: via.runtime?.api_url ?? '' });
    try {
      await putSettled(client, key, value);
      const read = await client.kvGet(key);
      out.push({ key, value: read.value, revision: read.revision, via: via.name });
    } catch (err) {
      out.push({ key, via: via.name, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

export function demoRows(statuses: readonly StatusResponse[], nodes: readonly DemoNode[]): DemoRow[] {
  return statuses.map((s, i) => ({
    name: s.name,
    id: s.id,
    api_url: nodes[i]?.runtime?.api_url ?? '',
    pid: s.pid,
    role: s.role,
    leader: s.leader,
    gossip: s.addresses.gossip,
  }));
}

type DemoFlags = AgentsDemoFlags & { nodes: string; duration?: string };

export const register: Registrar = (program, ctx) => {
  program
    .command('demo')
    .description(
      'run a local swarm of real nodes on loopback until Ctrl+C (or --duration); `demo agents`: the three-agent consensus demo',
    )
    .argument('[kind]', 'what to run: "nodes" (default) or "agents"', 'nodes')
    .option('--nodes <n>', 'number of nodes (1-25)', '3')
    .option('--count <n>', 'agents: number of agents', '3')
    .option('--base-port <port>', 'agents: port of the first agent (0: any free ports)', '5001')
    .option('--round <n>', 'agents: round to start', '1')
    .option(
      '--duration <seconds>',
      'stop after this many seconds (default: until Ctrl+C; 10 s without a TTY)',
    )
    .option('--json', 'print the nodes as JSON')
    .action(async (kind: string, opts: DemoFlags) => {
      if (kind === 'agents') return agentsDemo(opts, ctx);
      if (kind !== 'nodes') throw new UsageError(`demo ${kind}: unknown demo, expected "nodes" or "agents"`);
      const count = parseIntOption('--nodes', opts.nodes, 1, MAX_NODES) ?? 3;
      if (!Number.isInteger(count)) throw new UsageError(`--nodes ${opts.nodes}: must be an integer`);
      const interactive = Boolean((ctx.stdout as NodeJS.WriteStream).isTTY);
      const durationS =
        parseIntOption('--duration', opts.duration, 0.1, 86_400 * 365) ??
        (interactive ? undefined : NON_TTY_DEFAULT_S);
      const say = (s: string): void => {
        (opts.json ? ctx.stderr : ctx.stdout).write(s);
      };

      const root = mkdtempSync(join(tmpdir(), 'swarm-demo-'));
      const configPath = join(root, 'config.toml');
      // The demo's own config: the user's file must not change ports or turn multicast on.
      writeFileSync(
        configPath,
        '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nbind_address = "127.0.0.1"\n',
      );
      const env: NodeJS.ProcessEnv = { ...ctx.env };
      for (const k of Object.keys(env)) if (k.startsWith('SWARM_')) delete env[k];

      let stopping = false;
      let wake: () => void = () => undefined;
      const onSignal = (): void => {
        stopping = true;
        wake();
      };
      // SIGHUP too: a closed terminal must not leave the (detached) daemons running.
      const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
      for (const sig of signals) process.on(sig, onSignal);

      const nodes: DemoNode[] = [];
      try {
        say(`Starting ${count} node${count > 1 ? 's' : ''} in ${root}\n`);
        // Free ports are probed, then bound by the nodes a moment later; another
        // process on this machine may take one in between, so a lost race retries.
        for (let round = 1; ; round++) {
          nodes.splice(0, nodes.length, ...(await planNodes(root, count)));
          try {
            await startAll(nodes, configPath, env);
            break;
          } catch (err) {
            await stopAll(nodes);
            for (const n of nodes) n.runtime = undefined;
            const portRace = err instanceof Error && err.message.includes('is in use');
            if (!portRace || round >= 3 || stopping) throw err;
          }
        }

        if (!stopping) {
          await settledStatuses(nodes, LEADER_WAIT_MS);
          await votersJoined(nodes, Math.min(count, DEFAULT_VOTERS), LEADER_WAIT_MS);
          const writes = await demoWrites(nodes);
          const rows = demoRows(await settledStatuses(nodes, LEADER_WAIT_MS), nodes);
          if (opts.json) {
            ctx.stdout.write(
              `${JSON.stringify({ nodes: rows, writes, data_root: root, duration_s: durationS ?? null })}\n`,
            );
          } else {
            ctx.stdout.write(
              formatTable(
                ['NAME', 'ID', 'API', 'ROLE', 'LEADER'],
                rows.map((r) => [r.name, r.id, r.api_url, r.role, leaderName(r.leader, rows)]),
              ),
            );
            ctx.stdout.write('\nCommitted writes (through the Raft log, read back linearizably):\n');
            for (const w of writes)
              ctx.stdout.write(
                w.error === undefined
                  ? `  ${w.key} = ${JSON.stringify(w.value)}  (revision ${w.revision}, written via ${w.via})\n`
                  : `  ${w.key}: ${w.error}\n`,
              );
          }
          say(
            durationS === undefined
              ? 'Swarm running. Press Ctrl+C to stop.\n'
              : `Swarm running for ${durationS} s (Ctrl+C stops earlier).\n`,
          );
          // A ref'd timer keeps the process alive while waiting for a signal.
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (stopping) resolve();
            timer = setTimeout(resolve, durationS === undefined ? 2 ** 31 - 1 : durationS * 1000);
          });
          clearTimeout(timer);
        }
      } finally {
        await stopAll(nodes);
        for (const sig of signals) process.off(sig, onSignal);
        rmSync(root, { recursive: true, force: true });
      }
      say(`Stopped ${nodes.filter((n) => n.runtime).length} node(s).\n`);
    });
};

/** Names, data dirs and free loopback ports for `count` nodes under `root`. */
export async function planNodes(root: string, count: number): Promise<DemoNode[]> {
  const taken = new Set<number>();
  const nodes: DemoNode[] = [];
  for (let i = 1; i <= count; i++) {
    nodes.push({
      name: `node-${i}`,
      dataDir: join(root, `node-${i}`),
      gossipPort: await freePort(taken),
      apiPort: await freePort(taken),
      raftPort: await freePort(taken),
    });
  }
  return nodes;
}

/** The `node start` flags of one demo node: its ports, multicast off, all the others in its join list. */
export function demoStartFlags(n: DemoNode, nodes: readonly DemoNode[], bootstrap: number): StartOptions {
  const join = nodes.filter((o) => o !== n).map((o) => `127.0.0.1:${o.gossipPort}`);
  return {
    name: n.name,
    dataDir: n.dataDir,
    gossipPort: String(n.gossipPort),
    apiPort: String(n.apiPort),
    raftPort: String(n.raftPort),
    multicast: false,
    bootstrap: String(bootstrap),
    ...(join.length > 0 ? { join: join.join(',') } : {}),
  };
}

/**
 * The config of one node of a demo swarm, validated as `swarm node start` would
 * with its flags: its ports, multicast off, all the others in its join list,
 * and every node a founder (the cluster forms once all of them are seen).
 */
export async function demoNodeConfig(
  n: DemoNode,
  nodes: readonly DemoNode[],
  configPath: string,
  env: NodeJS.ProcessEnv,
): Promise<SwarmConfig> {
  const flags = demoStartFlags(n, nodes, nodes.length);
  // Imported here: zod and the config schema load only when a demo runs.
  const [{ loadConfig }, { overridesFrom }] = await Promise.all([
    import('../../config/load.js'),
    import('../config-access.js'),
  ]);
  return loadConfig({ path: configPath, env, overrides: overridesFrom(flags, n.dataDir) }).config;
}

/** Start every node in parallel, each with all the others in its join list. */
async function startAll(nodes: DemoNode[], configPath: string, env: NodeJS.ProcessEnv): Promise<void> {
  const results = await Promise.allSettled(
    nodes.map(async (n) => {
      n.runtime = await spawnDaemon({ config: await demoNodeConfig(n, nodes, configPath, env), env });
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Stop every node that started; anything that does not exit in time is killed (our own children only). */
async function stopAll(nodes: readonly DemoNode[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      const rt = n.runtime;
      if (!rt) return;
      try {
        await stopDaemon({ dataDir: n.dataDir, timeoutMs: 10_000 });
      } catch {
        const ref = { pid: rt.pid, start: rt.start };
        if (!(await waitForExit(ref, 100))) {
          try {
            process.kill(rt.pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    }),
  );
}
