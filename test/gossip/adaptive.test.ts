import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { createRng } from '../../src/common/rng.js';
import {
  type AdaptiveConfig,
  type AdaptiveInputs,
  AdaptiveGossipController,
  adaptiveConfigFromSections,
} from '../../src/gossip/adaptive.js';

const STEP = 5000;
const healthy: AdaptiveInputs = {
  probeLoss: 0,
  rttMs: 20,
  reachablePeers: 9,
  eventRatePerS: 1,
  swarmSize: 10,
  batteryPercent: null,
  onBattery: null,
  powerState: null,
};

function controller(overrides: Partial<AdaptiveConfig> = {}): AdaptiveGossipController {
  return new AdaptiveGossipController(adaptiveConfigFromSections({}, overrides));
}

/** Evaluates `n` times, one adaptation interval apart, starting after the last evaluation. */
function drive(c: AdaptiveGossipController, inputs: AdaptiveInputs, n: number) {
  let r = { ...c.current(), changed: false };
  for (let k = 0; k < n; k++) {
    const last = c.state().lastEvaluatedAt;
    r = c.evaluate(last === null ? 0 : last + STEP, inputs);
  }
  return r;
}

describe('modes and parameters', () => {
  it('starts normal at the base interval and fanout', () => {
    const c = controller();
    expect(c.current()).toMatchObject({ mode: 'normal', intervalMs: 1000, fanout: 3 });
    expect(drive(c, healthy, 5)).toMatchObject({ mode: 'normal', intervalMs: 1000, fanout: 3 });
  });
  it('aggressive from probe loss: 0.5x interval, 1.5x fanout rounded up', () => {
    const c = controller();
    const r = drive(c, { ...healthy, probeLoss: 0.15 }, 3);
    expect(r).toMatchObject({ mode: 'aggressive', intervalMs: 500, fanout: 5 });
    expect(r.reason).toBe('normal -> aggressive: probe loss 15.0% >= 10.0% (indicated for 3 evaluations)');
  });
  it('aggressive from activity', () => {
    const r = drive(controller(), { ...healthy, eventRatePerS: 12 }, 3);
    expect(r.mode).toBe('aggressive');
    expect(r.reason).toMatch(/event rate 12.00\/s >= 10\/s/);
  });
  it('conservative from congestion: 2x interval, 0.7x fanout rounded down', () => {
    const r = drive(controller(), { ...healthy, rttMs: 500 }, 3);
    expect(r).toMatchObject({ mode: 'conservative', intervalMs: 2000, fanout: 2 });
    expect(r.reason).toMatch(/probe RTT 500 ms >= 400 ms/);
  });
  it('conservative when quiet, normal again when activity returns', () => {
    const c = controller();
    expect(drive(c, { ...healthy, eventRatePerS: 0 }, 3).mode).toBe('conservative');
    expect(drive(c, { ...healthy, eventRatePerS: 1 }, 3).mode).toBe('normal');
    const off = controller({ conservativeWhenQuiet: false });
    expect(drive(off, { ...healthy, eventRatePerS: 0 }, 5).mode).toBe('normal');
  });
  it('quiet on mains stays normal: failure detection keeps the base probe period', () => {
    const mains = controller();
    expect(drive(mains, { ...healthy, eventRatePerS: 0, onBattery: false }, 5).mode).toBe('normal');
    const battery = controller();
    const quietOnBattery = { ...healthy, eventRatePerS: 0, onBattery: true, batteryPercent: 80 };
    expect(drive(battery, quietOnBattery, 3)).toMatchObject({ mode: 'conservative', cause: 'quiet' });
    // Plugged in while quiet: back to normal probing.
    expect(drive(battery, { ...quietOnBattery, onBattery: false, batteryPercent: null }, 3).mode).toBe(
      'normal',
    );
  });
  it('isolated: no peer answered, back off', () => {
    const r = drive(controller(), { ...healthy, probeLoss: 1, reachablePeers: 0 }, 3);
    expect(r.mode).toBe('conservative');
    expect(r.reason).toMatch(/no peer answered/);
  });
  it('emergency: 4x interval, 0.5x fanout', () => {
    const r = drive(controller(), { ...healthy, batteryPercent: 5, onBattery: true }, 1);
    expect(r).toMatchObject({ mode: 'emergency', intervalMs: 4000, fanout: 1 });
  });
  it('disabled: always the base values', () => {
    const c = controller({ enabled: false });
    expect(drive(c, { ...healthy, probeLoss: 0.9, batteryPercent: 1 }, 5)).toMatchObject({
      mode: 'normal',
      intervalMs: 1000,
      fanout: 3,
    });
  });
});

describe('clamping', () => {
  it('interval within [min_interval_ms, max_interval_ms]', () => {
    const cfg = (interval: number) =>
      adaptiveConfigFromSections(
        {
          gossip: { interval_ms: interval, fanout: 3 },
          adaptive_gossip: { min_interval_ms: 400, max_interval_ms: 3000 },
        },
        {},
      );
    const fast = new AdaptiveGossipController(cfg(600));
    expect(drive(fast, { ...healthy, probeLoss: 0.5 }, 1).intervalMs).toBe(400);
    const slow = new AdaptiveGossipController(cfg(1000));
    expect(drive(slow, { ...healthy, batteryPercent: 1 }, 1).intervalMs).toBe(3000);
  });
  it('fanout <= max_fanout, <= peers, >= 1', () => {
    const big = new AdaptiveGossipController(
      adaptiveConfigFromSections({ gossip: { fanout: 8 }, adaptive_gossip: { max_fanout: 10 } }),
    );
    expect(drive(big, { ...healthy, swarmSize: 100, probeLoss: 0.5 }, 1).fanout).toBe(10);
    const small = controller();
    expect(drive(small, { ...healthy, swarmSize: 3, reachablePeers: 2, probeLoss: 0.5 }, 1).fanout).toBe(2);
    const one = new AdaptiveGossipController(adaptiveConfigFromSections({ gossip: { fanout: 1 } }));
    expect(drive(one, { ...healthy, batteryPercent: 1 }, 1).fanout).toBe(1);
  });
  it('rejects impossible limits', () => {
    expect(() =>
      adaptiveConfigFromSections({ adaptive_gossip: { min_interval_ms: 500, max_interval_ms: 100 } }),
    ).toThrow(ConfigError);
    expect(() => adaptiveConfigFromSections({ adaptive_gossip: { max_fanout: 0 } })).toThrow(/max_fanout/);
  });
});

describe('hysteresis', () => {
  it('a mode must be indicated for 3 consecutive evaluations', () => {
    const c = controller();
    const lossy = { ...healthy, probeLoss: 0.15 };
    expect(drive(c, lossy, 2).mode).toBe('normal');
    expect(drive(c, healthy, 1).mode).toBe('normal'); // streak broken
    expect(drive(c, lossy, 2).mode).toBe('normal');
    expect(drive(c, lossy, 1).mode).toBe('aggressive');
  });
  it('crossing the threshold by the strong factor switches at once', () => {
    const r = drive(controller(), { ...healthy, probeLoss: 0.25 }, 1);
    expect(r.mode).toBe('aggressive');
    expect(r.reason).toMatch(/at once: beyond 2x the threshold/);
  });
  it('no flapping under oscillating inputs', () => {
    for (const [a, b] of [
      [{ probeLoss: 0.15 }, { probeLoss: 0 }],
      [{ probeLoss: 0.5 }, { probeLoss: 0 }],
      [{ rttMs: 900 }, { rttMs: 10 }],
      [{ eventRatePerS: 30 }, { eventRatePerS: 1 }],
      [
        { batteryPercent: 29, onBattery: true },
        { batteryPercent: 31, onBattery: true },
      ],
    ] as Array<[Partial<AdaptiveInputs>, Partial<AdaptiveInputs>]>) {
      const c = controller();
      let changes = 0;
      for (let k = 0; k < 200; k++) {
        const r = drive(c, { ...healthy, ...(k % 2 === 0 ? a : b) }, 1);
        if (r.changed) changes++;
      }
      expect(changes, JSON.stringify(a)).toBeLessThanOrEqual(1);
    }
  });
  it('the metric must clear threshold x exit ratio to leave', () => {
    const c = controller();
    drive(c, { ...healthy, probeLoss: 0.15 }, 3);
    expect(drive(c, { ...healthy, probeLoss: 0.08 }, 10).mode).toBe('aggressive'); // above 0.07
    expect(drive(c, { ...healthy, probeLoss: 0.05 }, 3).mode).toBe('normal');
  });
  it('a switch is followed by a dwell before the next non-energy switch', () => {
    const c = controller();
    drive(c, { ...healthy, probeLoss: 0.5 }, 1); // aggressive at once
    expect(drive(c, { ...healthy, rttMs: 2000 }, 2).mode).toBe('aggressive');
    expect(drive(c, { ...healthy, rttMs: 2000 }, 1).mode).toBe('conservative');
  });
  it('evaluations before adaptation_interval_ms has passed are ignored', () => {
    const c = controller();
    c.evaluate(0, healthy);
    for (let t = 100; t < 5000; t += 100) c.evaluate(t, { ...healthy, probeLoss: 0.15 });
    expect(c.current().mode).toBe('normal');
    expect(c.due(4999)).toBe(false);
    expect(c.due(5000)).toBe(true);
  });
});

describe('energy override', () => {
  const battery = (pct: number): AdaptiveInputs => ({ ...healthy, batteryPercent: pct, onBattery: true });
  it('low battery -> conservative even with a lossy network; critical -> emergency at once', () => {
    const c = controller();
    expect(drive(c, { ...battery(25), probeLoss: 0.15 }, 3)).toMatchObject({
      mode: 'conservative',
      fanout: 2,
    });
    expect(c.current().reason).toBe(
      'normal -> conservative: battery 25% below low-power 30% (indicated for 3 evaluations)',
    );
    // Critical applies at once, even between adaptation intervals and during the dwell.
    const at = (c.state().lastEvaluatedAt ?? 0) + 10;
    const r = c.evaluate(at, battery(9));
    expect(r).toMatchObject({ mode: 'emergency', intervalMs: 4000, fanout: 1, changed: true });
    expect(r.reason).toBe('conservative -> emergency: battery 9% below critical 10% (at once)');
  });
  it('leaving an energy level needs the margin, and charging lifts it', () => {
    const c = controller();
    drive(c, battery(8), 1);
    expect(drive(c, battery(12), 5).mode).toBe('emergency'); // 12 < 10 + 5
    expect(drive(c, battery(16), 3).mode).toBe('conservative');
    expect(drive(c, battery(33), 5).mode).toBe('conservative'); // 33 < 30 + 5
    expect(drive(c, battery(36), 3).mode).toBe('normal');
    drive(c, battery(5), 1);
    expect(drive(c, { ...battery(5), onBattery: false }, 3).mode).toBe('normal');
  });
  it('the power state alone is enough', () => {
    expect(drive(controller(), { ...healthy, powerState: 'critical' }, 1).mode).toBe('emergency');
    expect(drive(controller(), { ...healthy, powerState: 'low_power' }, 3).mode).toBe('conservative');
  });
  it('ignored when energy_aware is false', () => {
    const c = new AdaptiveGossipController(
      adaptiveConfigFromSections({ adaptive_gossip: { energy_aware: false } }),
    );
    expect(drive(c, battery(2), 5).mode).toBe('normal');
  });
  it('a draining battery walks normal -> conservative -> emergency', () => {
    const c = controller();
    const modes: string[] = [];
    for (let p = 60; p >= 0; p -= 1) {
      const r = drive(c, battery(p), 1);
      if (modes[modes.length - 1] !== r.mode) modes.push(r.mode);
    }
    expect(modes).toEqual(['normal', 'conservative', 'emergency']);
  });
});

describe('energy sample (input event between evaluations)', () => {
  const battery = (pct: number): AdaptiveInputs => ({ ...healthy, batteryPercent: pct, onBattery: true });
  it('critical applies at the sample, not at the next evaluation', () => {
    const c = controller();
    drive(c, healthy, 1);
    const at = (c.state().lastEvaluatedAt ?? 0) + 100;
    expect(c.due(at)).toBe(false);
    const r = c.energySample(at, { ...battery(5), powerState: 'critical' });
    expect(r).toMatchObject({ mode: 'emergency', intervalMs: 4000, fanout: 1, changed: true });
    expect(r.reason).toContain('(at once, at the energy sample)');
    // The evaluation schedule is unchanged: the sample is not an evaluation.
    expect(c.state().lastEvaluatedAt).toBe(at - 100);
  });
  it('low power applies at the sample too (no confirmations, no dwell)', () => {
    const c = controller();
    drive(c, healthy, 1);
    const at = (c.state().lastEvaluatedAt ?? 0) + 100;
    const r = c.energySample(at, battery(25));
    expect(r).toMatchObject({ mode: 'conservative', changed: true });
    expect(c.current().cause).toBe('energy_low');
  });
  it('a sample that leaves an energy level changes nothing until the evaluation', () => {
    const c = controller();
    drive(c, battery(5), 1);
    const at = (c.state().lastEvaluatedAt ?? 0) + 100;
    expect(c.energySample(at, battery(80))).toMatchObject({ mode: 'emergency', changed: false });
    expect(c.energySample(at, battery(80 + 0 * 1))).toMatchObject({ mode: 'emergency', changed: false });
  });
  it('already conservative (quiet): low battery keeps the mode and becomes its cause', () => {
    const c = controller();
    const quiet = { ...healthy, eventRatePerS: 0 };
    drive(c, quiet, 3);
    expect(c.current()).toMatchObject({ mode: 'conservative', cause: 'quiet' });
    const at = (c.state().lastEvaluatedAt ?? 0) + 100;
    const r = c.energySample(at, { ...quiet, batteryPercent: 25, onBattery: true });
    expect(r).toMatchObject({ mode: 'conservative', changed: false, cause: 'energy_low' });
    // The change's reason still names the quiet network; `why` names the battery that holds the mode now.
    expect(r.reason).toContain('event rate');
    expect(r.why).toBe('battery 25% below low-power 30%');
  });
});

describe('properties over random inputs (300 seeds; SWARM_LONG=1 for 5,000)', () => {
  const seeds = process.env.SWARM_LONG === '1' ? 5000 : 300;
  it('parameters stay clamped, switches respect the dwell, critical battery is emergency at once', () => {
    for (let seed = 1; seed <= seeds; seed++) {
      const rng = createRng(seed);
      const base = rng.int(200, 5000);
      const cfg = adaptiveConfigFromSections(
        {
          gossip: { interval_ms: base, fanout: rng.int(1, 8) },
          adaptive_gossip: { min_interval_ms: 200, max_interval_ms: 5000, max_fanout: rng.int(8, 12) },
        },
        {},
      );
      const c = new AdaptiveGossipController(cfg);
      let now = 0;
      let lastSwitchEval = -Infinity;
      const violations: string[] = [];
      for (let k = 0; k < 200; k++) {
        now += rng.int(1000, 8000);
        const size = rng.int(1, 40);
        const inputs: AdaptiveInputs = {
          probeLoss: rng.next() < 0.1 ? null : rng.next() * rng.next(),
          rttMs: rng.next() < 0.1 ? null : rng.next() * 1200,
          reachablePeers: rng.int(0, Math.max(0, size - 1)),
          eventRatePerS: rng.next() < 0.5 ? rng.next() * 0.3 : rng.next() * 30,
          swarmSize: size,
          batteryPercent: rng.next() < 0.5 ? null : rng.int(0, 100),
          onBattery: rng.next() < 0.8,
          powerState: null,
        };
        const before = c.state();
        const r = c.evaluate(now, inputs);
        const ctx = `seed ${seed} step ${k}`;
        // The cap uses the swarm size of the last full evaluation (calls between intervals change nothing).
        const seen = c.state().swarmSize ?? size;
        if (r.intervalMs < 200 || r.intervalMs > 5000) violations.push(`${ctx}: interval ${r.intervalMs}`);
        if (r.fanout < 1 || r.fanout > Math.min(cfg.maxFanout, Math.max(1, seen - 1))) {
          violations.push(`${ctx}: fanout ${r.fanout} with ${seen} members`);
        }
        const critical = inputs.onBattery === true && (inputs.batteryPercent ?? 100) < 10;
        if (critical && r.mode !== 'emergency') violations.push(`${ctx}: critical battery but ${r.mode}`);
        if (r.changed && r.mode !== 'emergency' && k - lastSwitchEval < cfg.minDwellEvaluations) {
          violations.push(
            `${ctx}: switched to ${r.mode} ${k - lastSwitchEval} evaluations after the last switch`,
          );
        }
        if (r.changed && before.energyLevel === 'critical' && r.mode === 'normal') {
          violations.push(`${ctx}: emergency -> normal skipped conservative`);
        }
        if (r.changed) lastSwitchEval = k;
      }
      expect(violations).toEqual([]);
    }
  });
});
