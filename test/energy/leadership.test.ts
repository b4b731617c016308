import { describe, expect, it } from 'vitest';
import {
  type EnergySummary,
  LEADERSHIP_DEFAULTS,
  LeadershipAdvisor,
  type VoterEnergy,
  compareVoters,
  electionTimeoutMultiplier,
} from '../../src/energy/index.js';

const thresholds = { lowPowerThresholdPercent: 30, criticalThresholdPercent: 10 };
const advisor = (): LeadershipAdvisor => new LeadershipAdvisor({ ...LEADERSHIP_DEFAULTS, ...thresholds });
const mains = (rating: EnergySummary['rating'] = 'B'): EnergySummary => ({
  powerW: 3,
  batteryPercent: null,
  powerState: 'active',
  rating,
  onBattery: false,
  measured: false,
});
const battery = (pct: number, rating: EnergySummary['rating'] = 'B'): EnergySummary => ({
  powerW: 0.5,
  batteryPercent: pct,
  powerState: pct < 10 ? 'critical' : pct < 30 ? 'low_power' : 'active',
  rating,
  onBattery: true,
  measured: true,
});

describe('energy-aware leadership', () => {
  it('orders voters: mains, fuller battery, better rating, id', () => {
    const vs: VoterEnergy[] = [
      { id: 'd', summary: null },
      { id: 'c', summary: battery(50) },
      { id: 'b', summary: mains('C') },
      { id: 'a', summary: mains('A') },
      { id: 'e', summary: battery(80) },
    ];
    expect([...vs].sort(compareVoters).map((v) => v.id)).toEqual(['a', 'b', 'e', 'c', 'd']);
  });
  it('a low-battery leader hands over to a mains voter after 3 checks, then stays quiet', () => {
    const a = advisor();
    const voters: VoterEnergy[] = [
      { id: 'n2', summary: battery(60) },
      { id: 'n3', summary: mains() },
    ];
    expect(a.check(0, battery(25), voters)).toBeNull();
    expect(a.check(1000, battery(25), voters)).toBeNull();
    expect(a.check(2000, battery(25), voters)).toEqual({
      target: 'n3',
      reason: 'leader battery 25% below low-power 30%: hand over to n3 (mains)',
    });
    for (let t = 3000; t < 62_000; t += 1000) expect(a.check(t, battery(24), voters)).toBeNull();
  });
  it('a critical leader hands over at once; with no better voter nobody is advised', () => {
    expect(advisor().check(0, battery(5), [{ id: 'n2', summary: battery(40) }])?.target).toBe('n2');
    expect(advisor().check(0, battery(5), [{ id: 'n2', summary: battery(12) }])).toBeNull();
    expect(advisor().check(0, battery(5), [{ id: 'n2', summary: null }])).toBeNull();
  });
  it('a leader with no rating yet (no work measured) is not moved by the rating rule', () => {
    const a = advisor();
    const voters: VoterEnergy[] = [{ id: 'n2', summary: mains('A+') }];
    for (let t = 0; t < 10_000; t += 1000) expect(a.check(t, mains(null), voters)).toBeNull();
  });

  it('a leader two grades worse than a mains voter hands over; one grade is not enough', () => {
    const a = advisor();
    const voters: VoterEnergy[] = [{ id: 'n2', summary: mains('A') }];
    for (let t = 0; t < 10_000; t += 1000) expect(a.check(t, mains('B'), voters)).toBeNull();
    a.check(10_000, mains('C'), voters);
    a.check(11_000, mains('C'), voters);
    expect(a.check(12_000, mains('C'), voters)?.reason).toBe(
      'leader rating C is 2 grades below mains voter n2 (A)',
    );
  });
  it('the streak resets when the condition clears', () => {
    const a = advisor();
    const voters: VoterEnergy[] = [{ id: 'n3', summary: mains() }];
    a.check(0, battery(25), voters);
    a.check(1000, battery(25), voters);
    expect(a.check(2000, mains(), voters)).toBeNull();
    expect(a.check(3000, battery(25), voters)).toBeNull();
  });
  it('battery-powered candidates wait longer', () => {
    expect(electionTimeoutMultiplier(null, thresholds)).toBe(1);
    expect(electionTimeoutMultiplier(mains(), thresholds)).toBe(1);
    expect(electionTimeoutMultiplier(battery(80), thresholds)).toBe(1.5);
    expect(electionTimeoutMultiplier(battery(20), thresholds)).toBe(2);
    expect(electionTimeoutMultiplier(battery(5), thresholds)).toBe(4);
  });
});
