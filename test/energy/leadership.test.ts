import { describe, expect, it } from 'vitest';
import {
  type EnergySummary,
  LEADERSHIP_DEFAULTS,
  LeadershipAdvisor,
  type VoterEnergy,
  compareVoters,
  electionTimeoutMultiplier,
  energyClass,
} from '../../src/energy/index.js';

const thresholds = { lowPowerThresholdPercent: 30, criticalThresholdPercent: 10 };
/** The rules alone: no settle after an own class change, no tenure (tested on their own below). */
const advisor = (): LeadershipAdvisor =>
  new LeadershipAdvisor({ ...LEADERSHIP_DEFAULTS, ...thresholds, settleMs: 0, minTenureMs: 0 });
const TERM = 1;
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
    expect(a.check(0, battery(25), voters, TERM)).toBeNull();
    expect(a.check(1000, battery(25), voters, TERM)).toBeNull();
    expect(a.check(2000, battery(25), voters, TERM)).toEqual({
      target: 'n3',
      reason: 'leader battery 25% below low-power 30%: hand over to n3 (mains)',
    });
    for (let t = 3000; t < 62_000; t += 1000) expect(a.check(t, battery(24), voters, TERM)).toBeNull();
  });
  it('a critical leader hands over at once; with no better voter nobody is advised', () => {
    expect(advisor().check(0, battery(5), [{ id: 'n2', summary: battery(40) }], TERM)?.target).toBe('n2');
    expect(advisor().check(0, battery(5), [{ id: 'n2', summary: battery(12) }], TERM)).toBeNull();
    expect(advisor().check(0, battery(5), [{ id: 'n2', summary: null }], TERM)).toBeNull();
  });
  it('a leader with no rating yet (no work measured) is not moved by the rating rule', () => {
    const a = advisor();
    const voters: VoterEnergy[] = [{ id: 'n2', summary: mains('A+') }];
    for (let t = 0; t < 10_000; t += 1000) expect(a.check(t, mains(null), voters, TERM)).toBeNull();
  });

  it('a leader two grades worse than a mains voter hands over; one grade is not enough', () => {
    const a = advisor();
    const voters: VoterEnergy[] = [{ id: 'n2', summary: mains('A') }];
    for (let t = 0; t < 10_000; t += 1000) expect(a.check(t, mains('B'), voters, TERM)).toBeNull();
    a.check(10_000, mains('C'), voters, TERM);
    a.check(11_000, mains('C'), voters, TERM);
    expect(a.check(12_000, mains('C'), voters, TERM)?.reason).toBe(
      'leader rating C is 2 grades below mains voter n2 (A)',
    );
  });
  it('the streak resets when the condition clears', () => {
    const a = advisor();
    const voters: VoterEnergy[] = [{ id: 'n3', summary: mains() }];
    a.check(0, battery(25), voters, TERM);
    a.check(1000, battery(25), voters, TERM);
    expect(a.check(2000, mains(), voters, TERM)).toBeNull();
    expect(a.check(3000, battery(25), voters, TERM)).toBeNull();
  });
  it('battery-powered candidates wait longer', () => {
    expect(electionTimeoutMultiplier(null, thresholds)).toBe(1);
    expect(electionTimeoutMultiplier(mains(), thresholds)).toBe(1);
    expect(electionTimeoutMultiplier(battery(80), thresholds)).toBe(1.5);
    expect(electionTimeoutMultiplier(battery(20), thresholds)).toBe(2);
    expect(electionTimeoutMultiplier(battery(5), thresholds)).toBe(4);
  });

  it('classes a summary: mains, battery, low, critical, unknown', () => {
    expect(energyClass(mains(), thresholds)).toBe('mains');
    expect(energyClass(battery(80), thresholds)).toBe('battery');
    expect(energyClass(battery(29), thresholds)).toBe('low');
    expect(energyClass(battery(9), thresholds)).toBe('critical');
    expect(energyClass(null, thresholds)).toBeNull();
  });
});

describe('energy-aware leadership on a stale view', () => {
  const settleMs = 30_000;
  const minTenureMs = 60_000;
  const withRules = (): LeadershipAdvisor =>
    new LeadershipAdvisor({ ...LEADERSHIP_DEFAULTS, ...thresholds, settleMs, minTenureMs });
  // What the leader still believes right after a shared supply failed: the others on mains.
  const stale: VoterEnergy[] = [
    { id: 'n2', summary: mains() },
    { id: 'n3', summary: mains() },
  ];

  it('after its own supply changes, a leader waits settleMs before trusting the others', () => {
    const a = withRules();
    // Leading on mains well past the tenure.
    for (let t = 0; t <= minTenureMs; t += 1000) expect(a.check(t, mains(null), stale, TERM)).toBeNull();
    const cut = minTenureMs + 1000;
    // Critical is urgent, yet nothing moves while gossip may still be bringing the others' change...
    for (let t = cut; t < cut + settleMs; t += 1000) expect(a.check(t, battery(5), stale, TERM)).toBeNull();
    // ...and if the others still look better after that, they are (a single failed supply).
    expect(a.check(cut + settleMs, battery(5), stale, TERM)?.target).toBe('n2');
  });

  it('a class change seen while following counts: elected just after it, a node still waits', () => {
    // No tenure here, to see the settle alone.
    const a = new LeadershipAdvisor({ ...LEADERSHIP_DEFAULTS, ...thresholds, settleMs, minTenureMs: 0 });
    a.observe(0, mains(null));
    a.observe(100_000, battery(5));
    expect(a.check(105_000, battery(5), stale, 7)).toBeNull();
    expect(a.check(100_000 + settleMs - 1, battery(5), stale, 7)).toBeNull();
    expect(a.check(100_000 + settleMs, battery(5), stale, 7)?.target).toBe('n2');
  });

  it('a node that just took leadership does not pass it on before minTenureMs', () => {
    const a = withRules();
    // Critical from its first sample (no class change to settle), elected in term 4 at 10 s.
    a.observe(0, battery(5));
    for (let t = 10_000; t < 10_000 + minTenureMs; t += 1000)
      expect(a.check(t, battery(5), stale, 4)).toBeNull();
    expect(a.check(10_000 + minTenureMs, battery(5), stale, 4)?.target).toBe('n2');
    // A new term (it lost and won again) starts a new tenure.
    const later = 10_000 + minTenureMs + LEADERSHIP_DEFAULTS.cooldownMs;
    expect(a.check(later, battery(5), stale, 6)).toBeNull();
  });

  it('the first class seen is no change: a node that starts on battery is not held by the settle', () => {
    const a = new LeadershipAdvisor({ ...LEADERSHIP_DEFAULTS, ...thresholds, settleMs, minTenureMs: 0 });
    expect(a.check(0, battery(5), stale, TERM)?.target).toBe('n2');
  });
});
