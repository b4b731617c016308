/**
 * Battery forecast: time to empty while discharging, time to full while
 * charging, from the measured rate smoothed by a time-aware EWMA
 * (alpha = 1 - exp(-dt / tau)), so irregular sampling weighs samples by
 * the time they cover.
 *
 * Two bases, best first:
 *  - power: the battery reports W (power_now or V x I) and the remaining
 *    energy is known (energy_now, or percent x capacity): remaining Wh / W.
 *  - percent: only the percentage is known. It is an integer that moves in
 *    steps, so the rate is measured between steps (1 % over the time the
 *    step took), and never exceeds 1 % over the time since the last step, so
 *    a battery that stopped draining stops looking like it drains.
 * Null whenever the rate is not known: never a guess.
 */
export type ForecastBasis = 'power' | 'percent';

export interface BatteryForecastInput {
  readonly percent: number | null;
  readonly status: string;
  readonly powerW?: number | null;
  readonly energyNowWh?: number | null;
  readonly energyFullWh?: number | null;
}

export interface BatteryForecast {
  readonly timeToEmptyS: number | null;
  readonly timeToFullS: number | null;
  readonly basis: ForecastBasis | null;
  /** Smoothed discharge (positive) or charge rate: W for `power`, %/h for `percent`. */
  readonly rate: number | null;
}

/**
 * Whether a forecast means anything for this battery: it is draining or
 * filling. A full battery on mains (or one held at a charge limit, status
 * "Not charging", while mains is online) neither empties nor fills, so a
 * forecast, or "not enough data yet", would be noise.
 */
export function forecastApplies(b: { readonly status: string; readonly on_battery?: boolean }): boolean {
  if (b.status === 'discharging' || b.status === 'charging') return true;
  if (b.status === 'full') return false;
  return b.on_battery !== false;
}

const NONE: BatteryForecast = { timeToEmptyS: null, timeToFullS: null, basis: null, rate: null };

type Direction = 'discharging' | 'charging';

export class BatteryForecaster {
  private direction: Direction | null = null;
  private lastT: number | null = null;
  private ewmaW: number | null = null;
  private ewmaPctPerS: number | null = null;
  /** Time and percent of the last observed step of the percentage. */
  private stepT: number | null = null;
  private stepPct: number | null = null;
  /** The first step seen only anchors: the time of the step before it is unknown. */
  private anchored = false;

  constructor(
    private readonly tauMs: number,
    /** Nominal capacity when the battery does not report energy_full. */
    private readonly nominalWh: number | null,
  ) {}

  update(now: number, b: BatteryForecastInput | null): BatteryForecast {
    const dir: Direction | null =
      b === null
        ? null
        : b.status === 'discharging'
          ? 'discharging'
          : b.status === 'charging'
            ? 'charging'
            : null;
    if (dir === null || b === null) {
      this.reset(null);
      return NONE;
    }
    if (dir !== this.direction) this.reset(dir);
    const dtMs = this.lastT === null ? null : now - this.lastT;
    if (dtMs !== null && dtMs <= 0) return this.forecast(now, b);
    this.lastT = now;

    if (b.powerW !== null && b.powerW !== undefined && b.powerW > 0) {
      this.ewmaW = this.smooth(this.ewmaW, b.powerW, dtMs);
    }
    if (b.percent !== null) this.observePercent(now, b.percent);
    return this.forecast(now, b);
  }

  private observePercent(now: number, pct: number): void {
    if (this.stepPct === null || this.stepT === null) {
      this.stepPct = pct;
      this.stepT = now;
      return;
    }
    const moved = this.direction === 'discharging' ? this.stepPct - pct : pct - this.stepPct;
    if (moved < 0) {
      // Moved against the status (recalibration, noise): restart the measurement from here.
      this.stepPct = pct;
      this.stepT = now;
      this.anchored = false;
      this.ewmaPctPerS = null;
      return;
    }
    if (moved === 0) return;
    const dt = now - this.stepT;
    if (this.anchored) {
      this.ewmaPctPerS = this.smooth(this.ewmaPctPerS, moved / (dt / 1000), dt);
    }
    this.anchored = true;
    this.stepPct = pct;
    this.stepT = now;
  }

  private smooth(prev: number | null, x: number, dtMs: number | null): number {
    if (prev === null || dtMs === null) return x;
    const alpha = 1 - Math.exp(-dtMs / this.tauMs);
    return prev + alpha * (x - prev);
  }

  private forecast(now: number, b: BatteryForecastInput): BatteryForecast {
    const fullWh = b.energyFullWh ?? this.nominalWh;
    const nowWh =
      b.energyNowWh ?? (b.percent !== null && fullWh !== null ? (b.percent / 100) * fullWh : null);
    if (this.ewmaW !== null && this.ewmaW > 0 && nowWh !== null) {
      if (this.direction === 'discharging') {
        return {
          timeToEmptyS: (nowWh / this.ewmaW) * 3600,
          timeToFullS: null,
          basis: 'power',
          rate: this.ewmaW,
        };
      }
      if (fullWh !== null) {
        const missing = Math.max(0, fullWh - nowWh);
        return {
          timeToEmptyS: null,
          timeToFullS: (missing / this.ewmaW) * 3600,
          basis: 'power',
          rate: this.ewmaW,
        };
      }
    }
    if (this.ewmaPctPerS !== null && this.ewmaPctPerS > 0 && b.percent !== null && this.stepT !== null) {
      const sinceStepS = (now - this.stepT) / 1000;
      const rate = sinceStepS > 0 ? Math.min(this.ewmaPctPerS, 1 / sinceStepS) : this.ewmaPctPerS;
      const ratePerH = rate * 3600;
      if (this.direction === 'discharging') {
        return { timeToEmptyS: b.percent / rate, timeToFullS: null, basis: 'percent', rate: ratePerH };
      }
      return { timeToEmptyS: null, timeToFullS: (100 - b.percent) / rate, basis: 'percent', rate: ratePerH };
    }
    return NONE;
  }

  private reset(dir: Direction | null): void {
    this.direction = dir;
    this.lastT = null;
    this.ewmaW = null;
    this.ewmaPctPerS = null;
    this.stepT = null;
    this.stepPct = null;
    this.anchored = false;
  }
}
