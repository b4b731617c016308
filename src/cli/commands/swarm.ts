/**
 * `swarm swarm status | energy | metrics | dashboard | green`: the swarm as the
 * local node sees it. Like `node status`, the CLI holds no state: it finds the
 * running node through its data dir (or takes `--api URL`) and asks its API.
 * The live views (dashboard, green, status --watch) import ink lazily.
 */
import type { Command } from 'commander';
import type { EnergyResponse, SwarmEnergyResponse } from '../../api/energy-types.js';
import { SwarmError } from '../../common/errors.js';
import { SwarmClient } from '../../client/client.js';
import { inspectDataDir } from '../../node/datadir.js';
import type { CliContext, Registrar } from '../context.js';
import { NoNodeRunningError } from '../daemon.js';
import { forecastText, formatWatts, POWER_SOURCE_TEXT } from '../dashboard/green.js';
import type { RunOptions as LiveRunOptions } from '../dashboard/run.js';
import { formatSwarmStatus } from '../dashboard/status.js';
import { formatPairs, formatTable } from '../output.js';

interface StatusOptions {
  dataDir?: string;
  api?: string;
  json?: boolean;
  watch?: string | boolean;
}

interface LiveCommandOptions {
  interval: string;
  dataDir?: string;
  api?: string;
}

/** A client for the node running on this config/data dir, or a one-line error. */
export async function localClient(
  ctx: CliContext,
  dataDirFlag: string | undefined,
  timeoutMs?: number,
): Promise<SwarmClient> {
  const { loadCliConfigRemembered } = await import('../config-access.js');
  const { config } = loadCliConfigRemembered(ctx, dataDirFlag);
  const dataDir = config.node.data_dir;
  const found = inspectDataDir(dataDir);
  if (found.state === 'none') throw new NoNodeRunningError(dataDir);
  if (found.state === 'stale') throw new NoNodeRunningError(dataDir, found.pid);
  if (!found.runtime?.api_url)
    throw new SwarmError('starting', `node PID ${found.ref.pid} in ${dataDir} is still starting; try again`);
  return new SwarmClient({ baseUrl: found.runtime.api_url, token: config.security.api_token, timeoutMs });
}

/** The options every command that talks to a node takes (see withNodeOptions). */
export interface NodeOptions {
  dataDir?: string;
  api?: string;
  json?: boolean;
}

export function withNodeOptions(cmd: Command, jsonHelp = 'machine-readable output'): Command {
  return cmd
    .option('--data-dir <dir>', 'data dir of the local node (default: node.data_dir)')
    .option('--api <url>', 'API URL of any node instead of the local one, e.g. http://127.0.0.1:5557')
    .option('--json', jsonHelp);
}

/**
 * The client of `--api URL` (token from the config), else of the local node
 * (`--data-dir`). `remember` loads the config as the fast path's commands do,
 * so a later fast `kv get --api` finds the token (config-access.ts).
 */
export async function clientFor(
  ctx: CliContext,
  o: { api?: string; dataDir?: string },
  timeoutMs?: number,
  remember = false,
): Promise<SwarmClient> {
  if (o.api === undefined) return localClient(ctx, o.dataDir, timeoutMs);
  const access = await import('../config-access.js');
  const { config } = remember ? access.loadCliConfigRemembered(ctx, undefined) : access.loadCliConfig(ctx);
  return new SwarmClient({ baseUrl: o.api, token: config.security.api_token, timeoutMs });
}

/** The local node's client, or one for `--api URL`; a live view's calls time out before two periods pass. */
function nodeClient(
  ctx: CliContext,
  opts: { dataDir?: string; api?: string },
  intervalMs?: number,
): Promise<SwarmClient> {
  return clientFor(ctx, opts, intervalMs === undefined ? undefined : Math.max(1000, intervalMs * 2));
}

function parseInterval(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 100)
    throw new SwarmError('usage', `--interval: not a whole number of ms >= 100: ${text}`, { exitCode: 2 });
  return ms;
}

function liveOptions(ctx: CliContext, client: SwarmClient, intervalMs: number): LiveRunOptions {
  return {
    source: client,
    label: client.baseUrl,
    intervalMs,
    stdout: process.stdout,
    stdin: process.stdin,
    env: ctx.env,
  };
}

/** `--watch --json`: one JSON document per period, for scripts; no terminal handling. */
async function watchJson(client: SwarmClient, intervalMs: number, out: NodeJS.WritableStream): Promise<void> {
  let stop = false;
  const onSigint = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSigint);
  try {
    while (!stop) {
      const [m, st] = await Promise.all([client.members(), client.status()]);
      out.write(`${JSON.stringify({ status: st, ...m }, null, 2)}\n`);
      const until = Date.now() + intervalMs;
      while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function formatEnergy(e: EnergyResponse, sw: SwarmEnergyResponse | null): string {
  const b = e.battery;
  const pairs: [string, string][] = [
    ['power', `${formatWatts(e.power.watts)}, ${POWER_SOURCE_TEXT[e.power.source]}`],
    ['model power', formatWatts(e.power.model_watts)],
    ['power state', e.state],
    ['cpu temperature', e.temperature_c === null ? 'no sensor' : `${e.temperature_c.toFixed(1)} °C`],
    ['energy', `${e.energy.watt_hours.toFixed(6)} Wh (${e.energy.joules.toFixed(2)} J)`],
    ['average / peak', `${formatWatts(e.energy.average_watts)} / ${formatWatts(e.energy.peak_watts)}`],
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
  ];
  const forecast = forecastText(b);
  if (forecast !== null) pairs.push(['forecast', forecast]);
  if (e.alarms.length > 0) pairs.push(['alarms', e.alarms.join('; ')]);
  let out = formatPairs(pairs);
  if (sw !== null) {
    const rows = sw.members.map((m) => [
      `${m.self ? '*' : ' '}${m.name}`,
      m.status,
      m.device_class,
      formatWatts(m.energy?.power_w),
      m.energy?.power_state ?? '-',
      m.energy?.battery_percent != null ? `${Math.round(m.energy.battery_percent)}%` : 'mains',
      m.energy?.rating ?? '-',
    ]);
    out += `\n${formatTable([' NAME', 'STATUS', 'CLASS', 'POWER', 'STATE', 'BATTERY', 'RATING'], rows)}`;
    const t = sw.totals;
    out += `swarm: ${formatWatts(t.power_w)} from ${t.members_reporting}/${t.members} members reporting, ${t.on_battery} on battery, average rating ${t.average_rating ?? '-'}\n`;
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
    .option('--api <url>', "a node's API URL instead of the local node's")
    .option('--json', 'machine-readable output')
    .option('--watch [seconds]', 'redraw in place every few seconds (default 1) until q or Ctrl+C')
    .action(async (opts: StatusOptions) => {
      if (opts.watch === undefined || opts.watch === false) {
        const client = await nodeClient(ctx, opts);
        const [m, st] = await Promise.all([client.members(), client.status()]);
        ctx.stdout.write(
          opts.json ? `${JSON.stringify({ status: st, ...m }, null, 2)}\n` : formatSwarmStatus(m, st),
        );
        return;
      }
      const periodS = opts.watch === true ? 1 : Number(opts.watch);
      if (!Number.isFinite(periodS) || periodS < 0.1)
        throw new SwarmError('usage', `--watch: not a number of seconds >= 0.1: ${String(opts.watch)}`, {
          exitCode: 2,
        });
      const intervalMs = Math.round(periodS * 1000);
      const client = await nodeClient(ctx, opts, intervalMs);
      if (opts.json) {
        await watchJson(client, intervalMs, ctx.stdout);
        return;
      }
      if (!process.stdout.isTTY)
        ctx.stderr.write(
          `stdout is not a terminal: a plain table every ${periodS}s until Ctrl+C (--json for machine-readable output)\n`,
        );
      // Lazy: ink and react load only for the live views.
      const { runStatusWatch } = await import('../dashboard/run.js');
      await runStatusWatch(liveOptions(ctx, client, intervalMs));
    });

  const liveViews = [
    {
      name: 'dashboard',
      description: 'live view of the swarm (q or Ctrl+C quits); one plain snapshot when stdout is not a TTY',
      run: 'runDashboard',
    },
    {
      name: 'green',
      description:
        "live energy view: this node's power, energy, carbon, rating, battery and gossip mode, every member's power (q quits)",
      run: 'runGreen',
    },
  ] as const;
  for (const view of liveViews)
    swarm
      .command(view.name)
      .description(view.description)
      .option('--interval <ms>', 'refresh period in milliseconds', '1000')
      .option('--data-dir <dir>', 'data dir of the node (default: node.data_dir)')
      .option('--api <url>', "a node's API URL instead of the local node's")
      .action(async (opts: LiveCommandOptions) => {
        const intervalMs = parseInterval(opts.interval);
        const client = await nodeClient(ctx, opts, intervalMs);
        // Lazy: ink and react load only for the live views.
        const run = (await import('../dashboard/run.js'))[view.run];
        await run(liveOptions(ctx, client, intervalMs));
      });

  swarm
    .command('energy')
    .description("this node's power, energy, carbon and rating, and every member's power")
    .option('--data-dir <dir>', 'data dir of the node (default: node.data_dir)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const client = await localClient(ctx, opts.dataDir);
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
      const client = await localClient(ctx, opts.dataDir);
      const families = parsePrometheus(await client.metricsText());
      ctx.stdout.write(
        opts.json ? `${JSON.stringify({ metrics: families }, null, 2)}\n` : formatMetrics(families),
      );
    });
};
