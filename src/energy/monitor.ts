/**
 * EnergyMonitor: the object the node (and the simulator) drives once per
 * `collection_interval_ms` with `sample(now, readings)`. Pure: readings come
 * in as arguments (from the sensors, or from a simulated battery), time is
 * `now` in ms, and nothing is read or written outside the object.
 */
import type { EnergyConfig } from './config.js';
import { type BatteryForecast, BatteryForecaster, type ForecastBasis } from './forecast.js';
import {
  type CarbonBand,
  type PowerState,
  type Rating,
  type WorkCounters,
  JOULES_PER_WH,
  carbonBand,
  carbonGrams,
  isOnBattery,
  modelledPowerW,
  powerState,
  ratingFor,
  workUnits,
} from './model.js';
import { type ProtocolCounters, ZERO_PROTOCOL_COUNTERS, counterDelta, protocolJoules } from './protocol.js';
import type { DeviceClass } from './profiles.js';
import type { BatteryStatus } from './sensors/sysfs.js';
import type { EnergySummary } from './summary.js';

/** What the battery sensor (or a simulated battery) reports. `BatteryReading` fits. */
export interface BatteryInput {
  readonly percent: number | null;
  readonly status: BatteryStatus;
  /** Magnitude of the battery's power flow, W. */
  readonly powerW?: number | null;
  readonly energyNowWh?: number | null;
  readonly energyFullWh?: number | null;
}

/** One sample's inputs; anything unknown is null or absent, never guessed. */
export interface EnergyReadings {
  /** Whole-device CPU utilisation 0..1 (from `CpuSampler`). */
  readonly cpuUtilisation?: number | null;
  readonly temperatureC?: number | null;
  readonly battery?: BatteryInput | null;
  readonly mainsOnline?: boolean | null;
  /** An external power meter's reading, W; wins over everything. */
  readonly measuredPowerW?: number | null;
  /** Cumulative useful work since start. */
  readonly work?: WorkCounters | null;
  /** Cumulative protocol counters since start. */
  readonly protocol?: ProtocolCounters | null;
}

export type PowerSource = 'meter' | 'battery' | 'model' | 'model_no_cpu';

export interface EnergySnapshot {
  readonly at: number;
  readonly deviceClass: DeviceClass;
  readonly power: {
    readonly watts: number;
    /** meter/battery = measured; model = from CPU; model_no_cpu = idle power, CPU not known yet. */
    readonly source: PowerSource;
    readonly measured: boolean;
    /** The model's figure even when measured, to compare the two. */
    readonly modelWatts: number;
    readonly cpuUtilisation: number | null;
    readonly budgetWatts: number | null;
    readonly overBudget: boolean;
  };
  readonly state: PowerState;
  readonly temperatureC: number | null;
  readonly energy: {
    readonly joules: number;
    readonly wattHours: number;
    /** Energy over elapsed time since the first sample; null before two samples. */
    readonly averageWatts: number | null;
    /** Highest sampled power since start. */
    readonly peakWatts: number;
    readonly elapsedS: number;
    readonly samples: number;
  };
  readonly carbon: { readonly grams: number; readonly intensityGPerKwh: number; readonly band: CarbonBand };
  readonly efficiency: {
    /** Work units per joule over the efficiency window; null before any energy was spent or without work counters. */
    readonly score: number | null;
    readonly rating: Rating | null;
    readonly windowS: number;
    readonly windowWorkUnits: number;
    readonly windowJoules: number;
    readonly lifetimeScore: number | null;
  };
  readonly battery: {
    readonly percent: number | null;
    readonly status: BatteryStatus;
    readonly onBattery: boolean;
    readonly powerW: number | null;
    readonly timeToEmptyS: number | null;
    readonly timeToFullS: number | null;
    readonly forecastBasis: ForecastBasis | null;
  } | null;
  readonly mainsOnline: boolean | null;
  readonly protocol: {
    readonly packetsSentPerS: number;
    readonly packetsReceivedPerS: number;
    readonly bytesPerS: number;
    readonly fsyncsPerS: number;
    /** Estimated protocol power over the last interval, W. */
    readonly watts: number;
    /** Estimated protocol energy since start, J. */
    readonly joules: number;
    /** protocol joules / total joules since start, 0..1; null before energy was spent. */
    readonly share: number | null;
  };
  readonly alarms: readonly string[];
}

export interface HistoryPoint {
  readonly t: number;
  readonly watts: number;
  /** Cumulative energy at t, J. */
  readonly joules: number;
  /** Cumulative work units at t. */
  readonly work: number;
}

export class EnergyMonitor {
  private readonly history: HistoryPoint[] = [];
  private readonly forecaster: BatteryForecaster;
  private firstT: number | null = null;
  private lastT: number | null = null;
  private lastWatts = 0;
  private joules = 0;
  private peakWatts = 0;
  private work = 0;
  private lastWork: WorkCounters | null = null;
  private lastProtocol: ProtocolCounters = ZERO_PROTOCOL_COUNTERS;
  private protocolJ = 0;
  private last: EnergySnapshot | null = null;

  constructor(readonly config: EnergyConfig) {
    this.forecaster = new BatteryForecaster(config.forecastTauMs, config.profile.batteryWh);
  }

  sample(now: number, r: EnergyReadings): EnergySnapshot {
    const c = this.config;
    const cpu = finiteOrNull(r.cpuUtilisation);
    const battery = r.battery ?? null;
    const mainsOnline = r.mainsOnline ?? null;
    const onBattery = battery !== null && isOnBattery(battery.status, mainsOnline);

    const modelWatts = modelledPowerW(c.profile, cpu ?? 0);
    let watts = modelWatts;
    let source: PowerSource = cpu === null ? 'model_no_cpu' : 'model';
    const meter = finiteOrNull(r.measuredPowerW);
    const battW = finiteOrNull(battery?.powerW);
    if (meter !== null && meter >= 0) {
      watts = meter;
      source = 'meter';
    } else if (battery?.status === 'discharging' && battW !== null && battW > 0) {
      // Only while discharging is the battery's outflow the device's draw; charging power is not.
      watts = battW;
      source = 'battery';
    }

    // Time going backwards (a bad caller) must not create or destroy energy: integrate only forward steps.
    const dtS = this.lastT === null ? 0 : Math.max(0, now - this.lastT) / 1000;
    if (this.lastT !== null) this.joules += ((this.lastWatts + watts) / 2) * dtS;
    if (this.firstT === null) this.firstT = now;
    if (this.lastT === null || now >= this.lastT) this.lastT = now;
    this.lastWatts = watts;
    this.peakWatts = Math.max(this.peakWatts, watts);

    if (r.work) {
      const prev = this.lastWork;
      const d = (a: number | undefined, b: number): number => (a === undefined || b < a ? b : b - a);
      this.work += workUnits(
        {
          raftEntriesCommitted: d(prev?.raftEntriesCommitted, r.work.raftEntriesCommitted),
          kvOpsApplied: d(prev?.kvOpsApplied, r.work.kvOpsApplied),
          gossipEventsDelivered: d(prev?.gossipEventsDelivered, r.work.gossipEventsDelivered),
        },
        c.workWeights,
      );
      this.lastWork = r.work;
    }

    let protoDelta = ZERO_PROTOCOL_COUNTERS;
    if (r.protocol) {
      protoDelta = counterDelta(this.lastProtocol, r.protocol);
      this.lastProtocol = r.protocol;
      this.protocolJ += protocolJoules(protoDelta, c.protocolCosts);
    }

    this.history.push({ t: now, watts, joules: this.joules, work: this.work });
    while (this.history.length > c.historySize) this.history.shift();

    const windowStart = this.windowStart(now);
    const windowJ = this.joules - windowStart.joules;
    const windowWork = this.work - windowStart.work;
    // Without work counters the score is unknown, not zero: no rating is better than a made-up F.
    const counted = this.lastWork !== null;
    const score = counted && windowJ > 0 ? windowWork / windowJ : null;
    const lifetimeScore = counted && this.joules > 0 ? this.work / this.joules : null;

    const state = powerState({
      onBattery,
      batteryPercent: battery?.percent ?? null,
      cpuUtilisation: cpu,
      criticalThresholdPercent: c.criticalThresholdPercent,
      lowPowerThresholdPercent: c.lowPowerThresholdPercent,
      idleCpuThreshold: c.idleCpuThreshold,
    });

    const forecast: BatteryForecast = this.forecaster.update(now, battery);
    const overBudget = c.powerBudgetW !== null && watts > c.powerBudgetW;
    const alarms: string[] = [];
    if (overBudget) alarms.push(`power ${watts.toFixed(2)} W exceeds budget ${c.powerBudgetW} W`);
    if (state === 'critical')
      alarms.push(`battery critical: ${battery?.percent}% < ${c.criticalThresholdPercent}%`);
    else if (state === 'low_power')
      alarms.push(`battery low: ${battery?.percent}% < ${c.lowPowerThresholdPercent}%`);

    const elapsedS = (this.lastT - this.firstT) / 1000;
    const perS = (n: number): number => (dtS > 0 ? n / dtS : 0);
    const snap: EnergySnapshot = {
      at: now,
      deviceClass: c.deviceClass,
      power: {
        watts,
        source,
        measured: source === 'meter' || source === 'battery',
        modelWatts,
        cpuUtilisation: cpu,
        budgetWatts: c.powerBudgetW,
        overBudget,
      },
      state,
      temperatureC: finiteOrNull(r.temperatureC),
      energy: {
        joules: this.joules,
        wattHours: this.joules / JOULES_PER_WH,
        averageWatts: elapsedS > 0 ? this.joules / elapsedS : null,
        peakWatts: this.peakWatts,
        elapsedS,
        samples: this.history.length,
      },
      carbon: {
        grams: carbonGrams(this.joules, c.carbonIntensityGPerKwh),
        intensityGPerKwh: c.carbonIntensityGPerKwh,
        band: carbonBand(c.carbonIntensityGPerKwh),
      },
      efficiency: {
        score,
        // No work at all in the window: idle, not F (F is work done at a poor energy cost).
        rating: score === null ? null : windowWork === 0 ? 'idle' : ratingFor(score),
        windowS: (now - windowStart.t) / 1000,
        windowWorkUnits: windowWork,
        windowJoules: windowJ,
        lifetimeScore,
      },
      battery:
        battery === null
          ? null
          : {
              percent: battery.percent,
              status: battery.status,
              onBattery,
              powerW: battW,
              timeToEmptyS: forecast.timeToEmptyS,
              timeToFullS: forecast.timeToFullS,
              forecastBasis: forecast.basis,
            },
      mainsOnline,
      protocol: {
        packetsSentPerS: perS(protoDelta.packetsSent),
        packetsReceivedPerS: perS(protoDelta.packetsReceived),
        bytesPerS: perS(protoDelta.bytesSent + protoDelta.bytesReceived),
        fsyncsPerS: perS(protoDelta.fsyncs),
        watts: perS(protocolJoules(protoDelta, c.protocolCosts)),
        joules: this.protocolJ,
        share: this.joules > 0 ? Math.min(1, this.protocolJ / this.joules) : null,
      },
      alarms,
    };
    this.last = snap;
    return snap;
  }

  /** The last snapshot, or null before the first sample. */
  snapshot(): EnergySnapshot | null {
    return this.last;
  }

  /** The bounded power history, oldest first. */
  powerHistory(): readonly HistoryPoint[] {
    return this.history;
  }

  /** Compact summary for gossip metadata; null before the first sample. */
  summary(): EnergySummary | null {
    const s = this.last;
    if (s === null) return null;
    return {
      powerW: s.power.watts,
      batteryPercent: s.battery?.percent ?? null,
      powerState: s.state,
      rating: s.efficiency.rating,
      onBattery: s.battery?.onBattery ?? false,
      measured: s.power.measured,
    };
  }

  /**
   * The newest history point at least a window old, so the window is never
   * shorter than configured when samples are sparse; else the oldest point.
   */
  private windowStart(now: number): HistoryPoint {
    const from = now - this.config.efficiencyWindowMs;
    let start = this.history[0] as HistoryPoint;
    for (const p of this.history) {
      if (p.t > from) break;
      start = p;
    }
    return start;
  }
}

function finiteOrNull(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : x;
}
