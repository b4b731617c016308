import { describe, expect, it } from 'vitest';
import { BatteryForecaster } from '../../src/energy/index.js';

describe('battery forecast', () => {
  it('power basis: remaining Wh / smoothed W', () => {
    const f = new BatteryForecaster(300_000, null);
    let r = f.update(0, { percent: 81, status: 'discharging', powerW: 2, energyNowWh: 20, energyFullWh: 50 });
    expect(r).toEqual({ timeToEmptyS: 36_000, timeToFullS: null, basis: 'power', rate: 2 });
    // A constant rate stays exact through the EWMA.
    r = f.update(5000, { percent: 81, status: 'discharging', powerW: 2, energyNowWh: 19, energyFullWh: 50 });
    expect(r.timeToEmptyS).toBe(34_200);
  });
  it('the EWMA smooths a spike', () => {
    const f = new BatteryForecaster(300_000, null);
    f.update(0, { percent: 50, status: 'discharging', powerW: 2, energyNowWh: 20 });
    const r = f.update(1000, { percent: 50, status: 'discharging', powerW: 20, energyNowWh: 20 });
    const alpha = 1 - Math.exp(-1000 / 300_000);
    expect(r.rate).toBeCloseTo(2 + alpha * 18, 12);
    expect(r.rate).toBeLessThan(2.1);
  });
  it('power basis with the nominal capacity when energy is not reported', () => {
    const f = new BatteryForecaster(300_000, 3.7);
    const r = f.update(0, { percent: 50, status: 'discharging', powerW: 0.1 });
    expect(r.timeToEmptyS).toBeCloseTo(66_600, 9);
  });
  it('power basis while charging gives time to full', () => {
    const f = new BatteryForecaster(300_000, null);
    const r = f.update(0, { percent: 60, status: 'charging', powerW: 15, energyNowWh: 30, energyFullWh: 50 });
    expect(r).toEqual({ timeToEmptyS: null, timeToFullS: 4800, basis: 'power', rate: 15 });
  });
  it('percent basis: rate measured between steps, first step only anchors', () => {
    const f = new BatteryForecaster(300_000, null);
    const pct = (t: number): number => 60 - Math.floor(t / 36);
    let r = f.update(0, { percent: 60, status: 'discharging' });
    for (let t = 12; t <= 60; t += 12) {
      r = f.update(t * 1000, { percent: pct(t), status: 'discharging' });
      expect(r.timeToEmptyS, `t=${t}`).toBeNull();
    }
    r = f.update(72_000, { percent: 58, status: 'discharging' });
    expect(r.basis).toBe('percent');
    expect(r.rate).toBeCloseTo(100, 9); // 1 % per 36 s = 100 %/h
    expect(r.timeToEmptyS).toBeCloseTo(58 * 36, 9);
    r = f.update(84_000, { percent: 58, status: 'discharging' });
    expect(r.timeToEmptyS).toBeCloseTo(58 * 36, 9);
    // Draining stops: the rate can be at most 1 % per time since the last step.
    r = f.update(432_000, { percent: 58, status: 'discharging' });
    expect(r.timeToEmptyS).toBeCloseTo(58 * 360, 9);
  });
  it('percent basis while charging', () => {
    const f = new BatteryForecaster(300_000, null);
    f.update(0, { percent: 40, status: 'charging' });
    f.update(30_000, { percent: 41, status: 'charging' });
    const r = f.update(60_000, { percent: 42, status: 'charging' });
    expect(r.timeToFullS).toBeCloseTo(58 * 30, 9);
    expect(r.timeToEmptyS).toBeNull();
  });
  it('unknown rate, full battery and a change of direction give null', () => {
    const f = new BatteryForecaster(300_000, null);
    expect(f.update(0, { percent: 50, status: 'discharging' }).timeToEmptyS).toBeNull();
    expect(f.update(1000, { percent: 100, status: 'full', powerW: 3 }).basis).toBeNull();
    expect(f.update(2000, null).basis).toBeNull();
    f.update(3000, { percent: 50, status: 'discharging', powerW: 2, energyNowWh: 20 });
    const r = f.update(4000, { percent: 50, status: 'charging' });
    expect(r.timeToFullS).toBeNull();
  });
});
