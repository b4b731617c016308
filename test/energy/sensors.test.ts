import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { naturalCompare } from '../../src/energy/sensors/parse.js';
import {
  CpuSampler,
  SensorCollector,
  parseLoadAvg,
  parseMeminfo,
  parseProcSelfStat,
  parseProcStat,
  readCpuTemperature,
  readPowerSupplies,
  readSensors,
  readingsFromSensors,
} from '../../src/energy/index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'sysroot');
const root = (name: string): string => join(FIX, name);

function utilisation(name: string) {
  const first = readSensors(root(name));
  const sampler = new CpuSampler();
  expect(sampler.update(first.cpu, first.process)).toBeNull();
  const cpu2 = parseProcStat(readFileSync(join(root(name), 'proc/stat.next'), 'utf8'));
  const proc2 = parseProcSelfStat(readFileSync(join(root(name), 'proc/self/stat.next'), 'utf8'));
  if (!cpu2.ok || !proc2.ok) throw new Error('fixture .next files must parse');
  return sampler.update(cpu2.value, proc2.value);
}

describe('fixture: Raspberry Pi 4', () => {
  const s = readSensors(root('rpi4'));
  it('reads cpu-thermal, mains online, no battery', () => {
    expect(s.thermal).toEqual({ celsius: 48.312, zone: 'thermal_zone0', type: 'cpu-thermal' });
    expect(s.mains).toEqual({ online: true, sources: ['rpi-poe-power-supply'] });
    expect(s.battery).toBeNull();
    expect(s.missing.battery).toMatch(/no battery/);
    expect(s.cpu).toEqual({ total: 96500, idle: 81000, cpus: 4 });
  });
  it('load and memory', () => {
    expect(s.loadavg).toEqual({ one: 0.42, five: 0.37, fifteen: 0.3 });
    expect(s.memory?.totalBytes).toBe(3884328 * 1024);
    expect(s.memory?.usedBytes).toBe((3884328 - 3400000) * 1024);
    expect(s.memory?.usedFraction).toBeCloseTo(484328 / 3884328, 12);
  });
  it('CPU deltas', () => {
    expect(utilisation('rpi4')).toEqual({ device: 0.375, process: 0.075, processCores: 0.3 });
  });
});

describe('fixture: Pi Zero 2 W on a battery HAT', () => {
  const s = readSensors(root('pi-zero-2w-hat'));
  it('battery from V x |I| with a negative current_now', () => {
    const b = s.battery;
    expect(b?.name).toBe('bq27441-0');
    expect(b?.percent).toBe(64);
    expect(b?.status).toBe('discharging');
    expect(b?.voltageV).toBe(3.85);
    expect(b?.currentA).toBe(0.312);
    expect(b?.powerW).toBeCloseTo(1.2012, 12);
    expect(b?.powerSource).toBe('voltage_current');
    expect(b?.energyNowWh).toBeNull();
    expect(b?.energyFullWh).toBeCloseTo(1.9 * 3.85, 12);
    expect(s.mains).toBeNull();
    expect(s.missing.mains).toMatch(/no Mains/);
  });
  it('CPU deltas, comm with a space', () => {
    expect(utilisation('pi-zero-2w-hat')).toEqual({ device: 0.1, process: 0.025, processCores: 0.1 });
  });
  it('readings feed the monitor with the measured battery power', () => {
    const r = readingsFromSensors(s, { device: 0.1, process: 0.025, processCores: 0.1 });
    expect(r.cpuUtilisation).toBe(0.1);
    expect(r.temperatureC).toBe(41.868);
    expect(r.battery?.powerW).toBeCloseTo(1.2012, 12);
    expect(r.mainsOnline).toBeNull();
  });
});

describe('fixture: laptop', () => {
  const s = readSensors(root('laptop'));
  it('prefers x86_pkg_temp and skips a garbage zone', () => {
    expect(s.thermal).toEqual({ celsius: 52, zone: 'thermal_zone1', type: 'x86_pkg_temp' });
  });
  it('BAT0 with power_now, ignores the mouse battery, AC offline', () => {
    const b = s.battery;
    expect(b?.name).toBe('BAT0');
    expect(b?.percent).toBe(81);
    expect(b?.powerW).toBe(8.45);
    expect(b?.powerSource).toBe('power_now');
    expect(b?.energyNowWh).toBe(40.5);
    expect(b?.energyFullWh).toBe(50);
    expect(s.mains).toEqual({ online: false, sources: ['AC'] });
  });
  it('CPU deltas, comm with parentheses', () => {
    expect(utilisation('laptop')).toEqual({ device: 0.25, process: 0.1, processCores: 0.8 });
  });
});

describe('fixture: bare VM', () => {
  const s = readSensors(root('vm'));
  it('no thermal, no battery, no mains: null with reasons', () => {
    expect(s.thermal).toBeNull();
    expect(s.battery).toBeNull();
    expect(s.mains).toBeNull();
    expect(s.missing.thermal).toMatch(/absent/);
    expect(s.missing.battery).toMatch(/absent/);
    expect(s.missing.mains).toMatch(/absent/);
  });
  it('meminfo without MemAvailable falls back to free+buffers+cached', () => {
    expect(s.memory?.availableBytes).toBe((914000 + 50000 + 250000) * 1024);
  });
  it('CPU deltas with steal time', () => {
    const u = utilisation('vm');
    expect(u?.device).toBe(0.2);
    expect(u?.process).toBe(0.025);
    expect(u?.processCores).toBe(0.05);
  });
  it('an empty root reports every sensor missing', () => {
    const e = readSensors(join(FIX, 'does-not-exist'));
    expect(Object.keys(e.missing).sort()).toEqual(
      ['battery', 'cpu', 'loadavg', 'mains', 'memory', 'meter', 'process', 'thermal'].sort(),
    );
  });
});

describe('defensive parsing', () => {
  it('garbage /proc files give reasons, not numbers', () => {
    const a = parseProcStat('hello\n');
    expect(a.ok).toBe(false);
    const b = parseProcStat('cpu  1 2 x 4\n');
    expect(b.ok === false && b.reason).toMatch(/not an integer/);
    expect(parseProcSelfStat('1234 no-paren S').ok).toBe(false);
    expect(parseProcSelfStat('1 (x) S 1').ok).toBe(false);
    expect(parseLoadAvg('nan 1 2').ok).toBe(false);
    expect(parseMeminfo('MemFree: 10 kB\n').ok).toBe(false);
  });
  it('counters that go backwards or stand still give null utilisation', () => {
    const s = new CpuSampler();
    s.update({ total: 1000, idle: 500, cpus: 2 }, null);
    expect(s.update({ total: 900, idle: 400, cpus: 2 }, null)).toBeNull();
    expect(s.update({ total: 900, idle: 400, cpus: 2 }, null)).toBeNull();
    expect(s.update({ total: 1000, idle: 450, cpus: 2 }, null)).toEqual({
      device: 0.5,
      process: null,
      processCores: null,
    });
  });

  const tmp = mkdtempSync(join(tmpdir(), 'energy-sensors-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const put = (rel: string, text: string): void => {
    mkdirSync(dirname(join(tmp, rel)), { recursive: true });
    writeFileSync(join(tmp, rel), text);
  };

  it('implausible and garbage temperatures are rejected with a reason', () => {
    put('t1/sys/class/thermal/thermal_zone0/type', 'cpu-thermal\n');
    put('t1/sys/class/thermal/thermal_zone0/temp', '480000\n');
    put('t1/sys/class/thermal/thermal_zone1/type', 'soc\n');
    put('t1/sys/class/thermal/thermal_zone1/temp', '\n');
    const t = readCpuTemperature(join(tmp, 't1'));
    expect(t.ok).toBe(false);
    expect(t.ok === false && t.reason).toMatch(/implausible 480/);
    expect(t.ok === false && t.reason).toMatch(/not an integer/);
  });
  it('a battery with garbage values keeps the good ones and notes the bad', () => {
    put('b1/sys/class/power_supply/battery/type', 'Battery\n');
    put('b1/sys/class/power_supply/battery/capacity', '250\n');
    put('b1/sys/class/power_supply/battery/status', 'Charging\n');
    put('b1/sys/class/power_supply/battery/voltage_now', 'lots\n');
    put('b1/sys/class/power_supply/battery/energy_now', '2000000\n');
    put('b1/sys/class/power_supply/battery/energy_full', '4000000\n');
    const p = readPowerSupplies(join(tmp, 'b1'));
    expect(p.battery.ok).toBe(true);
    if (!p.battery.ok) return;
    expect(p.battery.value.percent).toBe(50);
    expect(p.battery.value.status).toBe('charging');
    expect(p.battery.value.voltageV).toBeNull();
    expect(p.battery.value.powerW).toBeNull();
    expect(p.battery.value.notes.join(' ')).toMatch(
      /capacity: out of range 250.*voltage_now|voltage_now.*capacity/,
    );
  });
  it('a hwmon power sensor is read as a meter and wins in the readings', () => {
    put('m1/sys/class/hwmon/hwmon0/name', 'cpu_thermal\n');
    put('m1/sys/class/hwmon/hwmon1/name', 'ina219\n');
    put('m1/sys/class/hwmon/hwmon1/power1_input', '2450000\n');
    const s = readSensors(join(tmp, 'm1'));
    expect(s.meter).toEqual({ watts: 2.45, sensor: 'hwmon1/ina219' });
    expect(readingsFromSensors(s, null).measuredPowerW).toBe(2.45);
    put('m2/sys/class/hwmon/hwmon0/power1_input', '-5\n');
    expect(readSensors(join(tmp, 'm2')).missing.meter).toMatch(/implausible/);
  });
  it('a battery with nothing readable is absent', () => {
    put('b2/sys/class/power_supply/battery/type', 'Battery\n');
    put('b2/sys/class/power_supply/battery/capacity', '??\n');
    const p = readPowerSupplies(join(tmp, 'b2'));
    expect(p.battery.ok).toBe(false);
  });
});

describe('SensorCollector', () => {
  it('first collection has no utilisation yet; a later one measures it', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'energy-collector-'));
    try {
      const copy = (rel: string, from = rel): void => {
        mkdirSync(dirname(join(tmp, rel)), { recursive: true });
        writeFileSync(join(tmp, rel), readFileSync(join(root('rpi4'), from)));
      };
      for (const f of ['proc/stat', 'proc/self/stat', 'proc/loadavg', 'proc/meminfo']) copy(f);
      copy('sys/class/thermal/thermal_zone0/type');
      copy('sys/class/thermal/thermal_zone0/temp');
      const c = new SensorCollector(tmp);
      const a = c.collect();
      expect(a.cpu).toBeNull();
      expect(a.readings.cpuUtilisation).toBeNull();
      expect(a.readings.temperatureC).toBe(48.312);
      copy('proc/stat', 'proc/stat.next');
      copy('proc/self/stat', 'proc/self/stat.next');
      const b = c.collect({ work: { raftEntriesCommitted: 1, kvOpsApplied: 0, gossipEventsDelivered: 0 } });
      expect(b.readings.cpuUtilisation).toBe(0.375);
      expect(b.readings.work?.raftEntriesCommitted).toBe(1);
      expect(b.snapshot.battery).toBeNull();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('naturalCompare (sysfs directory order without ICU)', () => {
  it('orders digit runs as numbers and the rest by code unit', () => {
    const names = [
      'thermal_zone10',
      'thermal_zone2',
      'BAT1',
      'AC',
      'thermal_zone1',
      'BAT0',
      'hwmon007',
      'hwmon7',
    ];
    expect([...names].sort(naturalCompare)).toEqual([
      'AC',
      'BAT0',
      'BAT1',
      'hwmon7',
      'hwmon007',
      'thermal_zone1',
      'thermal_zone2',
      'thermal_zone10',
    ]);
  });
});
