/**
 * `swarm swarm status [--json] [--watch]`: the swarm as the local node's gossip
 * sees it. Like `node status`, the CLI holds no state: it finds the running
 * node through its data dir and asks its API. Room for `metrics`, `energy`,
 * `dashboard` and `green`, which read the same node.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { EnergyResponse, SwarmEnergyResponse } from '../../api/energy-types.js';
import type { MembersResponse } from '../../api/members-types.js';
import type { StatusResponse } from '../../api/types.js';
import { SwarmError } from '../../common/errors.js';
import { loadConfig } from '../../config/load.js';
import { SwarmClient } from '../../client/client.js';
import { inspectDataDir } from '../../node/datadir.js';
import type { CliContext, Registrar } from '../context.js';
import { NoNodeRunningError } from '../daemon.js';
import { formatDuration, formatPairs, formatTable } from '../output.js';

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

const SOURCE_TEXT: Readonly<Record<EnergyResponse['power']['source'], string>> = {
  meter: 'measured (power meter)',
  battery: 'measured (battery discharge)',
  model: 'modelled from CPU load',
  model_no_cpu: 'modelled (idle power, CPU load not known yet)',
};

function watts(w: number | null | undefined): string {
  return w === null || w === undefined ? '-' : `${w.toFixed(3)} W`;
}

export function formatEnergy(e: EnergyResponse, sw: SwarmEnergyResponse | null): string {
  const b = e.battery;
  const forecast =
    b === null
      ? '-'
      : b.time_to_empty_s !== null
        ? `empty in ${formatDuration(b.time_to_empty_s)}`
        : b.time_to_full_s !== null
          ? `full in ${formatDuration(b.time_to_full_s)}`
          : 'not enough data yet';
  const pairs: [string, string][] = [
    ['power', `${watts(e.power.watts)}, ${SOURCE_TEXT[e.power.source]}`],
    ['model power', watts(e.power.model_watts)],
    ['power state', e.state],
    ['cpu temperature', e.temperature_c === null ? 'no sensor' : `${e.temperature_c.toFixed(1)} °C`],
    ['energy', `${e.energy.watt_hours.toFixed(6)} Wh (${e.energy.joules.toFixed(2)} J)`],
    ['average / peak', `${watts(e.energy.average_watts)} / ${watts(e.energy.peak_watts)}`],
    [
      'carbon',
      `${e.carbon.grams.toFixed(4)} g CO2 at ${e.carbon.intensity_g_per_kwh} g/kWh (${e.carbon.band.replace('_', ' ')})`,
    ],
    [
      'efficiency',
      e.efficiency.score === null
        ? 'not rated yet'
        : `${e.efficiency.score.toFixed(3)} work/J, rating ${e.efficiency.rating ?? '-'}`,
    ],
    ['battery', b === null ? 'none' : `${b.percent === null ? '?' : Math.round(b.percent)}% ${b.status}`],
    ['forecast', forecast],
  ];
  if (e.alarms.length > 0) pairs.push(['alarms', e.alarms.join('; ')]);
  let out = formatPairs(pairs);
  if (sw !== null) {
    const rows = sw.members.map((m) => [
      `${m.self ? '*' : ' '}${m.name}`,
      m.status,
      m.device_class,
      watts(m.energy?.power_w),
      m.energy?.power_state ?? '-',
      m.energy?.battery_percent != null ? `${Math.round(m.energy.battery_percent)}%` : 'mains',
      m.energy?.rating ?? '-',
    ]);
    out += `\n${formatTable([' NAME', 'STATUS', 'CLASS', 'POWER', 'STATE', 'BATTERY', 'RATING'], rows)}`;
    const t = sw.totals;
    out += `swarm: ${watts(t.power_w)} from ${t.members_reporting}/${t.members} members reporting, ${t.on_battery} on battery, average rating ${t.average_rating ?? '-'}\n`;
  }
  return out;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Prometheus text exposition -> families; enough for what /metrics emits (no timestamps, no exemplars). */
export function parsePrometheus(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2] as string);
      if (meta[1] === 'HELP') f.help = meta[3] ?? '';
      else f.type = meta[3] ?? 'untyped';
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    // Histogram and summary series (_bucket, _sum, _count) belong to their base family.
    const base = [...families.keys()].find((k) => name === k || name.startsWith(`${k}_`)) ?? name;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    family(base).samples.push({ name, labels, value });
  }
  return [...families.values()].filter((f) => f.samples.length > 0);
}

export function formatMetrics(families: readonly MetricFamily[]): string {
  const rows: string[][] = [];
  for (const f of families) {
    // Buckets are noise in a terminal; _sum and _count say enough.
    for (const s of f.samples.filter((x) => !x.name.endsWith('_bucket'))) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      rows.push([
        s.name,
        labels || '-',
        f.type,
        String(Number.isInteger(s.value) ? s.value : +s.value.toPrecision(6)),
      ]);
    }
  }
  return formatTable(['METRIC', 'LABELS', 'TYPE', 'VALUE'], rows);
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

  swarm
    .command('dashboard')
    .description('live view of the swarm (q or Ctrl+C quits); one plain snapshot when stdout is not a TTY')
    .option('--interval <ms>', 'refresh period in milliseconds', '1000')
    .option('--data-dir <dir>', 'data dir of the node (default: node.data_dir)')
    .option('--api <url>', "a node's API URL instead of the local node's")
    .action(async (opts: { interval: string; dataDir?: string; api?: string }) => {
      const intervalMs = Number(opts.interval);
      if (!Number.isInteger(intervalMs) || intervalMs < 100)
        throw new SwarmError('usage', `--interval: not a whole number of ms >= 100: ${opts.interval}`, {
          exitCode: 2,
        });
      const client =
        opts.api === undefined
          ? localClient(ctx, opts.dataDir)
          : new SwarmClient({
              baseUrl: opts.api,
              token: loadConfig({ path: ctx.configPath(), env: ctx.env }).config.security.api_token,
              timeoutMs: Math.max(1000, intervalMs * 2),
            });
      // Lazy: ink and react load only for this command.
      const { runDashboard } = await import('../dashboard/run.js');
      await runDashboard({
        source: client,
        label: client.baseUrl,
        intervalMs,
        stdout: process.stdout,
        stdin: process.stdin,
        env: ctx.env,
      });
    });
  swarm
    .command('energy')
    .description("this node's power, energy, carbon and rating, and every member's power")
    .option('--data-dir <dir>', 'data dir of the node (default: node.data_dir)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const client = localClient(ctx, opts.dataDir);
      const [e, sw] = await Promise.all([client.energy(), client.energySwarm().catch(() => null)]);
      ctx.stdout.write(
        opts.json ? `${JSON.stringify({ node: e, swarm: sw }, null, 2)}\n` : formatEnergy(e, sw),
      );
    });

  swarm
    .command('metrics')
    .description("the node's counters and gauges (its Prometheus /metrics)")
    .option('--data-dir <dir>', 'data dir of the node (default: node.data_dir)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const client = localClient(ctx, opts.dataDir);
      const families = parsePrometheus(await client.metricsText());
      ctx.stdout.write(
        opts.json ? `${JSON.stringify({ metrics: families }, null, 2)}\n` : formatMetrics(families),
      );
    });
};
