/**
 * When a node's energy summary is worth republishing in gossip metadata.
 *
 * Every republish bumps the member's incarnation and is disseminated to every
 * member (and its full record then rides along in gossip packets), so on an
 * idle swarm the summary must stay put while the figures only jitter. Two
 * kinds of change:
 *
 * - a state change (first publish, battery critical or low entered or left,
 *   mains <-> battery) goes out at once: peers and the adaptive controller act
 *   on it;
 * - a figure change (power, battery percent, idle <-> active, rating by 2
 *   grades or to/from idle) goes out
 *   only when it is outside the hysteresis band AND at least `minIntervalMs`
 *   after the previous publish. A figure that wandered out and back within the
 *   interval is never published.
 *
 * Pure: time is an argument.
 */
import { RATINGS, type Rating } from './model.js';
import type { EnergyMeta } from './summary.js';

export interface RepublishPolicy {
  /** Power must move by at least this fraction of the published figure... */
  readonly minPowerRatio: number;
  /** ...and by at least this many watts. */
  readonly minPowerDeltaW: number;
  /** Battery percentage points that count as a figure change. */
  readonly minBatteryDelta: number;
  /** Figure changes go out at most this often (never more often than the probe period). */
  readonly minIntervalMs: number;
  /** Grades a rating must move by (A+ -> A is one); to or from idle or unrated always counts. */
  readonly minRatingGrades: number;
}

export const REPUBLISH_DEFAULTS: RepublishPolicy = {
  minPowerRatio: 0.2,
  minPowerDeltaW: 0.2,
  minBatteryDelta: 2,
  // One republish costs the swarm about N x retransmits x record bytes (25 nodes: 25 x 8 x ~200 B =
  // 40 KB), whoever publishes, so each node's figure republishes cost every member N times what
  // they cost the publisher: at 30 s, 25 nodes re-announcing once each (a rating going to idle after
  // formation, CPU jitter on a shared board) cost ~1,300 B/s per node, ten times the probes. Peers
  // act on states (published at once); figures are for ranking and display, where minutes are fine.
  minIntervalMs: 600_000,
  // Peers only compare ratings 2 grades apart (energy-aware leadership), and after a burst of work
  // the rating decays one grade at a time as the efficiency window slides.
  minRatingGrades: 2,
};

function ratingMoved(a: string | undefined, b: string | undefined, minGrades: number): boolean {
  if (a === b) return false;
  const ia = RATINGS.indexOf(a as Rating);
  const ib = RATINGS.indexOf(b as Rating);
  if (ia < 0 || ib < 0) return true;
  return Math.abs(ia - ib) >= minGrades;
}

export type RepublishDecision = 'now' | 'figures' | 'none';

/** Energy levels peers act on: crossing one is a state change, idle <-> active is only a figure. */
function level(m: EnergyMeta): string {
  const onBattery = m.battery !== undefined;
  const s = m.powerState === 'critical' || m.powerState === 'low_power' ? m.powerState : 'ok';
  return `${onBattery ? 'battery' : 'mains'}/${s}`;
}

/** What kind of change `next` is against the last published summary (null: nothing published yet). */
export function classifyChange(
  prev: EnergyMeta | null,
  next: EnergyMeta,
  p: RepublishPolicy = REPUBLISH_DEFAULTS,
): RepublishDecision {
  if (prev === null) return 'now';
  if (level(prev) !== level(next)) return 'now';
  // A node's first rating goes out at once: until then every peer's view (and the swarm's average)
  // shows it unrated. It happens once per life, a few seconds after start.
  if (prev.rating === undefined && next.rating !== undefined) return 'now';
  if (prev.powerState !== next.powerState) return 'figures';
  if (ratingMoved(prev.rating, next.rating, p.minRatingGrades)) return 'figures';
  if (prev.battery !== undefined && next.battery !== undefined) {
    if (Math.abs(next.battery - prev.battery) >= p.minBatteryDelta) return 'figures';
  }
  const a = prev.powerW ?? 0;
  const b = next.powerW ?? 0;
  const d = Math.abs(b - a);
  if (d >= p.minPowerDeltaW && d >= p.minPowerRatio * a) return 'figures';
  return 'none';
}

/**
 * Whether to publish `next` at `now`, given what was published last and when
 * (`publishedAt`, ms; null before the first publish).
 */
export function shouldRepublish(
  prev: EnergyMeta | null,
  publishedAt: number | null,
  next: EnergyMeta,
  now: number,
  p: RepublishPolicy = REPUBLISH_DEFAULTS,
): boolean {
  const kind = classifyChange(prev, next, p);
  if (kind === 'now') return true;
  if (kind === 'none') return false;
  return publishedAt === null || now - publishedAt >= p.minIntervalMs;
}

/** A smoothed power figure and when it was last updated. */
export interface SmoothedPower {
  readonly watts: number;
  readonly at: number;
}

/**
 * Time-aware EWMA (alpha = 1 - exp(-dt / tau)) of the sampled power, the
 * figure peers see. On mains the modelled power follows the whole device's
 * CPU, which on a busy board moves by more than the republish band from one
 * second to the next; peers want the node's typical draw, not its last second.
 */
export function smoothPower(
  prev: SmoothedPower | null,
  watts: number,
  now: number,
  tauMs: number,
): SmoothedPower {
  if (prev === null) return { watts, at: now };
  if (now <= prev.at) return prev;
  const alpha = 1 - Math.exp(-(now - prev.at) / tauMs);
  return { watts: prev.watts + alpha * (watts - prev.watts), at: now };
}
