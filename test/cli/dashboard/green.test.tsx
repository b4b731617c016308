/** `swarm swarm green`: the model over recorded polls and the ink view (ink-testing-library). */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from 'ink-testing-library';
import {
  adaptiveReason,
  applyGreenPoll,
  forecastText,
  emptyGreenModel,
  pollGreen,
  type GreenModel,
  type GreenSample,
} from '../../../src/cli/dashboard/green.js';
import { GreenView } from '../../../src/cli/dashboard/view.js';
import { ApiRequestError, NodeUnreachableError } from '../../../src/client/errors.js';
import type { EnergyResponse } from '../../../src/api/energy-types.js';
import type { MemberView } from '../../../src/api/members-types.js';
import { T0, energyResponse, member, membersResponse, swarmEnergyResponse, three } from './fixtures.js';
import { frameOf } from './frame.js';

afterEach(() => cleanup());

const ok = (
  at: number,
  watts = 1.4945,
  members: MemberView[] = three(),
  e?: Partial<EnergyResponse>,
): GreenSample => ({
  at,
  energy: energyResponse({ ...e, power: { ...energyResponse().power, watts, ...e?.power } }, at),
  energyError: null,
  swarm: swarmEnergyResponse(members),
  members: membersResponse(members, {
    adaptive: {
      enabled: true,
      mode: 'conservative',
      interval_ms: 2000,
      fanout: 2,
      reason: 'normal -> conservative: event rate 0.00/s <= 0.1/s on a healthy network',
      changed_at: new Date(T0 - 30_000).toISOString(),
    },
  }),
  error: null,
});
const down = (at: number): GreenSample => ({
  at,
  energy: null,
  energyError: null,
  swarm: null,
  members: null,
  error: 'connection refused',
});

const onBattery = (percent: number): EnergyResponse['battery'] => ({
  percent,
  status: 'discharging',
  on_battery: true,
  power_w: 2.1,
  time_to_empty_s: 7380,
  time_to_full_s: null,
  forecast_basis: 'discharge rate',
});

function run(samples: GreenSample[]): GreenModel {
  return samples.reduce((m, s) => applyGreenPoll(m, s), emptyGreenModel());
}

const frame = (model: GreenModel, width = 120, height = 40): string =>
  frameOf(GreenView, model, width, height);

const rising = (): GreenModel => run([1.2, 1.3, 1.4, 1.5].map((w, i) => ok(T0 + i * 1000, w)));

describe('green model', () => {
  it('builds the power history from new energy samples only, not from repeated polls of the same sample', () => {
    const m = run([ok(T0, 1.2), ok(T0 + 1000, 1.3)]);
    expect(m.power).toEqual([1.2, 1.3]);
    const same = applyGreenPoll(m, { ...ok(T0 + 1500, 9), energy: m.energy });
    expect(same.power).toEqual([1.2, 1.3]);
    expect(m.swarmPower).toHaveLength(2);
  });

  it("starts the sparkline from the node's own power history, then extends it sample by sample", () => {
    const first = ok(T0, 1.5);
    const seeded = applyGreenPoll(emptyGreenModel(), {
      ...first,
      energy: { ...first.energy!, power_history: [1.1, 1.2, 1.4, 1.5] },
    });
    expect(seeded.power).toEqual([1.1, 1.2, 1.4, 1.5]);
    const next = applyGreenPoll(seeded, ok(T0 + 1000, 1.6));
    expect(next.power).toEqual([1.1, 1.2, 1.4, 1.5, 1.6]);
  });

  it('a failed poll keeps the last data and history and flags reconnecting; the next answer clears it', () => {
    const lost = applyGreenPoll(rising(), down(T0 + 5000));
    expect(lost.reconnecting).toBe(true);
    expect(lost.error).toBe('connection refused');
    expect(lost.energy?.power.watts).toBe(1.5);
    expect(lost.power).toEqual([1.2, 1.3, 1.4, 1.5]);
    const back = applyGreenPoll(lost, ok(T0 + 6000, 1.1));
    expect(back.reconnecting).toBe(false);
    expect(back.power).toEqual([1.2, 1.3, 1.4, 1.5, 1.1]);
  });

  it('pollGreen: unreachable is an error; an energy API error alone leaves the rest of the view', async () => {
    const s = ok(T0);
    const unreachable = await pollGreen(
      {
        energy: () => Promise.reject(new NodeUnreachableError('http://127.0.0.1:1', 'connection refused')),
        energySwarm: () =>
          Promise.reject(new NodeUnreachableError('http://127.0.0.1:1', 'connection refused')),
        members: () => Promise.reject(new NodeUnreachableError('http://127.0.0.1:1', 'connection refused')),
      },
      () => T0,
    );
    expect(unreachable.error).toBe('connection refused');
    const disabled = await pollGreen(
      {
        energy: () =>
          Promise.reject(
            new ApiRequestError(
              503,
              'energy_disabled',
              'energy monitoring is off ([energy] enabled = false)',
            ),
          ),
        energySwarm: () => Promise.resolve(s.swarm!),
        members: () => Promise.resolve(s.members!),
      },
      () => T0,
    );
    expect(disabled.error).toBeNull();
    expect(disabled.energy).toBeNull();
    expect(disabled.energyError).toContain('energy monitoring is off');
    expect(disabled.swarm?.members).toHaveLength(3);
  });

  it("the mode's reason is the node's own; without one it is derived from the battery and budget", () => {
    const m = ok(T0).members!;
    expect(adaptiveReason(m, energyResponse())).toMatch(/^normal -> conservative: event rate/);
    const silent = { ...m, adaptive: { ...m.adaptive, reason: '' } };
    const battery = onBattery(23.4);
    expect(adaptiveReason(silent, energyResponse({ battery, alarms: ['battery low'] }))).toBe(
      'on battery at 23%; battery low',
    );
    expect(adaptiveReason(silent, energyResponse())).toBe('on mains power');
    expect(adaptiveReason(null, null)).toBe('no energy figures');
  });

  it('the why line follows the cause that holds the mode, not the reason of the last change', () => {
    const m = ok(T0).members!;
    // Conservative since the network went quiet; since then the battery ran low, which now holds the mode.
    const held = {
      ...m,
      adaptive: { ...m.adaptive, cause: 'energy_low', why: 'battery 25% below low-power 30%' },
    };
    expect(adaptiveReason(held, energyResponse())).toBe('conservative: battery 25% below low-power 30%');
  });
});

describe('GreenView', () => {
  it('before the first answer says it is connecting', () => {
    expect(frame(emptyGreenModel())).toContain('connecting…');
  });

  it("three nodes: this node's power with a sparkline, energy, carbon, rating, battery, mode and why; every member", () => {
    const f = frame(rising());
    const lines = f.split('\n');
    expect(lines[0]).toBe('Swarm green  http://127.0.0.1:7001  every 1s');
    expect(f).toMatch(/^This node +node-1 \(standard\) +state active +cpu 100% +temp no sensor$/m);
    // Rising power 1.2 .. 1.5 W, scaled between its lowest and highest value.
    expect(f).toMatch(/^Power +1\.500 W +▁▃▆█ +modelled from CPU load$/m);
    expect(f).toMatch(/^ +average 1\.408 W, peak 1\.500 W$/m);
    expect(f).toMatch(/^Energy +0\.043869 Wh \(157\.93 J\) in 1m52s$/m);
    expect(f).toMatch(/^Carbon +0\.0175 g CO2 at 400 g\/kWh \(high\)$/m);
    expect(f).toMatch(/^Rating +C {2}score 0\.972 work\/J \(lifetime 0\.101\)$/m);
    expect(f).toMatch(/^Battery +none \(mains power\)$/m);
    expect(f).toMatch(/^Gossip +conservative, interval 2000 ms, fanout 2 {2}since 40s ago$/m);
    expect(f).toMatch(/^ {2}why +normal -> conservative: event rate 0\.00\/s/m);
    expect(f).toMatch(/^Protocol +6\.0 pkt\/s out, 6\.0 pkt\/s in, 504 B\/s, 0\.001 W \(0\.1% of power\)$/m);
    expect(f).toMatch(/^No sensor +thermal \(no thermal zones\); battery/m);
    expect(f).toMatch(/^Swarm +3\.810 W +\S+ +3\/3 reporting, 0 on battery, average rating B$/m);
    expect(f).toMatch(/NAME +STATUS +ROLE +CLASS +POWER +STATE +BATTERY +RATING/);
    expect(f).toMatch(/^\*node-1 +alive +leader +standard +1\.260 W +ac +mains +B$/m);
    expect(f).toMatch(/^ node-3 +alive +follower +standard +1\.280 W +ac +mains +B$/m);
  });

  it('a battery node shows its charge and time to empty', () => {
    const battery = onBattery(54.2);
    const f = frame(
      run([
        ok(
          T0,
          2.1,
          [
            member(1, {
              energy: { power_w: 2.1, battery_percent: 54.2, power_state: 'battery', rating: 'A' },
            }),
          ],
          { battery },
        ),
      ]),
    );
    expect(f).toMatch(/^Battery +54% discharging, empty in 2h03m$/m);
    expect(f).toMatch(/^\*node-1 +alive +leader +standard +2\.100 W +battery +54% +A$/m);
  });

  it('a full battery on mains shows no forecast text (it neither empties nor fills)', () => {
    const full: EnergyResponse['battery'] = {
      percent: 100,
      status: 'full',
      on_battery: false,
      power_w: null,
      time_to_empty_s: null,
      time_to_full_s: null,
      forecast_basis: null,
    };
    expect(forecastText(full)).toBeNull();
    expect(forecastText({ ...full, status: 'not_charging' })).toBeNull();
    expect(forecastText({ ...full, status: 'charging', percent: 90 })).toBe('not enough data yet');
    const f = frame(run([ok(T0, 2.1, three(), { battery: full })]));
    expect(f).toMatch(/^Battery +100% full$/m);
  });

  it('an empty swarm shows "(no members)" and zero totals', () => {
    const f = frame(run([ok(T0, 1.4, [])]));
    expect(f).toMatch(/^Swarm +0\.000 W .* 0\/0 reporting, 0 on battery, average rating -$/m);
    expect(f).toContain('(no members)');
  });

  it('missing sensors: no temperature, CPU, rating or member figures show as such, never as numbers', () => {
    const e: Partial<EnergyResponse> = {
      power: { ...energyResponse().power, cpu_utilisation: null, source: 'model_no_cpu' },
      efficiency: { ...energyResponse().efficiency, score: null, rating: null, lifetime_score: null },
    };
    const f = frame(run([ok(T0, 1.0, [member(1, { energy: null }), member(2)], e)]));
    expect(f).toMatch(/cpu - +temp no sensor/);
    expect(f).toContain('modelled (idle power, CPU load not known yet)');
    expect(f).toMatch(/^Rating +not rated yet/m);
    expect(f).toMatch(/^\*node-1 +alive +leader +standard +- +- +- +-$/m);
    expect(f).toMatch(/1\/2 reporting/);
  });

  it('energy off on the node: says why and still shows the swarm', () => {
    const s = ok(T0);
    const m = run([
      { ...s, energy: null, energyError: 'energy monitoring is off ([energy] enabled = false)' },
    ]);
    const f = frame(m);
    expect(f).toMatch(/^This node +no energy figures: energy monitoring is off/m);
    expect(f).toMatch(/^ node-2 +alive/m);
  });

  it('50 members fit a tall terminal and are cut with "… N more" in a short one', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => member(i + 1));
    const m = run([ok(T0, 1.4, fifty)]);
    expect(frame(m, 120, 80)).toContain('node-50');
    const short = frame(m, 120, 24);
    expect(short.split('\n').length).toBeLessThanOrEqual(24);
    expect(short).toMatch(/… \d+ more/);
    expect(short).not.toContain('node-50');
    expect(short).toMatch(/^Swarm +75\.250 W .* 50\/50 reporting/m);
  });

  it('a narrow terminal keeps name, power and rating and never overflows', () => {
    const f = frame(rising(), 44);
    for (const l of f.split('\n')) expect(Array.from(l).length).toBeLessThanOrEqual(44);
    expect(f).toMatch(/NAME +STATUS +POWER +BATTERY +RATING/);
    expect(f).not.toContain('CLASS');
  });

  it('a node going away: "reconnecting…" banner over the last figures', () => {
    const f = frame(applyGreenPoll(rising(), down(T0 + 6000)));
    expect(f.split('\n')[0]).toContain('reconnecting… (connection refused)');
    expect(f).toMatch(/^Power +1\.500 W +▁▃▆█/m);
    expect(f).toMatch(/^\*node-1 +alive/m);
  });

  it('without colour (NO_COLOR) the frame has no escape codes', () => {
    expect(frame(rising()).includes('\u001b[')).toBe(false);
  });
});
