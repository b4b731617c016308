/**
 * A simulated network: decides, for each message, whether and when it arrives.
 *
 * Faults are drawn from the run's RNG so a seed replays the same losses,
 * duplicates and delays. Reordering comes from jitter: two messages on one
 * link may overtake each other, as UDP datagrams and separate TCP connections do.
 */
import type { Rng } from '../common/rng.js';

export interface LinkModel {
  /** Fixed one-way delay, ms. */
  latencyMs: number;
  /** Extra uniform delay in [0, jitterMs], ms. */
  jitterMs: number;
  /** Probability a message is lost. */
  loss: number;
  /** Probability a delivered message is delivered twice. */
  duplicate: number;
  /**
   * Probability a message is held back much longer (a connection stalled and redialled, a queue
   * drained late), delayed by up to `straggleMs` more: old messages then arrive after newer terms.
   */
  straggle?: number;
  straggleMs?: number;
}

export const PERFECT_LINK: LinkModel = { latencyMs: 1, jitterMs: 0, loss: 0, duplicate: 0 };

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  partitioned: number;
  bytes: number;
}

export class SimNetwork<Id extends string | number = string> {
  private link: LinkModel;
  private readonly linkOverrides = new Map<string, LinkModel>();
  /** Partition: node -> group number; nodes in different groups cannot talk. Absent = group 0. */
  private groups = new Map<Id, number>();
  /** Explicitly cut directed links (from -> to), on top of the groups. */
  private readonly cut = new Set<string>();
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    partitioned: 0,
    bytes: 0,
  };

  constructor(
    private readonly rng: Rng,
    link: LinkModel = PERFECT_LINK,
  ) {
    this.link = link;
  }

  setLink(link: LinkModel): void {
    this.link = link;
  }

  setLinkBetween(from: Id, to: Id, link: LinkModel): void {
    this.linkOverrides.set(`${from}->${to}`, link);
  }

  /** Put each listed node into its group; every node not listed is in group 0. */
  partition(groups: readonly (readonly Id[])[]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.groups.set(id, i + 1)));
  }

  cutLink(from: Id, to: Id): void {
    this.cut.add(`${from}->${to}`);
  }

  heal(): void {
    this.groups = new Map();
    this.cut.clear();
  }

  canReach(from: Id, to: Id): boolean {
    if (from === to) return true;
    if ((this.groups.get(from) ?? 0) !== (this.groups.get(to) ?? 0)) return false;
    return !this.cut.has(`${from}->${to}`);
  }

  /**
   * Delivery times (relative delays, ms) for one message: [] when lost,
   * two entries when duplicated. Reachability is checked at send time;
   * drivers that want in-flight messages cut by a new partition re-check
   * `canReach` on arrival.
   */
  route(from: Id, to: Id, bytes = 0): number[] {
    this.stats.sent++;
    this.stats.bytes += bytes;
    if (!this.canReach(from, to)) {
      this.stats.partitioned++;
      return [];
    }
    const link = this.linkOverrides.get(`${from}->${to}`) ?? this.link;
    if (link.loss > 0 && this.rng.next() < link.loss) {
      this.stats.dropped++;
      return [];
    }
    const delay = (): number => {
      const d = link.latencyMs + (link.jitterMs > 0 ? this.rng.next() * link.jitterMs : 0);
      const s = link.straggle ?? 0;
      return s > 0 && this.rng.next() < s ? d + this.rng.next() * (link.straggleMs ?? 0) : d;
    };
    this.stats.delivered++;
    if (link.duplicate > 0 && this.rng.next() < link.duplicate) {
      this.stats.duplicated++;
      return [delay(), delay()];
    }
    return [delay()];
  }
}
