/**
 * The node's energy collection step in one call: read every sensor under
 * `root`, turn the /proc/stat delta into utilisation, and hand back both the
 * raw snapshot (for diagnostics and `swarm swarm energy`) and the readings
 * for `EnergyMonitor.sample`.
 */
import type { EnergyReadings } from '../monitor.js';
import type { WorkCounters } from '../model.js';
import type { ProtocolCounters } from '../protocol.js';
import { readingsFromSensors } from '../readings.js';
import { CpuSampler, type CpuUtilisation } from './procfs.js';
import { type SensorSnapshot, readSensors } from './read.js';

export interface Collected {
  readonly snapshot: SensorSnapshot;
  readonly cpu: CpuUtilisation | null;
  readonly readings: EnergyReadings;
}

export class SensorCollector {
  private readonly sampler = new CpuSampler();

  constructor(readonly root = '/') {}

  collect(counters: { work?: WorkCounters | null; protocol?: ProtocolCounters | null } = {}): Collected {
    const snapshot = readSensors(this.root);
    const cpu = this.sampler.update(snapshot.cpu, snapshot.process);
    return { snapshot, cpu, readings: readingsFromSensors(snapshot, cpu, counters) };
  }
}
