/**
 * EnergyComponent: the node's energy loop. Every `[energy] collection_interval_ms`
 * it reads the sensors (procfs/sysfs under an injectable root), counts the
 * work and protocol traffic the other components report, feeds the pure
 * `EnergyMonitor`, and advertises a compact summary in gossip metadata.
 *
 * Gossip metadata changes bump the incarnation and are disseminated to every
 * member, so the summary is republished only when it moved meaningfully
 * (src/energy/republish.ts: a state change at once, figures outside a
 * hysteresis band at most every 30 s), never on every sample. The adaptive
 * gossip controller reads its energy inputs from that same metadata
 * (GossipComponent.energyInputs), and is told at once when they change.
 *
 * The node's power mode (src/energy/power-mode.ts) stretches this loop's own
 * sampling interval (x2 low power, x4 emergency); `powerMode()` and
 * `onPowerMode()` expose it to other periodic jobs (the Raft loop).
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import {
  type EnergyMeta,
  type EnergySnapshot,
  type EnergySummary,
  type MetricSample,
  type ProtocolCounters,
  type SensorSnapshot,
  type VoterEnergy,
  type WorkCounters,
  EnergyMonitor,
  LEADERSHIP_DEFAULTS,
  LeadershipAdvisor,
  POWER_MODE_STRETCH,
  type PowerMode,
  REPUBLISH_DEFAULTS,
  SensorCollector,
  classifyChange,
  nextPowerMode,
  shouldRepublish,
  type SmoothedPower,
  smoothPower,
  electionTimeoutMultiplier,
  energyConfigFromSections,
  energyMetricSamples,
  fromEnergyMeta,
  toEnergyMeta,
} from '../energy/index.js';
import type { Chore } from './chores.js';
import type { GossipView, LocalMeta } from './gossip-component.js';
import { LazyRegistry, type PromClient } from './lazy-metrics.js';
import type { Logger } from './log.js';
import type { NodeComponent, SwarmNode } from './node.js';

/** What the energy loop needs from gossip: its counters, and a way to publish metadata. */
export interface EnergyGossipSource {
  view(): GossipView;
  setLocalMeta(partial: LocalMeta): void;
  /** When present, sampling rides gossip's wake-ups instead of a timer of its own (chores.ts). */
  addChore?(chore: Chore): () => void;
}

/** What the energy loop needs from Raft: commit/apply progress and its count of fsyncs. */
export interface EnergyRaftSource {
  info(): { readonly commit: number; readonly applied: number };
  /** Raft's TCP frames and bytes, counted with gossip's packets; absent in tests that do not care. */
  transportStats?(): { packetsIn: number; packetsOut: number; bytesIn: number; bytesOut: number } | null;
  readonly metrics: { readonly fsyncSeconds: { readonly count: number } };
}

/** What energy-aware leadership needs from Raft: the voter set, and the two levers. */
export interface EnergyLeadershipTarget {
  info(): {
    readonly self: string;
    readonly role: string;
    readonly term: number;
    readonly voters: readonly string[];
  };
  transferLeadershipTo(target: string): boolean;
  setElectionTimeoutScale(scale: number): void;
}

export interface EnergyComponentOptions {
  gossip?: EnergyGossipSource;
  raft?: EnergyRaftSource;
  /** Energy-aware leadership (usually the same Raft component as `raft`). */
  leadership?: EnergyLeadershipTarget;
  /** Root of the procfs/sysfs tree; default env SWARM_SYSFS_ROOT, else "/". Tests point it at a fixture. */
  sysfsRoot?: string;
  /** Wall-clock ms; injected for tests. */
  clock?: () => number;
}

/** Republish when power moved by at least this much AND by this fraction of the last published value. */
export const REPUBLISH_MIN_DELTA_W = REPUBLISH_DEFAULTS.minPowerDeltaW;
export const REPUBLISH_MIN_DELTA_RATIO = REPUBLISH_DEFAULTS.minPowerRatio;
/** Time constant of the published power figure's smoothing, ms (the figure interval). */
export const PUBLISH_SMOOTHING_MS = REPUBLISH_DEFAULTS.minIntervalMs;

export class EnergyComponent implements NodeComponent {
  readonly name = 'energy';
  /** Energy gauges and counters of the last sample (merged into /metrics). */
  readonly registry = new LazyRegistry((prom, registry) => this.defineMetrics(prom, registry));
  private readonly opts: EnergyComponentOptions;
  /** Every metric name sampled so far, in first-seen order, with the samples of the last round. */
  private readonly seenMetrics = new Map<string, MetricSample>();
  private lastSamples: readonly MetricSample[] = [];
  private readonly metrics = new Map<string, Gauge<string> | Counter<string>>();
  private monitor: EnergyMonitor | null = null;
  private collector: SensorCollector | null = null;
  private log: Logger | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Sampling as a chore on gossip's wake-ups: its removal, and when the next sample is due (performance.now). */
  private removeChore: (() => void) | null = null;
  private nextSampleAt = Infinity;
  private published: EnergyMeta | null = null;
  private publishedAt: number | null = null;
  /** Power smoothed over PUBLISH_SMOOTHING_MS: the figure peers see (a sample follows every CPU blip). */
  private smoothed: SmoothedPower | null = null;
  /** Summaries published to gossip since start (each one an incarnation bump). */
  private publishes = 0;
  private mode: PowerMode = 'normal';
  private baseIntervalMs = 1000;
  private intervalMs = 1000;
  private readonly modeListeners = new Set<(mode: PowerMode) => void>();
  private thresholds = { lowPowerThresholdPercent: 30, criticalThresholdPercent: 10, marginPercent: 5 };
  private lastSensors: SensorSnapshot | null = null;
  /** Counters at the first sample: work done before this process started (a restart) is not this run's. */
  private baseline: WorkCounters | null = null;
  private collecting = false;
  private advisor: LeadershipAdvisor | null = null;
  private electionScale = 1;
  private _enabled = false;

  constructor(opts: EnergyComponentOptions = {}) {
    this.opts = opts;
  }

  get enabled(): boolean {
    return this._enabled;
  }

  async start(node: SwarmNode): Promise<void> {
    const cfg = node.config;
    this.log = node.log.child('energy');
    this._enabled = cfg.energy.enabled;
    if (!this._enabled) return;
    this.monitor = new EnergyMonitor(
      energyConfigFromSections({ node: cfg.node, energy: cfg.energy, metrics: cfg.metrics }),
    );
    const root = this.opts.sysfsRoot ?? (process.env.SWARM_SYSFS_ROOT || '/');
    this.collector = new SensorCollector(root);
    this.advisor = new LeadershipAdvisor({
      ...LEADERSHIP_DEFAULTS,
      lowPowerThresholdPercent: cfg.energy.low_power_threshold_percent,
      criticalThresholdPercent: cfg.energy.critical_threshold_percent,
    });
    this.thresholds = {
      lowPowerThresholdPercent: cfg.energy.low_power_threshold_percent,
      criticalThresholdPercent: cfg.energy.critical_threshold_percent,
      marginPercent: 5,
    };
    this.baseIntervalMs = cfg.energy.collection_interval_ms;
    this.intervalMs = this.baseIntervalMs;
    // A first sample at once, so /v1/energy and the gossip summary exist as soon as the node is up.
    await this.collect();
    this.arm();
    this.log.info('energy monitor started', {
      root,
      interval_ms: cfg.energy.collection_interval_ms,
      device_class: cfg.node.device_class,
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.removeChore?.();
    this.removeChore = null;
    this._enabled = false;
  }

  /**
   * (Re)start sampling at the current mode's interval: as a chore on gossip's
   * wake-ups when gossip runs (up to half an interval late, so an idle node
   * wakes for gossip only), else on a timer of its own.
   */
  private arm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this._enabled) return;
    const gossip = this.opts.gossip;
    if (gossip?.addChore) {
      this.nextSampleAt = performance.now() + this.intervalMs;
      if (this.removeChore) return;
      this.removeChore = gossip.addChore({
        name: 'energy sample',
        due: () => this.nextSampleAt,
        // A whole interval: gossip wakes at least once per probe period, which the power modes
        // stretch as much as this interval, so a sample always rides a wake-up it shares.
        slackMs: () => this.intervalMs,
        run: (now) => {
          this.nextSampleAt = now + this.intervalMs;
          void this.collect();
        },
      });
      return;
    }
    this.timer = setInterval(() => void this.collect(), this.intervalMs);
  }

  /**
   * The node's power mode: 'normal', or 'low_power'/'emergency' while on a
   * low/critical battery (with hysteresis). Periodic jobs stretch by
   * POWER_MODE_STRETCH[mode]; this loop already does.
   */
  powerMode(): PowerMode {
    return this.mode;
  }

  /** Called on every power-mode change (not at subscription); returns the unsubscribe. */
  onPowerMode(listener: (mode: PowerMode) => void): () => void {
    this.modeListeners.add(listener);
    return () => this.modeListeners.delete(listener);
  }

  /** The sampling interval in force, ms (collection_interval_ms x the mode's stretch). */
  samplingIntervalMs(): number {
    return this.intervalMs;
  }

  /** Energy summaries published to gossip since start. */
  publishCount(): number {
    return this.publishes;
  }

  /** The last full snapshot; null when disabled or before the first sample. */
  /** Power (W) of the kept history, oldest first; empty before the first sample. */
  powerHistory(): number[] {
    return (this.monitor?.powerHistory() ?? []).map((p) => p.watts);
  }

  snapshot(): EnergySnapshot | null {
    return this.monitor?.snapshot() ?? null;
  }

  summary(): EnergySummary | null {
    return this.monitor?.summary() ?? null;
  }

  /** Raw sensor readings of the last sample (what was actually found under the root). */
  sensors(): SensorSnapshot | null {
    return this.lastSensors;
  }

  /** One collection step; public so tests can drive it without waiting for the timer. */
  async collect(): Promise<EnergySnapshot | null> {
    const monitor = this.monitor;
    const collector = this.collector;
    if (!monitor || !collector || this.collecting) return this.snapshot();
    this.collecting = true;
    try {
      const fsyncs = this.opts.raft?.metrics.fsyncSeconds.count ?? 0;
      const c = collector.collect({ work: this.work(), protocol: this.protocol(fsyncs) });
      this.lastSensors = c.snapshot;
      const snap = monitor.sample((this.opts.clock ?? Date.now)(), c.readings);
      this.keepSamples(energyMetricSamples(snap));
      this.publish((this.opts.clock ?? Date.now)());
      this.updateMode();
      this.actOnLeadership((this.opts.clock ?? Date.now)());
      return snap;
    } catch (err) {
      // A sensor that vanished or a half-written sysfs file must not take the node down.
      this.log?.warn('energy sample failed', { error: (err as Error).message });
      return this.snapshot();
    } finally {
      this.collecting = false;
    }
  }

  private work(): WorkCounters | null {
    const raft = this.opts.raft;
    const gossip = this.opts.gossip;
    if (!raft && !gossip) return null;
    let committed = 0;
    let applied = 0;
    let events = 0;
    try {
      if (raft) {
        const i = raft.info();
        committed = i.commit;
        applied = i.applied;
      }
    } catch {
      // Raft not running (yet): no work counted from it.
    }
    try {
      if (gossip) events = gossip.view().core.eventsDelivered;
    } catch {
      // Gossip not running: no events.
    }
    const now: WorkCounters = {
      raftEntriesCommitted: committed,
      kvOpsApplied: applied,
      gossipEventsDelivered: events,
    };
    this.baseline ??= now;
    const b = this.baseline;
    return {
      raftEntriesCommitted: Math.max(0, now.raftEntriesCommitted - b.raftEntriesCommitted),
      kvOpsApplied: Math.max(0, now.kvOpsApplied - b.kvOpsApplied),
      gossipEventsDelivered: Math.max(0, now.gossipEventsDelivered - b.gossipEventsDelivered),
    };
  }

  /** Gossip UDP traffic plus Raft fsyncs; Raft's TCP traffic is not exposed by its component, so not counted. */
  private protocol(fsyncs: number): ProtocolCounters | null {
    let t: GossipView['transport'] | null = null;
    try {
      t = this.opts.gossip?.view().transport ?? null;
    } catch {
      t = null;
    }
    if (t === null && this.opts.raft === undefined) return null;
    const r = this.opts.raft?.transportStats?.() ?? null;
    return {
      packetsSent: (t?.packetsOut ?? 0) + (r?.packetsOut ?? 0),
      packetsReceived: (t?.packetsIn ?? 0) + (r?.packetsIn ?? 0),
      bytesSent: (t?.bytesOut ?? 0) + (r?.bytesOut ?? 0),
      bytesReceived: (t?.bytesIn ?? 0) + (r?.bytesIn ?? 0),
      fsyncs,
    };
  }

  /**
   * Energy-aware leadership: stretch this node's election timeout by its power
   * (battery nodes stand later), and, while leading, hand over to the
   * best-powered live voter when the advisor says so (with its hysteresis).
   */
  private actOnLeadership(now: number): void {
    const target = this.opts.leadership;
    const advisor = this.advisor;
    const self = this.monitor?.summary() ?? null;
    if (!target || !advisor) return;
    // Every sample, leading or not: a follower's class change makes its view stale too, and it may lead soon.
    advisor.observe(now, self);
    let info: ReturnType<EnergyLeadershipTarget['info']>;
    try {
      info = target.info();
    } catch {
      return; // Raft not running yet.
    }
    const scale = electionTimeoutMultiplier(self, advisor.config);
    if (scale !== this.electionScale) {
      this.electionScale = scale;
      target.setElectionTimeoutScale(scale);
    }
    if (info.role !== 'leader') return;
    const members = new Map((this.opts.gossip?.view().members ?? []).map((m) => [m.record.id, m]));
    const voters: VoterEnergy[] = [];
    for (const id of info.voters) {
      const m = members.get(id);
      if (id === info.self || m === undefined || m.status !== 'alive') continue;
      voters.push({ id, summary: fromEnergyMeta(m.record.meta) });
    }
    const advice = advisor.check(now, self, voters, info.term);
    if (advice === null) return;
    const ok = target.transferLeadershipTo(advice.target);
    this.log?.info('energy-aware leadership transfer', {
      to: advice.target,
      reason: advice.reason,
      started: ok,
    });
  }

  private updateMode(): void {
    const next = nextPowerMode(this.mode, this.monitor?.summary() ?? null, this.thresholds);
    if (next === this.mode) return;
    const from = this.mode;
    this.mode = next;
    this.intervalMs = this.baseIntervalMs * POWER_MODE_STRETCH[next];
    this.arm();
    this.log?.info('power mode', { from, to: next, sampling_interval_ms: this.intervalMs });
    for (const l of this.modeListeners) {
      try {
        l(next);
      } catch (err) {
        this.log?.error('power mode listener failed', { error: (err as Error).message });
      }
    }
  }

  private publish(now: number): void {
    const gossip = this.opts.gossip;
    const s = this.monitor?.summary();
    if (!gossip || !s) return;
    // Before the first CPU delta the figure is the idle floor, not a measurement: do not let it weigh.
    const guess = this.monitor?.snapshot()?.power.source === 'model_no_cpu';
    this.smoothed = guess ? null : smoothPower(this.smoothed, s.powerW, now, PUBLISH_SMOOTHING_MS);
    const watts = this.smoothed?.watts ?? s.powerW;
    const next = toEnergyMeta({ ...s, powerW: watts });
    if (!shouldRepublish(this.published, this.publishedAt, next, now)) return;
    try {
      // battery: undefined clears a figure published while on battery (metadata is merged, not replaced).
      gossip.setLocalMeta({ battery: undefined, rating: undefined, ...next });
      this.published = next;
      this.publishedAt = now;
      this.publishes++;
    } catch (err) {
      this.log?.warn('energy summary not published', { error: (err as Error).message });
    }
  }

  /** prom-client waits for a scrape: a sample round only keeps its figures. */
  private keepSamples(samples: readonly MetricSample[]): void {
    for (const x of samples) if (!this.seenMetrics.has(x.name)) this.seenMetrics.set(x.name, x);
    this.lastSamples = samples;
  }

  /**
   * Samples -> prom-client metrics, at scrape time. Every name ever sampled has
   * its metric (created in first-seen order); one whose reading is absent this
   * round (battery unplugged) is taken out of the registry, so it is omitted
   * rather than exported as 0 (prom-client's reset() sets a label-less gauge
   * to 0), and is registered again when the reading returns. A counter
   * is reset and re-incremented to the monitor's cumulative total, which keeps
   * its TYPE line honest.
   */
  private defineMetrics(prom: PromClient, registry: Registry): void {
    const present = new Set(this.lastSamples.map((s) => s.name));
    for (const s of this.seenMetrics.values()) {
      if (this.metrics.has(s.name) || !present.has(s.name)) continue;
      const def = {
        name: s.name,
        help: s.help,
        labelNames: s.labels ? Object.keys(s.labels) : [],
        registers: [registry],
      };
      this.metrics.set(s.name, s.type === 'counter' ? new prom.Counter(def) : new prom.Gauge(def));
    }
    const seen = new Set<string>();
    for (const s of this.lastSamples) {
      const m = this.metrics.get(s.name);
      if (!m) continue;
      if (!seen.has(s.name)) {
        m.reset();
        seen.add(s.name);
      }
      const labels = s.labels ?? {};
      if (m instanceof prom.Counter) m.inc(labels, Math.max(0, s.value));
      else m.set(labels, s.value);
    }
    for (const name of [...this.metrics.keys()]) {
      if (seen.has(name)) continue;
      registry.removeSingleMetric(name);
      this.metrics.delete(name);
    }
  }
}

/**
 * Whether a new summary differs enough from the published one to be worth an
 * incarnation bump (a state change, or figures outside the hysteresis band);
 * the component also rate-limits figure changes (src/energy/republish.ts).
 */
export function changedMeaningfully(prev: EnergyMeta | null, next: EnergyMeta): boolean {
  return classifyChange(prev, next) !== 'none';
}
