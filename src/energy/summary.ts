/**
 * The energy summary that rides on gossip metadata: just enough for every
 * node to see the swarm's power (and for leadership to prefer mains-powered
 * voters). The wire form is a 5-integer array, 6 to 12 bytes in MessagePack,
 * so it fits beside the rest of a member's metadata in a 1,400-byte packet.
 */
import { type PowerState, type Rating, RATINGS } from './model.js';

export interface EnergySummary {
  readonly powerW: number;
  /** Integer percent, null without a battery sensor. */
  readonly batteryPercent: number | null;
  readonly powerState: PowerState;
  readonly rating: Rating | null;
  readonly onBattery: boolean;
  /** True when powerW was measured rather than modelled. */
  readonly measured: boolean;
}

/** [milliwatts, battery % or -1, power state index, rating index (RATINGS; 6 = idle) or -1, flags (1 onBattery, 2 measured)]. */
export type WireEnergySummary = readonly [number, number, number, number, number];

const STATES: readonly PowerState[] = ['active', 'idle', 'low_power', 'critical'];

export function toWireSummary(s: EnergySummary): WireEnergySummary {
  return [
    Math.max(0, Math.round(s.powerW * 1000)),
    s.batteryPercent === null ? -1 : Math.round(s.batteryPercent),
    STATES.indexOf(s.powerState),
    s.rating === null ? -1 : s.rating === 'idle' ? RATINGS.length : RATINGS.indexOf(s.rating),
    (s.onBattery ? 1 : 0) | (s.measured ? 2 : 0),
  ];
}

/** Decodes a peer's summary; anything malformed (a buggy or hostile peer) gives null. */
export function fromWireSummary(w: unknown): EnergySummary | null {
  if (!Array.isArray(w) || w.length !== 5 || !w.every((x) => Number.isInteger(x))) return null;
  const [mw, pct, st, rt, flags] = w as number[];
  const powerState = STATES[st as number];
  if (powerState === undefined || (mw as number) < 0 || (pct as number) < -1 || (pct as number) > 100)
    return null;
  if ((rt as number) < -1 || (rt as number) > RATINGS.length) return null;
  return {
    powerW: (mw as number) / 1000,
    batteryPercent: pct === -1 ? null : (pct as number),
    powerState,
    rating: rt === -1 ? null : rt === RATINGS.length ? 'idle' : (RATINGS[rt as number] as Rating),
    onBattery: ((flags as number) & 1) !== 0,
    measured: ((flags as number) & 2) !== 0,
  };
}

/** The energy fields of a gossip member's metadata (src/gossip/messages.ts MemberMeta). */
export interface EnergyMeta {
  readonly powerW?: number;
  /** Present only while running on battery: a member without it is mains-powered. */
  readonly battery?: number;
  readonly powerState?: string;
  readonly rating?: string;
}

/** Summary -> metadata fields; power rounded to mW and battery to whole percent to keep packets small. */
export function toEnergyMeta(s: EnergySummary): EnergyMeta {
  return {
    powerW: Math.round(s.powerW * 1000) / 1000,
    ...(s.onBattery && s.batteryPercent !== null ? { battery: Math.round(s.batteryPercent) } : {}),
    powerState: s.powerState,
    ...(s.rating === null ? {} : { rating: s.rating }),
  };
}

/** A peer's metadata -> summary; null when it carries no valid power figure. */
export function fromEnergyMeta(m: EnergyMeta | undefined): EnergySummary | null {
  if (m === undefined || typeof m.powerW !== 'number' || !Number.isFinite(m.powerW) || m.powerW < 0)
    return null;
  const powerState = STATES.find((x) => x === m.powerState) ?? 'idle';
  const rating = m.rating === 'idle' ? 'idle' : (RATINGS.find((x) => x === m.rating) ?? null);
  const battery =
    typeof m.battery === 'number' && Number.isFinite(m.battery) && m.battery >= 0 && m.battery <= 100
      ? m.battery
      : null;
  return {
    powerW: m.powerW,
    batteryPercent: battery,
    powerState,
    rating,
    onBattery: battery !== null,
    measured: false,
  };
}
