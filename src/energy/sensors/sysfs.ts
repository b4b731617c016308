/**
 * Readers for /sys/class/thermal and /sys/class/power_supply.
 *
 * Units follow the kernel's sysfs ABI (Documentation/ABI/testing/sysfs-class-power):
 * temperatures in millidegrees Celsius, voltages in µV, currents in µA,
 * power in µW, energy in µWh, charge in µAh. Everything is converted to SI
 * here so nothing downstream has to remember the micro prefixes.
 */
import { type Parsed, fail, listDir, ok, parseInteger, readText } from './parse.js';

export interface ThermalReading {
  readonly celsius: number;
  /** e.g. "thermal_zone0". */
  readonly zone: string;
  /** The zone's `type`, e.g. "cpu-thermal" or "x86_pkg_temp". */
  readonly type: string;
}

export type BatteryStatus = 'charging' | 'discharging' | 'full' | 'not_charging' | 'unknown';

export interface BatteryReading {
  /** power_supply directory name, e.g. "BAT0". */
  readonly name: string;
  /** 0..100; from `capacity`, else energy_now/energy_full, else charge_now/charge_full. */
  readonly percent: number | null;
  readonly status: BatteryStatus;
  readonly voltageV: number | null;
  /** Magnitude in amperes; drivers disagree on the sign, `status` carries the direction. */
  readonly currentA: number | null;
  /** Magnitude of the power flowing in or out of the battery, W. */
  readonly powerW: number | null;
  /** Where powerW came from. */
  readonly powerSource: 'power_now' | 'voltage_current' | null;
  readonly energyNowWh: number | null;
  readonly energyFullWh: number | null;
  /** Problems met while reading optional files (garbage values), for diagnostics. */
  readonly notes: readonly string[];
}

export interface MainsReading {
  /** True when any Mains/USB supply reports online=1. */
  readonly online: boolean;
  readonly sources: readonly string[];
}

/** Zone types that measure the CPU die itself, best first. */
const PREFERRED_ZONES = ['cpu-thermal', 'x86_pkg_temp', 'cpu_thermal', 'soc_thermal', 'soc-thermal'];

// Readings outside this range are a broken driver or a wrong unit, not a temperature.
const MIN_PLAUSIBLE_C = -40;
const MAX_PLAUSIBLE_C = 150;

/**
 * CPU temperature: a preferred zone type if present, else a zone whose type
 * mentions cpu/soc/pkg/core, else the first zone with a plausible reading.
 */
export function readCpuTemperature(root = '/'): Parsed<ThermalReading> {
  const dir = 'sys/class/thermal';
  const entries = listDir(root, dir);
  if (!entries.ok) return fail(`no thermal zones (${entries.reason})`);
  const zones: ThermalReading[] = [];
  const problems: string[] = [];
  for (const zone of entries.value.filter((e) => /^thermal_zone\d+$/.test(e))) {
    const type = readText(root, `${dir}/${zone}/type`);
    const temp = readText(root, `${dir}/${zone}/temp`);
    if (!temp.ok) {
      problems.push(temp.reason);
      continue;
    }
    const milli = parseInteger(temp.value, `${zone}/temp`);
    if (!milli.ok) {
      problems.push(milli.reason);
      continue;
    }
    const celsius = milli.value / 1000;
    if (celsius < MIN_PLAUSIBLE_C || celsius > MAX_PLAUSIBLE_C) {
      problems.push(`${zone}/temp: implausible ${celsius} °C`);
      continue;
    }
    zones.push({ celsius, zone, type: type.ok ? type.value.trim() : 'unknown' });
  }
  if (zones.length === 0) {
    return fail(problems.length > 0 ? `no usable thermal zone: ${problems.join('; ')}` : 'no thermal zones');
  }
  for (const pref of PREFERRED_ZONES) {
    const z = zones.find((r) => r.type === pref);
    if (z !== undefined) return ok(z);
  }
  const cpuish = zones.find((r) => /cpu|soc|pkg|core/i.test(r.type));
  return ok(cpuish ?? (zones[0] as ThermalReading));
}

export interface PowerSupplies {
  readonly battery: Parsed<BatteryReading>;
  readonly mains: Parsed<MainsReading>;
}

/** Reads every power_supply entry once and picks the system battery and the mains state. */
export function readPowerSupplies(root = '/'): PowerSupplies {
  const dir = 'sys/class/power_supply';
  const entries = listDir(root, dir);
  if (!entries.ok) {
    return {
      battery: fail(`no battery (${entries.reason})`),
      mains: fail(`no mains sensor (${entries.reason})`),
    };
  }
  let battery: Parsed<BatteryReading> = fail('no battery among power supplies');
  const mainsSources: string[] = [];
  let mainsOnline = false;
  for (const name of entries.value) {
    const base = `${dir}/${name}`;
    const type = readText(root, `${base}/type`);
    if (!type.ok) continue;
    const t = type.value.trim();
    if (t === 'Battery') {
      // scope=Device marks a peripheral's battery (a wireless mouse), not the one powering us.
      const scope = readText(root, `${base}/scope`);
      if (scope.ok && scope.value.trim() === 'Device') continue;
      if (!battery.ok) battery = readBattery(root, base, name);
    } else if (t === 'Mains' || t.startsWith('USB')) {
      const online = readText(root, `${base}/online`);
      if (!online.ok) continue;
      const v = parseInteger(online.value, `${name}/online`);
      if (!v.ok) continue;
      mainsSources.push(name);
      if (v.value === 1) mainsOnline = true;
    }
  }
  const mains: Parsed<MainsReading> =
    mainsSources.length > 0
      ? ok({ online: mainsOnline, sources: mainsSources })
      : fail('no Mains/USB supply with an online file');
  return { battery, mains };
}

function readBattery(root: string, base: string, name: string): Parsed<BatteryReading> {
  const notes: string[] = [];
  // Optional micro-unit file -> SI number, or null with a note when present but garbage.
  const micro = (file: string): number | null => {
    const text = readText(root, `${base}/${file}`);
    if (!text.ok) return null;
    const v = parseInteger(text.value, `${name}/${file}`);
    if (!v.ok) {
      notes.push(v.reason);
      return null;
    }
    return v.value / 1e6;
  };

  const voltageV = abs(micro('voltage_now'));
  const currentA = abs(micro('current_now'));
  const powerNowW = abs(micro('power_now'));
  const energyNowWh = micro('energy_now');
  const energyFullWh = micro('energy_full');
  const chargeNow = micro('charge_now');
  const chargeFull = micro('charge_full');

  let percent: number | null = null;
  const cap = readText(root, `${base}/capacity`);
  if (cap.ok) {
    const v = parseInteger(cap.value, `${name}/capacity`);
    if (v.ok && v.value >= 0 && v.value <= 100) percent = v.value;
    else notes.push(v.ok ? `${name}/capacity: out of range ${v.value}` : v.reason);
  }
  if (percent === null && energyNowWh !== null && energyFullWh !== null && energyFullWh > 0) {
    percent = clampPercent((energyNowWh / energyFullWh) * 100);
  }
  if (percent === null && chargeNow !== null && chargeFull !== null && chargeFull > 0) {
    percent = clampPercent((chargeNow / chargeFull) * 100);
  }

  const statusText = readText(root, `${base}/status`);
  const status = statusText.ok ? parseStatus(statusText.value) : 'unknown';

  let powerW: number | null = null;
  let powerSource: BatteryReading['powerSource'] = null;
  if (powerNowW !== null) {
    powerW = powerNowW;
    powerSource = 'power_now';
  } else if (voltageV !== null && currentA !== null) {
    powerW = voltageV * currentA;
    powerSource = 'voltage_current';
  }

  if (percent === null && status === 'unknown' && powerW === null && voltageV === null) {
    return fail(
      `${name}: battery without any readable value${notes.length > 0 ? `: ${notes.join('; ')}` : ''}`,
    );
  }
  return ok({
    name,
    percent,
    status,
    voltageV,
    currentA,
    powerW,
    powerSource,
    energyNowWh,
    energyFullWh: energyFullWh ?? (chargeFull !== null && voltageV !== null ? chargeFull * voltageV : null),
    notes,
  });
}

export function parseStatus(text: string): BatteryStatus {
  switch (text.trim()) {
    case 'Charging':
      return 'charging';
    case 'Discharging':
      return 'discharging';
    case 'Full':
      return 'full';
    case 'Not charging':
      return 'not_charging';
    default:
      return 'unknown';
  }
}

function abs(x: number | null): number | null {
  return x === null ? null : Math.abs(x);
}

function clampPercent(x: number): number {
  return Math.max(0, Math.min(100, x));
}

export interface PowerMeterReading {
  readonly watts: number;
  /** e.g. "hwmon2/ina219". */
  readonly sensor: string;
}

/**
 * A hwmon power sensor (`power1_input`, µW): an INA219/INA226 on a power HAT,
 * an INA3221 on a Jetson. It is assumed to measure the device's supply rail;
 * the first plausible one (0..1 kW) wins.
 */
export function readPowerMeter(root = '/'): Parsed<PowerMeterReading> {
  const dir = 'sys/class/hwmon';
  const entries = listDir(root, dir);
  if (!entries.ok) return fail(`no power meter (${entries.reason})`);
  const problems: string[] = [];
  for (const hw of entries.value) {
    const text = readText(root, `${dir}/${hw}/power1_input`);
    if (!text.ok) continue;
    const v = parseInteger(text.value, `${hw}/power1_input`);
    if (!v.ok) {
      problems.push(v.reason);
      continue;
    }
    const watts = v.value / 1e6;
    if (watts < 0 || watts > 1000) {
      problems.push(`${hw}/power1_input: implausible ${watts} W`);
      continue;
    }
    const name = readText(root, `${dir}/${hw}/name`);
    return ok({ watts, sensor: `${hw}/${name.ok ? name.value.trim() : 'unknown'}` });
  }
  return fail(
    problems.length > 0 ? `no usable power meter: ${problems.join('; ')}` : 'no hwmon power1_input',
  );
}
