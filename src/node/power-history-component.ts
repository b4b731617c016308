/**
 * Feeds PowerHistory: one reading per member every `stepMs` (30 s, so an idle
 * node pays two wake-ups a minute), from gossip metadata (what each member
 * advertises) and, for this node, its own last energy sample (gossip carries
 * a smoothed figure that is republished only when it moved). The dashboard
 * stream also calls `sample()` while a page watches, so the newest point is current.
 */
import type { EnergySnapshot } from '../energy/monitor.js';
import type { GossipView } from './gossip-component.js';
import type { NodeComponent } from './node.js';
import {
  PowerHistory,
  type PowerHistoryOptions,
  type PowerReading,
  type PowerSeries,
} from './power-history.js';

export interface PowerHistorySources {
  gossip: { view(): GossipView };
  energy?: { snapshot(): EnergySnapshot | null };
  clock?: () => number;
}

export class PowerHistoryComponent implements NodeComponent {
  readonly name = 'power-history';
  readonly history: PowerHistory;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sources: PowerHistorySources,
    opts: Partial<PowerHistoryOptions> = {},
  ) {
    this.history = new PowerHistory(opts);
  }

  async start(): Promise<void> {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.history.opts.stepMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Record every member's current power now. */
  sample(): void {
    this.history.record((this.sources.clock ?? Date.now)(), this.readings());
  }

  since(after: number): PowerSeries[] {
    return this.history.since(after);
  }

  private readings(): PowerReading[] {
    let view: GossipView;
    try {
      view = this.sources.gossip.view();
    } catch {
      return []; // gossip not running (yet)
    }
    const own = this.sources.energy?.snapshot()?.power.watts ?? null;
    // A dead member's last advertised figure is not its power now: its chart stops where it died.
    const live = view.members.filter((m) => m.status === 'alive' || m.status === 'suspect');
    return live.map((m) => ({
      id: m.record.id,
      name: m.record.name,
      watts: m.self && own !== null ? own : (m.record.meta.powerW ?? null),
    }));
  }
}
