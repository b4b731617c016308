/**
 * `swarm swarm status [--json] [--watch]`: the swarm as the local node's gossip
 * sees it. Like `node status`, the CLI holds no state: it finds the running
 * node through its data dir and asks its API. Room for `metrics`, `energy`,
 * `dashboard` and `green`, which read the same node.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { MembersResponse } from '../../api/members-types.js';
import type { StatusResponse } from '../../api/types.js';
import { SwarmError } from '../../common/errors.js';
import { loadConfig } from '../../config/load.js';
import { SwarmClient } from '../../client/client.js';
import { inspectDataDir } from '../../node/datadir.js';
import type { CliContext, Registrar } from '../context.js';
import { NoNodeRunningError } from '../daemon.js';
import { formatPairs, formatTable } from '../output.js';

interface StatusOptions {
  dataDir?: string;
  json?: boolean;
  watch?: string | boolean;
}

/** A client for the node running on this config/data dir, or a one-line error. */
export function localClient(ctx: CliContext, dataDirFlag: string | undefined): SwarmClient {
  const overrides =
    dataDirFlag === undefined
      ? []
      : [{ key: 'node.data_dir', value: resolve(process.cwd(), dataDirFlag), source: '--data-dir' }];
  const { config } = loadConfig({ path: ctx.configPath(), env: ctx.env, overrides });
  const dataDir = config.node.data_dir;
  const found = inspectDataDir(dataDir);
  if (found.state === 'none') throw new NoNodeRunningError(dataDir);
  if (found.state === 'stale') throw new NoNodeRunningError(dataDir, found.pid);
  if (!found.runtime?.api_url)
    throw new SwarmError('starting', `node PID ${found.ref.pid} in ${dataDir} is still starting; try again`);
  return new SwarmClient({ baseUrl: found.runtime.api_url, token: config.security.api_token });
}

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

export function formatSwarmStatus(m: MembersResponse, st: StatusResponse, now = Date.now()): string {
  const counts = new Map<string, number>();
  for (const x of m.members) counts.set(x.status, (counts.get(x.status) ?? 0) + 1);
  const summary = ['alive', 'suspect', 'dead', 'left']
    .filter((k) => counts.has(k))
    .map((k) => `${counts.get(k)} ${k}`)
    .join(', ');
  const leader = m.members.find((x) => x.id === m.leader);
  const a = m.adaptive;
  const head = formatPairs([
    ['this node', `${st.name} (${st.id})`],
    ['members', `${m.members.length} (${summary})`],
    ['leader', leader ? `${leader.name} (${leader.id})` : (st.leader ?? '-')],
    ['term', String(st.term)],
    ['adaptive', a.enabled ? `${a.mode}, interval ${a.interval_ms} ms, fanout ${a.fanout}` : 'disabled'],
    ['reason', a.reason],
    ['security', m.encrypted ? 'gossip encrypted' : 'gossip unencrypted'],
  ]);
  const rows = m.members.map((x) => [
    `${x.self ? '*' : ' '}${x.name}`,
    x.id,
    x.status,
    x.device_class,
    x.raft_role ?? '-',
    x.addresses.gossip,
    x.addresses.api ?? '-',
    x.energy?.battery_percent != null ? `${Math.round(x.energy.battery_percent)}%` : '-',
    ago(x.last_change, now),
  ]);
  const table = formatTable(
    [' NAME', 'ID', 'STATUS', 'CLASS', 'RAFT', 'GOSSIP', 'API', 'BATTERY', 'CHANGED'],
    rows,
  );
  return `${head}\n${table}`;
}

export const register: Registrar = (program: Command, ctx: CliContext) => {
  const swarm = program.command('swarm').description('the swarm as the local node sees it');

  swarm
    .command('status')
    .description('members, leader and adaptive gossip mode, from the running node')
    .option('--data-dir <dir>', 'data dir of the node (default: node.data_dir)')
    .option('--json', 'machine-readable output')
    .option('--watch [seconds]', 'refresh every few seconds (default 2) until Ctrl+C')
    .action(async (opts: StatusOptions) => {
      const client = localClient(ctx, opts.dataDir);
      const render = async (): Promise<string> => {
        const [m, st] = await Promise.all([client.members(), client.status()]);
        return opts.json ? `${JSON.stringify({ status: st, ...m }, null, 2)}\n` : formatSwarmStatus(m, st);
      };
      if (opts.watch === undefined || opts.watch === false) {
        ctx.stdout.write(await render());
        return;
      }
      const periodS = opts.watch === true ? 2 : Number(opts.watch);
      if (!Number.isFinite(periodS) || periodS <= 0)
        throw new SwarmError('usage', `--watch: not a positive number of seconds: ${String(opts.watch)}`, {
          exitCode: 2,
        });
      let stop = false;
      const onSigint = (): void => {
        stop = true;
      };
      process.once('SIGINT', onSigint);
      try {
        while (!stop) {
          const text = await render();
          ctx.stdout.write(opts.json ? text : `\x1b[2J\x1b[H${text}`);
          const until = Date.now() + periodS * 1000;
          while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
};
