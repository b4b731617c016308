/**
 * Feeds PowerHistory: one reading per member every `stepMs` (30 s, so an idle
 * node pays two wake-ups a minute), from gossip metadata (what each member
 * advertises) and, for this node, its own last energy sample (gossip carries
 * a smoothed figure that is republished only when it moved). The dashboard
 * stream also calls `sample()` while a page watches, so the newest point is current.
 */
import type { EnergySnapshot } from '../energy/monitor.js';
import type { Chore } from './chores.js';
import type { GossipView } from './gossip-component.js';
import type { NodeComponent } from './node.js';
import {
  PowerHistory,
  type PowerHistoryOptions,
  type PowerReading,
  type PowerSeries,
} from './power-history.js';

export interface PowerHistorySources {
  /** With addChore, sampling rides gossip's wake-ups instead of a timer of its own (chores.ts). */
  gossip: { view(): GossipView; addChore?(chore: Chore): () => void };
  energy?: { snapshot(): EnergySnapshot | null };
  clock?: () => number;
}

export class PowerHistoryComponent implements NodeComponent {
  readonly name = 'power-history';
  readonly history: PowerHistory;
  private timer: NodeJS.Timeout | null = null;
  private removeChore: (() => void) | null = null;

  constructor(
    private readonly sources: PowerHistorySources,
    opts: Partial<PowerHistoryOptions> = {},
  ) {
    this.history = new PowerHistory(opts);
  }

  async start(): Promise<void> {
    this.sample();
    const step = this.history.opts.stepMs;
    const addChore = this.sources.gossip.addChore;
    if (addChore) {
      let nextAt = performance.now() + step;
      // Half a step late at most: a chart point a few seconds off costs nothing, a wake-up does.
      this.removeChore = addChore.call(this.sources.gossip, {
        name: 'power history',
        due: () => nextAt,
        slackMs: () => step / 2,
        run: (now) => {
          nextAt = now + step;
          this.sample();
        },
      });
      return;
    }
    this.timer = setInterval(() => this.sample(), step);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.removeChore?.();
    this.removeChore = null;
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
