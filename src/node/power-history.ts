/**
 * The last hour of every member's power, for the web dashboard's charts.
 * Kept in the node (not in the browser) so a page opened now shows the hour
 * before it; bounded in time (`windowMs`), resolution (one point per `stepMs`)
 * and members (`maxMembers`), so memory stays flat whatever the swarm does.
 * Sans-I/O: time comes in as `now`.
 */
import { codeUnitCompare } from '../common/code-unit-compare.js';

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

/**
 * One member's points, oldest first, as [time, watts] pairs in a ring of doubles: 16 bytes a point.
 * Why not an array of [ms, W] tuples: each tuple is a JS array with its own double array, about 72
 * bytes a point, and a 25-member swarm's hour (121 points each) then held 254 KB of every node's
 * heap, against 50-60 KB here. The ring grows by doubling, so a new member costs what it holds.
 */
class Series {
  private buf = new Float64Array(16);
  private head = 0;
  length = 0;

  constructor(public name: string) {}

  private get capacity(): number {
    return this.buf.length / 2;
  }

  time(i: number): number {
    return this.buf[2 * ((this.head + i) % this.capacity)] as number;
  }

  watts(i: number): number {
    return this.buf[2 * ((this.head + i) % this.capacity) + 1] as number;
  }

  push(t: number, w: number): void {
    if (this.length === this.capacity) {
      const next = new Float64Array(this.buf.length * 2);
      for (let i = 0; i < this.length; i++) {
        next[2 * i] = this.time(i);
        next[2 * i + 1] = this.watts(i);
      }
      this.buf = next;
      this.head = 0;
    }
    const at = 2 * ((this.head + this.length) % this.capacity);
    this.buf[at] = t;
    this.buf[at + 1] = w;
    this.length++;
  }

  pop(): void {
    if (this.length > 0) this.length--;
  }

  /** Drop the `n` oldest points. */
  drop(n: number): void {
    const k = Math.min(n, this.length);
    this.head = (this.head + k) % this.capacity;
    this.length -= k;
  }
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
        s = new Series(r.name);
        this.series.set(r.id, s);
      }
      s.name = r.name;
      const w = Math.round(r.watts * 1000) / 1000;
      // Keep the first point of a step and replace the latest one: a step holds at most two points.
      if (s.length >= 2 && now - s.time(s.length - 2) < this.opts.stepMs) s.pop();
      s.push(now, w);
    }
    this.prune(now);
  }

  private prune(now: number): void {
    const oldest = now - this.opts.windowMs;
    for (const [id, s] of this.series) {
      let drop = 0;
      while (drop < s.length && s.time(drop) < oldest) drop++;
      s.drop(drop);
      if (s.length > this.maxPoints) s.drop(s.length - this.maxPoints);
      // A member silent for the whole window is forgotten, so departed members do not hold memory.
      if (s.length === 0) this.series.delete(id);
    }
  }

  /** Every member's points newer than `after` (ms), oldest first; members with none are left out. */
  since(after: number): PowerSeries[] {
    const out: PowerSeries[] = [];
    for (const [id, s] of this.series) {
      const points: PowerPoint[] = [];
      for (let i = 0; i < s.length; i++) if (s.time(i) > after) points.push([s.time(i), s.watts(i)]);
      if (points.length > 0) out.push({ id, name: s.name, points });
    }
    return out.sort((a, b) => codeUnitCompare(a.name, b.name) || codeUnitCompare(a.id, b.id));
  }

  /** Number of points held, all members together (for tests of the bound). */
  size(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.length;
    return n;
  }
}
