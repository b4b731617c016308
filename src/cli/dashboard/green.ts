/**
 * `swarm swarm green`: the energy view. Pure model and layout, like the
 * dashboard's: polls of GET /v1/energy (this node), /v1/energy/swarm (every
 * member, totals) and /v1/members (the adaptive gossip mode and its reason).
 * This node's sparkline starts from the power history the node serves and
 * grows by one value per new energy sample; the swarm total's is built from
 * the samples this view has seen.
 */
import type { EnergyResponse, SwarmEnergyResponse } from '../../api/energy-types.js';
import type { MembersResponse } from '../../api/members-types.js';
import { NodeUnreachableError } from '../../client/errors.js';
import { forecastApplies } from '../../energy/forecast.js';
import { formatDuration } from '../output.js';
import { adaptiveText, padEnd, pushCapped, rangeSparkline, relativeTime } from './format.js';
import {
  fitScreen,
  ratingColor,
  statusColor,
  tableLines,
  titleLine,
  waitingLine,
  type Column,
  type LayoutOptions,
  type Line,
  type LinkState,
  type SegColor,
} from './lines.js';
import { shortError } from './model.js';

export const POWER_SOURCE_TEXT: Readonly<Record<EnergyResponse['power']['source'], string>> = {
  meter: 'measured (power meter)',
  battery: 'measured (battery discharge)',
  model: 'modelled from CPU load',
  model_no_cpu: 'modelled (idle power, CPU load not known yet)',
};

export function formatWatts(w: number | null | undefined): string {
  return w === null || w === undefined ? '-' : `${w.toFixed(3)} W`;
}

/** The battery forecast in words; null when none applies (no battery, or full on mains). */
export function forecastText(b: EnergyResponse['battery']): string | null {
  if (b === null || !forecastApplies(b)) return null;
  if (b.time_to_empty_s !== null) return `empty in ${formatDuration(b.time_to_empty_s)}`;
  if (b.time_to_full_s !== null) return `full in ${formatDuration(b.time_to_full_s)}`;
  return 'not enough data yet';
}

function withForecast(b: EnergyResponse['battery']): string {
  const f = forecastText(b);
  return f === null ? '' : `, ${f}`;
}

export interface GreenSample {
  at: number;
  energy: EnergyResponse | null;
  /** Why this node gave no energy figures while answering (e.g. `[energy] enabled = false`). */
  energyError: string | null;
  swarm: SwarmEnergyResponse | null;
  members: MembersResponse | null;
  /** Set when the node did not answer at all. */
  error: string | null;
}

export interface GreenModel extends LinkState {
  energy: EnergyResponse | null;
  energyError: string | null;
  swarm: SwarmEnergyResponse | null;
  members: MembersResponse | null;
  /** This node's power (W), oldest first, one value per energy sample seen. */
  power: number[];
  /** The swarm's total power (W), one value per energy sample seen. */
  swarmPower: number[];
}

export const GREEN_HISTORY = 120;

export function emptyGreenModel(): GreenModel {
  return {
    energy: null,
    energyError: null,
    swarm: null,
    members: null,
    power: [],
    swarmPower: [],
    lastOkAt: null,
    reconnecting: false,
    error: null,
  };
}

export function applyGreenPoll(prev: GreenModel, s: GreenSample, cap = GREEN_HISTORY): GreenModel {
  if (s.error !== null) return { ...prev, reconnecting: true, error: s.error };
  // The node samples power on its own period; polling faster must not repeat a sample in the history.
  const fresh = s.energy !== null && s.energy.at !== prev.energy?.at;
  return {
    energy: s.energy,
    energyError: s.energyError,
    // A failing swarm or members call alone keeps the last answer: the node itself answered.
    swarm: s.swarm ?? prev.swarm,
    members: s.members ?? prev.members,
    power:
      !fresh || !s.energy
        ? prev.power
        : prev.power.length === 0 && s.energy.power_history.length > 0
          ? // The node's own history fills the sparkline at once (it ends with this sample).
            s.energy.power_history.slice(-cap)
          : pushCapped(prev.power, s.energy.power.watts, cap),
    swarmPower: fresh && s.swarm ? pushCapped(prev.swarmPower, s.swarm.totals.power_w, cap) : prev.swarmPower,
    lastOkAt: s.at,
    reconnecting: false,
    error: null,
  };
}

export interface GreenSource {
  energy(): Promise<EnergyResponse>;
  energySwarm(): Promise<SwarmEnergyResponse>;
  members(): Promise<MembersResponse>;
}

export async function pollGreen(source: GreenSource, now: () => number): Promise<GreenSample> {
  const [e, sw, m] = await Promise.allSettled([source.energy(), source.energySwarm(), source.members()]);
  const at = now();
  const value = <T>(r: PromiseSettledResult<T>): T | null => (r.status === 'fulfilled' ? r.value : null);
  const unreachable = [e, sw, m].find(
    (r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof NodeUnreachableError,
  );
  if (unreachable !== undefined || [e, sw, m].every((r) => r.status === 'rejected')) {
    const first = unreachable ?? (e as PromiseRejectedResult);
    return {
      at,
      energy: null,
      energyError: null,
      swarm: null,
      members: null,
      error: shortError(first.reason),
    };
  }
  return {
    at,
    energy: value(e),
    energyError: e.status === 'rejected' ? shortError(e.reason) : null,
    swarm: value(sw),
    members: value(m),
    error: null,
  };
}

/**
 * Why the node is in its gossip mode: the cause that holds the mode now (which
 * may differ from the reason of the last change: a node gone conservative on a
 * quiet network stays conservative when its battery runs low, and then it is
 * the battery that holds it), else the last change's reason, else one derived
 * from the energy inputs the adaptive controller reads.
 */
export function adaptiveReason(m: MembersResponse | null, e: EnergyResponse | null): string {
  const a = m?.adaptive;
  if (a?.why !== undefined && a.why !== '') return `${a.mode}: ${a.why}`;
  const given = a?.reason ?? '';
  if (given !== '') return given;
  const b = e?.battery;
  if (b?.on_battery === true)
    return `on battery at ${b.percent === null ? '?' : Math.round(b.percent)}%${e?.alarms.length ? `; ${e.alarms.join('; ')}` : ''}`;
  if (e?.power.over_budget === true) return 'over the power budget';
  return e === null ? 'no energy figures' : 'on mains power';
}

type SwarmMember = SwarmEnergyResponse['members'][number];

/** The swarm energy view has no Raft roles; they come from the members poll, by id. */
function memberColumns(members: MembersResponse | null): Column<SwarmMember>[] {
  const roles = new Map((members?.members ?? []).map((x) => [x.id, x.raft_role]));
  return [
    { title: 'NAME', priority: 10, max: 24, cell: (m) => `${m.self ? '*' : ' '}${m.name}` },
    { title: 'STATUS', priority: 7, max: 7, cell: (m) => m.status, color: (m) => statusColor(m.status) },
    {
      title: 'ROLE',
      priority: 5,
      max: 10,
      cell: (m) => roles.get(m.id) ?? '-',
      color: (m) => (roles.get(m.id) === 'leader' ? 'cyan' : undefined),
    },
    { title: 'CLASS', priority: 3, max: 12, cell: (m) => m.device_class },
    { title: 'POWER', priority: 9, max: 10, cell: (m) => formatWatts(m.energy?.power_w) },
    { title: 'STATE', priority: 4, max: 12, cell: (m) => m.energy?.power_state ?? '-' },
    {
      title: 'BATTERY',
      priority: 6,
      max: 7,
      cell: (m) =>
        m.energy === null
          ? '-'
          : m.energy.battery_percent !== null
            ? `${Math.round(m.energy.battery_percent)}%`
            : 'mains',
    },
    {
      title: 'RATING',
      priority: 8,
      max: 6,
      cell: (m) => m.energy?.rating ?? '-',
      color: (m) => ratingColor(m.energy?.rating),
      bold: () => true,
    },
  ];
}

const label = (text: string): { text: string; bold: true } => ({ text: padEnd(text, 11), bold: true });

function modeColor(mode: string): SegColor | undefined {
  return mode === 'emergency' ? 'red' : mode === 'normal' ? undefined : 'yellow';
}

function nodeLines(model: GreenModel, e: EnergyResponse, sparkW: number, now: number): Line[] {
  const selfName =
    model.members?.members.find((x) => x.self)?.name ?? model.swarm?.members.find((x) => x.self)?.name;
  const b = e.battery;
  const power: Line = [
    label('Power'),
    { text: `${formatWatts(e.power.watts)}  `, bold: true },
    { text: padEnd(rangeSparkline(model.power, sparkW), sparkW), color: 'green' },
    { text: `  ${POWER_SOURCE_TEXT[e.power.source]}`, color: 'gray' },
  ];
  const budget =
    e.power.budget_watts === null
      ? ''
      : `; budget ${formatWatts(e.power.budget_watts)}${e.power.over_budget ? ' (over)' : ''}`;
  const out: Line[] = [
    [
      label('This node'),
      { text: `${selfName ?? '-'} (${e.device_class})` },
      { text: `   state ${e.state}` },
      {
        text: `   cpu ${e.power.cpu_utilisation === null ? '-' : `${Math.round(e.power.cpu_utilisation * 100)}%`}`,
      },
      { text: `   temp ${e.temperature_c === null ? 'no sensor' : `${e.temperature_c.toFixed(1)} °C`}` },
    ],
    power,
    [
      label(''),
      {
        text: `average ${formatWatts(e.energy.average_watts)}, peak ${formatWatts(e.energy.peak_watts)}${budget}`,
        color: e.power.over_budget ? 'red' : 'gray',
      },
    ],
    [
      label('Energy'),
      {
        text: `${e.energy.watt_hours.toFixed(6)} Wh (${e.energy.joules.toFixed(2)} J) in ${formatDuration(e.energy.elapsed_s)}`,
      },
    ],
    [
      label('Carbon'),
      {
        text: `${e.carbon.grams.toFixed(4)} g CO2 at ${e.carbon.intensity_g_per_kwh} g/kWh (${e.carbon.band.replace('_', ' ')})`,
      },
    ],
    e.efficiency.rating === null || e.efficiency.score === null
      ? [label('Rating'), { text: 'not rated yet (no work measured in the window)', color: 'gray' }]
      : [
          label('Rating'),
          { text: e.efficiency.rating, bold: true, color: ratingColor(e.efficiency.rating) },
          {
            text: `  score ${e.efficiency.score.toFixed(3)} work/J${
              e.efficiency.lifetime_score === null
                ? ''
                : ` (lifetime ${e.efficiency.lifetime_score.toFixed(3)})`
            }`,
          },
        ],
    [
      label('Battery'),
      b === null
        ? { text: e.mains_online === false ? 'none found' : 'none (mains power)' }
        : {
            text: `${b.percent === null ? '?' : Math.round(b.percent)}% ${b.status}${withForecast(b)}`,
            color: b.on_battery ? 'yellow' : undefined,
          },
    ],
  ];
  const a = model.members?.adaptive;
  out.push(
    a === undefined
      ? [label('Gossip'), { text: '-' }]
      : [
          label('Gossip'),
          { text: adaptiveText(a), color: modeColor(a.mode) },
          { text: a.changed_at === null ? '' : `  since ${relativeTime(a.changed_at, now)}`, color: 'gray' },
        ],
  );
  out.push([label('  why'), { text: adaptiveReason(model.members, e), color: 'gray' }]);
  const p = e.protocol;
  out.push([
    label('Protocol'),
    {
      text: `${p.packets_sent_per_s.toFixed(1)} pkt/s out, ${p.packets_received_per_s.toFixed(1)} pkt/s in, ${Math.round(
        p.bytes_per_s,
      )} B/s, ${formatWatts(p.watts)}${p.share === null ? '' : ` (${(p.share * 100).toFixed(1)}% of power)`}`,
    },
  ]);
  if (e.alarms.length > 0)
    out.push([label('Alarms'), { text: e.alarms.join('; '), color: 'red', bold: true }]);
  const missing = Object.entries(e.missing_sensors);
  if (missing.length > 0)
    out.push([
      label('No sensor'),
      { text: missing.map(([k, why]) => `${k} (${why})`).join('; '), color: 'gray' },
    ]);
  return out;
}

export function layoutGreen(model: GreenModel, o: LayoutOptions): Line[] {
  const width = Math.max(20, o.width);
  const lines: Line[] = [titleLine('Swarm green', model, o)];
  if (model.lastOkAt === null) return fitScreen([...lines, waitingLine(model)], o);
  const sparkW = Math.max(4, Math.min(30, width - 50));
  if (model.energy !== null) lines.push(...nodeLines(model, model.energy, sparkW, o.now));
  else
    lines.push([
      label('This node'),
      { text: `no energy figures: ${model.energyError ?? 'no answer'}`, color: 'yellow' },
    ]);
  lines.push([]);
  const sw = model.swarm;
  if (sw === null) {
    lines.push([label('Swarm'), { text: 'no swarm energy view (gossip not running?)', color: 'gray' }]);
    return fitScreen(lines, o);
  }
  const t = sw.totals;
  lines.push([
    label('Swarm'),
    { text: `${formatWatts(t.power_w)}  `, bold: true },
    { text: padEnd(rangeSparkline(model.swarmPower, sparkW), sparkW), color: 'green' },
    {
      text: `  ${t.members_reporting}/${t.members} reporting, ${t.on_battery} on battery, average rating `,
    },
    { text: t.average_rating ?? '-', bold: true, color: ratingColor(t.average_rating) },
  ]);
  lines.push([]);
  const room = o.height - lines.length - 1;
  lines.push(
    ...tableLines(memberColumns(model.members), sw.members, {
      width,
      now: o.now,
      room,
      empty: '(no members)',
    }),
  );
  return fitScreen(lines, o);
}
