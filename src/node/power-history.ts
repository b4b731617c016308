/**
 * The last hour of every member's power, for the web dashboard's charts.
 * Kept in the node (not in the browser) so a page opened now shows the hour
 * before it; bounded in time (`windowMs`), resolution (one point per `stepMs`)
 * and members (`maxMembers`), so memory stays flat whatever the swarm does.
 * Sans-I/O: time comes in as `now`.
 */

/** One member's power at one time: [wall-clock ms, watts]. */
export type PowerPoint = readonly [number, number];

export interface PowerSeries {
  readonly id: string;
  readonly name: string;
  readonly points: readonly PowerPoint[];
}

export interface PowerReading {
  readonly id: string;
  readonly name: string;
  /** Null when the member advertises no power: nothing is recorded for it. */
  readonly watts: number | null;
}

export interface PowerHistoryOptions {
  windowMs: number;
  stepMs: number;
  maxMembers: number;
}

export const POWER_HISTORY_DEFAULTS: PowerHistoryOptions = {
  windowMs: 60 * 60 * 1000,
  stepMs: 30 * 1000,
  maxMembers: 256,
};

interface Series {
  name: string;
  points: PowerPoint[];
}

export class PowerHistory {
  readonly opts: PowerHistoryOptions;
  private readonly series = new Map<string, Series>();

  constructor(opts: Partial<PowerHistoryOptions> = {}) {
    this.opts = { ...POWER_HISTORY_DEFAULTS, ...opts };
  }

  /** Points per member at most: the window at one point per step, plus the one being replaced. */
  get maxPoints(): number {
    return Math.ceil(this.opts.windowMs / this.opts.stepMs) + 1;
  }

  /**
   * Record one reading per member. Within one step a newer reading replaces
   * the last point rather than adding one, so calling more often than
   * `stepMs` costs no memory.
   */
  record(now: number, readings: Iterable<PowerReading>): void {
    for (const r of readings) {
      if (r.watts === null || !Number.isFinite(r.watts)) continue;
      let s = this.series.get(r.id);
      if (s === undefined) {
        if (this.series.size >= this.opts.maxMembers) continue;
        s = { name: r.name, points: [] };
        this.series.set(r.id, s);
      }
      s.name = r.name;
      const w = Math.round(r.watts * 1000) / 1000;
      const last = s.points[s.points.length - 1];
      const prev = s.points[s.points.length - 2];
      // Keep the first point of a step and replace the latest one: a step holds at most two points.
      if (last !== undefined && prev !== undefined && now - prev[0] < this.opts.stepMs) s.points.pop();
      s.points.push([now, w]);
    }
    this.prune(now);
  }

  private prune(now: number): void {
    const oldest = now - this.opts.windowMs;
    for (const [id, s] of this.series) {
      let drop = 0;
      while (drop < s.points.length && (s.points[drop] as PowerPoint)[0] < oldest) drop++;
      if (drop > 0) s.points.splice(0, drop);
      if (s.points.length > this.maxPoints) s.points.splice(0, s.points.length - this.maxPoints);
      // A member silent for the whole window is forgotten, so departed members do not hold memory.
      if (s.points.length === 0) this.series.delete(id);
    }
  }

  /** Every member's points newer than `after` (ms), oldest first; members with none are left out. */
  since(after: number): PowerSeries[] {
    const out: PowerSeries[] = [];
    for (const [id, s] of this.series) {
      const points = s.points.filter((p) => p[0] > after);
      if (points.length > 0) out.push({ id, name: s.name, points });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  /** Number of points held, all members together (for tests of the bound). */
  size(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.points.length;
    return n;
  }
}
