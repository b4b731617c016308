import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { EnergyMonitor, energyConfigFromSections, RATINGS } from '../../src/energy/index.js';

describe('EnergyMonitor properties over random readings (300 seeds; SWARM_LONG=1 for 5,000)', () => {
  const seeds = process.env.SWARM_LONG === '1' ? 5000 : 300;
  it('energy integrates, bounds hold, history is bounded', () => {
    const classes = ['full', 'standard', 'minimal'] as const;
    for (let seed = 1; seed <= seeds; seed++) {
      const rng = createRng(seed);
      const cls = classes[rng.int(0, 2)]!;
      const history = rng.int(2, 50);
      const m = new EnergyMonitor(
        energyConfigFromSections({ node: { device_class: cls }, metrics: { history_size: history } }),
      );
      const violations: string[] = [];
      let t = rng.int(0, 1e6);
      let expectJ = 0;
      let prevW: number | null = null;
      let minW = Infinity;
      let maxW = 0;
      const work = { raftEntriesCommitted: 0, kvOpsApplied: 0, gossipEventsDelivered: 0 };
      for (let k = 0; k < 100; k++) {
        const dt = rng.int(0, 5000);
        t += dt;
        work.raftEntriesCommitted += rng.int(0, 50);
        work.gossipEventsDelivered += rng.int(0, 50);
        const meter = rng.next() < 0.2 ? rng.next() * 10 : null;
        const s = m.sample(t, {
          cpuUtilisation: rng.next() < 0.1 ? null : rng.next(),
          measuredPowerW: meter,
          battery:
            rng.next() < 0.5
              ? { percent: rng.int(0, 100), status: 'discharging', powerW: rng.next() * 3 }
              : null,
          work,
        });
        const w = s.power.watts;
        if (prevW !== null) expectJ += ((prevW + w) / 2) * (dt / 1000);
        prevW = w;
        minW = Math.min(minW, w);
        maxW = Math.max(maxW, w);
        const ctx = `seed ${seed} step ${k}`;
        if (Math.abs(s.energy.joules - expectJ) > 1e-6 * Math.max(1, expectJ)) {
          violations.push(`${ctx}: ${s.energy.joules} J, expected ${expectJ}`);
        }
        if (s.energy.averageWatts !== null) {
          if (s.energy.averageWatts < minW - 1e-9 || s.energy.averageWatts > maxW + 1e-9) {
            violations.push(`${ctx}: average ${s.energy.averageWatts} outside [${minW}, ${maxW}]`);
          }
        }
        if (s.energy.peakWatts !== maxW) violations.push(`${ctx}: peak ${s.energy.peakWatts} != ${maxW}`);
        if (m.powerHistory().length > history) violations.push(`${ctx}: history ${m.powerHistory().length}`);
        if (Math.abs(s.carbon.grams - (s.energy.joules / 3.6e6) * 400) > 1e-12)
          violations.push(`${ctx}: carbon`);
        if (s.efficiency.score !== null && (s.efficiency.score < 0 || s.efficiency.rating === null)) {
          violations.push(`${ctx}: score ${s.efficiency.score} rating ${s.efficiency.rating}`);
        }
        if (s.efficiency.rating !== null && ![...RATINGS, 'idle'].includes(s.efficiency.rating))
          violations.push(`${ctx}: rating`);
        // idle exactly when energy was spent in the window but no work was done.
        if (
          (s.efficiency.rating === 'idle') !==
          (s.efficiency.score !== null && s.efficiency.windowWorkUnits === 0)
        )
          violations.push(`${ctx}: idle rating with ${s.efficiency.windowWorkUnits} work units`);
        if (meter === null && s.power.source !== 'battery' && (w < 0 || w > m.config.profile.maxW)) {
          violations.push(`${ctx}: modelled ${w} W outside the profile`);
        }
      }
      expect(violations).toEqual([]);
    }
  });
});
