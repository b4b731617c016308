/**
 * One pass over every sensor. Each field is either a reading or null, and
 * every null has its reason in `missing`, so "absent" is reported, never
 * faked. Reading is the only side effect: nothing is cached or written.
 */
import {
  type CpuTimes,
  type LoadAverage,
  type MemoryInfo,
  type ProcessTimes,
  readCpuTimes,
  readLoadAvg,
  readMemory,
  readProcessTimes,
} from './procfs.js';
import type { Parsed } from './parse.js';
import {
  type BatteryReading,
  type MainsReading,
  type PowerMeterReading,
  type ThermalReading,
  readCpuTemperature,
  readPowerMeter,
  readPowerSupplies,
} from './sysfs.js';

export type SensorName = 'cpu' | 'process' | 'loadavg' | 'memory' | 'thermal' | 'battery' | 'mains' | 'meter';

export interface SensorSnapshot {
  readonly cpu: CpuTimes | null;
  readonly process: ProcessTimes | null;
  readonly loadavg: LoadAverage | null;
  readonly memory: MemoryInfo | null;
  readonly thermal: ThermalReading | null;
  readonly battery: BatteryReading | null;
  readonly mains: MainsReading | null;
  /** A hwmon power sensor on the supply rail, when the board has one. */
  readonly meter: PowerMeterReading | null;
  /** Why each null field is null. */
  readonly missing: Partial<Record<SensorName, string>>;
}

export function readSensors(root = '/'): SensorSnapshot {
  const missing: Partial<Record<SensorName, string>> = {};
  const take = <T>(name: SensorName, p: Parsed<T>): T | null => {
    if (p.ok) return p.value;
    missing[name] = p.reason;
    return null;
  };
  const supplies = readPowerSupplies(root);
  return {
    cpu: take('cpu', readCpuTimes(root)),
    process: take('process', readProcessTimes(root)),
    loadavg: take('loadavg', readLoadAvg(root)),
    memory: take('memory', readMemory(root)),
    thermal: take('thermal', readCpuTemperature(root)),
    battery: take('battery', supplies.battery),
    mains: take('mains', supplies.mains),
    meter: take('meter', readPowerMeter(root)),
    missing,
  };
}
