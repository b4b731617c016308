/**
 * Glue from a sensor snapshot to the monitor's readings, so the node's
 * collection loop is three calls: readSensors, CpuSampler.update, sample.
 */
import type { EnergyReadings } from './monitor.js';
import type { ProtocolCounters } from './protocol.js';
import type { WorkCounters } from './model.js';
import type { CpuUtilisation } from './sensors/procfs.js';
import type { SensorSnapshot } from './sensors/read.js';

export function readingsFromSensors(
  s: SensorSnapshot,
  cpu: CpuUtilisation | null,
  counters: { work?: WorkCounters | null; protocol?: ProtocolCounters | null } = {},
): EnergyReadings {
  return {
    cpuUtilisation: cpu?.device ?? null,
    temperatureC: s.thermal?.celsius ?? null,
    battery: s.battery,
    mainsOnline: s.mains?.online ?? null,
    measuredPowerW: s.meter?.watts ?? null,
    work: counters.work ?? null,
    protocol: counters.protocol ?? null,
  };
}
