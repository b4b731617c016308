/**
 * EnergyComponent in-process against the fixture sysfs trees (test/fixtures):
 * /v1/energy carries the model's numbers for the fixture, the summary reaches
 * gossip only when it moved, work counters start at this run's baseline, the
 * Prometheus samples follow the sensors, and two real gossiping nodes see
 * each other's power in /v1/members and /v1/energy/swarm.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../src/api/app.js';
import { energyRoutes, swarmEnergyResponse } from '../../src/api/energy.js';
import { energyResponseSchema, swarmEnergyResponseSchema } from '../../src/api/energy-types.js';
import { membersRoutes } from '../../src/api/members.js';
import { membersResponseSchema } from '../../src/api/members-types.js';
import { defaultConfig, type SwarmConfig } from '../../src/config/index.js';
import { LEADERSHIP_DEFAULTS, toEnergyMeta } from '../../src/energy/index.js';
import {
  EnergyComponent,
  changedMeaningfully,
  type EnergyGossipSource,
  type EnergyLeadershipTarget,
  type EnergyRaftSource,
} from '../../src/node/energy-component.js';
import { formatMetrics, parsePrometheus } from '../../src/cli/commands/swarm.js';
import { GossipComponent, type GossipView, type LocalMeta } from '../../src/node/gossip-component.js';
import { SwarmNode } from '../../src/node/node.js';
import { memberRecord } from '../helpers/member-record.js';

const SYSROOT = fileURLToPath(new URL('../fixtures/sysroot/', import.meta.url));
let root: string;
const running: SwarmNode[] = [];

function config(name: string, deviceClass = 'full'): SwarmConfig {
  const c = defaultConfig();
  c.node.name = name;
  c.node.device_class = deviceClass as SwarmConfig['node']['device_class'];
  c.node.data_dir = mkdtempSync(join(root, `${name}-`));
  c.network.bind_address = '127.0.0.1';
  c.network.gossip_port = 0;
  c.network.multicast_enabled = false;
  // The tests drive collect() themselves; a long interval keeps the timer out of the way.
  c.energy.collection_interval_ms = 3_600_000;
  return c;
}

/** Records what would be advertised; its view carries settable counters. */
class FakeGossip implements EnergyGossipSource {
  readonly published: LocalMeta[] = [];
  events = 0;
  packets = 0;
  setLocalMeta(partial: LocalMeta): void {
    this.published.push(partial);
  }
  view(): GossipView {
    return {
      core: { eventsDelivered: this.events },
      transport: {
        packetsIn: this.packets,
        packetsOut: this.packets,
        bytesIn: 100 * this.packets,
        bytesOut: 0,
      },
    } as unknown as GossipView;
  }
}

class FakeRaft implements EnergyRaftSource {
  commit = 0;
  /** Raft TCP frames each way, 64 bytes each out. */
  frames = 0;
  transportStats(): { packetsIn: number; packetsOut: number; bytesIn: number; bytesOut: number } {
    return { packetsIn: this.frames, packetsOut: this.frames, bytesIn: 0, bytesOut: 64 * this.frames };
  }
  info(): { commit: number; applied: number } {
    return { commit: this.commit, applied: this.commit };
  }
  readonly metrics = {
    fsyncSeconds: {
      count: 0,
    },
  };
}

async function startEnergy(
  device: string,
  deviceClass = 'full',
  opts: { gossip?: EnergyGossipSource; raft?: EnergyRaftSource; enabled?: boolean } = {},
): Promise<{ node: SwarmNode; energy: EnergyComponent; clock: { t: number } }> {
  const clock = { t: 1_000_000 };
  const c = config(device, deviceClass);
  c.energy.enabled = opts.enabled ?? true;
  const node = new SwarmNode(c);
  const energy = new EnergyComponent({
    sysfsRoot: join(SYSROOT, device),
    clock: () => clock.t,
    ...(opts.gossip ? { gossip: opts.gossip } : {}),
    ...(opts.raft ? { raft: opts.raft } : {}),
  });
  node.register(energy);
  await node.start();
  running.push(node);
  return { node, energy, clock };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-energy-comp-'));
});

afterEach(async () => {
  for (const n of running.splice(0)) await n.stop();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('EnergyComponent', () => {
  it('/v1/energy returns the model numbers for the rpi4 fixture (full class, mains, no battery)', async () => {
    const gossip = new FakeGossip();
    const { node, energy, clock } = await startEnergy('rpi4', 'full', { gossip });
    // The fixture's /proc/stat does not move between reads, so CPU load stays unknown: idle power.
    clock.t += 10_000;
    await energy.collect();
    const app = createApi(node, { routes: [energyRoutes(energy, gossip)] });
    const res = await app.request('/v1/energy');
    expect(res.status).toBe(200);
    const e = energyResponseSchema.parse(await res.json());
    expect(e.device_class).toBe('full');
    expect(e.power).toMatchObject({ watts: 2.7, source: 'model_no_cpu', measured: false, model_watts: 2.7 });
    expect(e.temperature_c).toBe(48.312);
    expect(e.mains_online).toBe(true);
    expect(e.battery).toBeNull();
    expect(e.missing_sensors.battery).toMatch(/no battery/);
    expect(e.energy.joules).toBeCloseTo(27, 9);
    expect(e.energy.watt_hours).toBeCloseTo(27 / 3600, 12);
    expect(e.energy.average_watts).toBeCloseTo(2.7, 9);
    expect(e.energy.peak_watts).toBe(2.7);
    expect(e.energy.samples).toBe(2);
    // One power figure per sample, oldest first.
    expect(e.power_history).toEqual([2.7, 2.7]);
    // 27 J = 7.5e-6 kWh, x 400 g/kWh.
    expect(e.carbon).toEqual({
      grams: expect.closeTo(0.003, 12) as number,
      intensity_g_per_kwh: 400,
      band: 'high',
    });
    expect(e.at).toBe(new Date(clock.t).toISOString());
  });

  it('pi-zero on a battery HAT: measured power from the battery, battery in the summary sent to gossip', async () => {
    const gossip = new FakeGossip();
    const { energy } = await startEnergy('pi-zero-2w-hat', 'minimal', { gossip });
    const s = energy.snapshot()!;
    expect(s.power.source).toBe('battery');
    expect(s.power.watts).toBeCloseTo(1.2012, 12);
    expect(s.battery).toMatchObject({ percent: 64, status: 'discharging', onBattery: true });
    expect(gossip.published).toHaveLength(1);
    expect(gossip.published[0]).toMatchObject(toEnergyMeta(energy.summary()!));
    expect(gossip.published[0]).toMatchObject({ battery: 64, powerW: 1.201 });
  });

  it('republishes only on a meaningful change: figures at most every 10 min, a state change at once', async () => {
    const gossip = new FakeGossip();
    const { energy, clock } = await startEnergy('rpi4', 'full', { gossip });
    for (let i = 0; i < 5; i++) {
      clock.t += 1000;
      await energy.collect();
    }
    // The first sample has no rating yet (no energy spent); the second rates the idle node (no work:
    // idle). A first rating goes out at once (peers show the node unrated until then), once per life.
    expect(gossip.published).toHaveLength(2);
    expect(gossip.published[0]!.rating).toBeUndefined();
    expect(gossip.published[1]).toMatchObject({ powerW: 2.7, rating: 'idle' });
    clock.t += 25_000;
    await energy.collect();
    expect(gossip.published).toHaveLength(2);
    // Same power, state and rating every time from then on: no further incarnation bumps.
    for (let i = 0; i < 5; i++) {
      clock.t += 40_000;
      await energy.collect();
    }
    expect(gossip.published).toHaveLength(2);
    expect(energy.publishCount()).toBe(2);

    const base = { powerW: 2.7, powerState: 'idle' };
    expect(changedMeaningfully(base, { ...base, powerW: 2.72 })).toBe(false);
    // 0.4 W is under 20 % of 2.7 W: CPU jitter on mains is not republished.
    expect(changedMeaningfully(base, { ...base, powerW: 3.1 })).toBe(false);
    expect(changedMeaningfully(base, { ...base, powerW: 3.3 })).toBe(true);
    expect(changedMeaningfully(base, { ...base, powerState: 'active' })).toBe(true);
    expect(changedMeaningfully(base, { ...base, rating: 'B' })).toBe(true);
    expect(changedMeaningfully({ ...base, battery: 50 }, base)).toBe(true);
    expect(changedMeaningfully(null, base)).toBe(true);
  });

  it('a battery turning critical is published at the sample, and stretches the sampler x4 (power mode)', async () => {
    const tree = mkdtempSync(join(root, 'tree-'));
    cpSync(join(SYSROOT, 'pi-zero-2w-hat'), tree, { recursive: true });
    const gossip = new FakeGossip();
    const clock = { t: 1_000_000 };
    const c = config('crit', 'minimal');
    c.energy.collection_interval_ms = 60_000;
    const node = new SwarmNode(c);
    const energy = new EnergyComponent({ sysfsRoot: tree, clock: () => clock.t, gossip });
    node.register(energy);
    await node.start();
    running.push(node);
    const modes: string[] = [];
    energy.onPowerMode((m) => modes.push(m));
    expect(energy.powerMode()).toBe('normal');
    expect(energy.samplingIntervalMs()).toBe(60_000);
    const published = gossip.published.length;
    // One second later (well inside the 10 min figure interval), the battery is at 5 %: below critical (10 %).
    writeFileSync(join(tree, 'sys/class/power_supply/bq27441-0/capacity'), '5\n');
    clock.t += 1000;
    await energy.collect();
    expect(gossip.published).toHaveLength(published + 1);
    expect(gossip.published.at(-1)).toMatchObject({ battery: 5, powerState: 'critical' });
    expect(energy.powerMode()).toBe('emergency');
    expect(modes).toEqual(['emergency']);
    expect(energy.samplingIntervalMs()).toBe(240_000);
    // 12 % is above critical but within its 5-point margin: still emergency; 20 % is low power (x2).
    writeFileSync(join(tree, 'sys/class/power_supply/bq27441-0/capacity'), '12\n');
    clock.t += 1000;
    await energy.collect();
    expect(energy.powerMode()).toBe('emergency');
    writeFileSync(join(tree, 'sys/class/power_supply/bq27441-0/capacity'), '20\n');
    clock.t += 1000;
    await energy.collect();
    expect(energy.powerMode()).toBe('low_power');
    expect(energy.samplingIntervalMs()).toBe(120_000);
    expect(modes).toEqual(['emergency', 'low_power']);
  });

  it('Prometheus omits a sensor that vanished (not 0) and shows it again when it returns', async () => {
    const tree = mkdtempSync(join(root, 'tree-'));
    cpSync(join(SYSROOT, 'pi-zero-2w-hat'), tree, { recursive: true });
    const bat = join(tree, 'sys/class/power_supply/bq27441-0');
    const saved = mkdtempSync(join(root, 'bat-'));
    const clock = { t: 1_000_000 };
    const node = new SwarmNode(config('vanish', 'minimal'));
    const energy = new EnergyComponent({ sysfsRoot: tree, clock: () => clock.t });
    node.register(energy);
    await node.start();
    running.push(node);
    expect(await energy.registry.metrics()).toMatch(/^swarm_energy_battery_percent 64$/m);
    // The battery is unplugged: its directory disappears from sysfs.
    cpSync(bat, saved, { recursive: true });
    rmSync(bat, { recursive: true, force: true });
    clock.t += 1000;
    await energy.collect();
    const text = await energy.registry.metrics();
    expect(text).not.toMatch(/swarm_energy_battery_percent/);
    expect(text).toMatch(/^swarm_energy_power_watts\{/m);
    cpSync(saved, bat, { recursive: true });
    clock.t += 1000;
    await energy.collect();
    expect(await energy.registry.metrics()).toMatch(/^swarm_energy_battery_percent 64$/m);
  });

  it('clears a published battery figure when the node is back on mains', async () => {
    const gossip = new FakeGossip();
    await startEnergy('rpi4', 'full', { gossip });
    // Metadata is merged by the gossip component, so the absent battery must be an explicit undefined.
    expect('battery' in gossip.published[0]!).toBe(true);
    expect(gossip.published[0]!.battery).toBeUndefined();
  });

  it('counts work from this run only, and the efficiency score follows it', async () => {
    const gossip = new FakeGossip();
    const raft = new FakeRaft();
    raft.commit = 500; // committed in an earlier life of the node
    const { energy, clock } = await startEnergy('rpi4', 'full', { gossip, raft });
    clock.t += 10_000;
    let s = (await energy.collect())!;
    expect(s.efficiency.windowWorkUnits).toBe(0);
    expect(s.efficiency.score).toBe(0);
    // Energy spent, no work done: idle, not F.
    expect(s.efficiency.rating).toBe('idle');

    raft.commit = 600;
    raft.metrics.fsyncSeconds.count = 40;
    gossip.events = 10;
    gossip.packets = 50;
    raft.frames = 30;
    clock.t += 10_000;
    s = (await energy.collect())!;
    expect(s.efficiency.windowWorkUnits).toBeGreaterThan(0);
    expect(s.efficiency.score).toBeGreaterThan(0);
    // Gossip's 50 UDP packets and Raft's 30 TCP frames each way over 10 s.
    expect(s.protocol.packetsSentPerS).toBe(8);
    expect(s.protocol.packetsReceivedPerS).toBe(8);
    // 50 x 100 B gossip in, 30 x 64 B Raft out.
    expect(s.protocol.bytesPerS).toBe(692);
    expect(s.protocol.fsyncsPerS).toBe(4);
    expect(s.protocol.joules).toBeGreaterThan(0);
  });

  it('registers Prometheus samples that follow the sensors', async () => {
    const { energy, clock } = await startEnergy('rpi4', 'full');
    clock.t += 10_000;
    await energy.collect();
    const text = await energy.registry.metrics();
    expect(text).toContain('swarm_energy_power_watts{source="model_no_cpu"} 2.7');
    expect(text).toMatch(/# TYPE swarm_energy_consumed_joules_total counter\n/);
    expect(text).toMatch(/swarm_energy_consumed_joules_total 27(\.0*\d*)?\n/);
    expect(text).toContain('swarm_energy_cpu_temperature_celsius 48.312');
    expect(text).toContain('swarm_energy_power_state{state="idle"} 1');
    // No battery in this tree: no battery sample at all, rather than a zero.
    expect(text).not.toMatch(/^swarm_energy_battery_percent /m);

    const bat = await startEnergy('pi-zero-2w-hat', 'minimal');
    expect(await bat.energy.registry.metrics()).toMatch(/^swarm_energy_battery_percent 64$/m);
  });

  it('with [energy] enabled = false: no sampling, /v1/energy answers 503 energy_disabled', async () => {
    const gossip = new FakeGossip();
    const { node, energy } = await startEnergy('rpi4', 'full', { gossip, enabled: false });
    expect(energy.snapshot()).toBeNull();
    expect(gossip.published).toHaveLength(0);
    const app = createApi(node, { routes: [energyRoutes(energy, gossip)] });
    const res = await app.request('/v1/energy');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'energy_disabled' } });
  });

  it('swarm totals skip dead members and average the ratings', () => {
    const member = (id: string, status: number, meta: Record<string, unknown>): unknown => ({
      record: memberRecord(id, status, meta),
      status: ['alive', 'suspect', 'dead', 'left'][status],
      lastChangeMs: 0,
      self: id === 'a',
    });
    const view = {
      selfId: 'a',
      members: [
        member('a', 0, { powerW: 1.5, powerState: 'idle', rating: 'A+' }),
        member('b', 1, { powerW: 0.5, battery: 40, powerState: 'active', rating: 'C' }),
        member('c', 2, { powerW: 9, rating: 'F' }),
        member('d', 0, {}),
      ],
    } as unknown as GossipView;
    const r = swarmEnergyResponseSchema.parse(swarmEnergyResponse(view));
    expect(r.members.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd']);
    // (6 + 3) / 2 = 4.5 rounds to 5 = A; the dead member's F does not count.
    expect(r.totals).toEqual({
      power_w: 2,
      members: 3,
      members_reporting: 2,
      on_battery: 1,
      average_rating: 'A',
    });
  });

  it("two gossiping nodes: one node's energy summary shows in the other's /v1/members and /v1/energy/swarm", async () => {
    const start = async (
      name: string,
      device: string,
      cls: string,
      seeds: string[],
    ): Promise<{ node: SwarmNode; gossip: GossipComponent }> => {
      const c = config(name, cls);
      c.network.join = seeds;
      const node = new SwarmNode(c);
      const gossip = new GossipComponent({ core: { probeIntervalMs: 200, probeTimeoutMs: 100 } });
      node.register(gossip).register(new EnergyComponent({ gossip, sysfsRoot: join(SYSROOT, device) }));
      await node.start();
      running.push(node);
      return { node, gossip };
    };
    const a = await start('bat', 'pi-zero-2w-hat', 'minimal', []);
    const b = await start('mains', 'rpi4', 'full', [a.node.status().addresses.gossip!]);
    const app = createApi(b.node, {
      routes: [membersRoutes(b.gossip), energyRoutes(b.node.component<EnergyComponent>('energy')!, b.gossip)],
    });
    const end = Date.now() + 8000;
    let seen = false;
    for (let i = 0; i < 400 && Date.now() < end && !seen; i++) {
      const m = membersResponseSchema.parse(await (await app.request('/v1/members')).json());
      seen = m.members.some((x) => x.id === a.node.id && x.energy?.battery_percent === 64);
      if (!seen) await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBe(true);
    const m = membersResponseSchema.parse(await (await app.request('/v1/members')).json());
    expect(m.members.find((x) => x.id === a.node.id)?.energy).toEqual({
      power_w: 1.201,
      battery_percent: 64,
      power_state: expect.any(String) as string,
      rating: null,
    });
    const sw = swarmEnergyResponseSchema.parse(await (await app.request('/v1/energy/swarm')).json());
    expect(sw.self).toBe(b.node.id);
    expect(sw.totals.members).toBe(2);
    expect(sw.totals.members_reporting).toBe(2);
    expect(sw.totals.on_battery).toBe(1);
    expect(sw.totals.power_w).toBeCloseTo(1.201 + 2.7, 9);
  });

  it('swarm metrics parses the Prometheus text: labels, escapes, histogram series under their family', () => {
    const text = [
      '# HELP swarm_x_total Things.',
      '# TYPE swarm_x_total counter',
      'swarm_x_total{kind="a \\"quoted\\" b",zone="lab"} 3',
      '# HELP swarm_lat_seconds Latency.',
      '# TYPE swarm_lat_seconds histogram',
      'swarm_lat_seconds_bucket{le="0.1"} 1',
      'swarm_lat_seconds_bucket{le="+Inf"} 2',
      'swarm_lat_seconds_sum 0.25',
      'swarm_lat_seconds_count 2',
      '# HELP swarm_empty Nothing sampled.',
      '# TYPE swarm_empty gauge',
      '',
    ].join('\n');
    const f = parsePrometheus(text);
    expect(f.map((x) => x.name)).toEqual(['swarm_x_total', 'swarm_lat_seconds']);
    expect(f[0]).toEqual({
      name: 'swarm_x_total',
      type: 'counter',
      help: 'Things.',
      samples: [{ name: 'swarm_x_total', labels: { kind: 'a "quoted" b', zone: 'lab' }, value: 3 }],
    });
    expect(f[1]!.samples.map((x) => x.name)).toEqual([
      'swarm_lat_seconds_bucket',
      'swarm_lat_seconds_bucket',
      'swarm_lat_seconds_sum',
      'swarm_lat_seconds_count',
    ]);
    const table = formatMetrics(f);
    expect(table).not.toContain('_bucket');
    expect(table).toMatch(/^swarm_lat_seconds_count +- +histogram +2$/m);
  });
});

describe('EnergyComponent: energy-aware leadership', () => {
  /** The Pi Zero battery fixture, with the charge set to `percent`. */
  function batteryRoot(percent: number): string {
    const dir = mkdtempSync(join(root, 'sysroot-'));
    cpSync(join(SYSROOT, 'pi-zero-2w-hat'), dir, { recursive: true });
    const bat = join(dir, 'sys/class/power_supply/bq27441-0');
    writeFileSync(join(bat, 'capacity'), `${percent}\n`);
    writeFileSync(join(bat, 'charge_now'), `${Math.round(1_900_000 * (percent / 100))}\n`);
    return dir;
  }

  class Leader implements EnergyLeadershipTarget {
    role = 'leader';
    term = 1;
    transfers: string[] = [];
    scales: number[] = [];
    info(): { self: string; role: string; term: number; voters: string[] } {
      return { self: 'me', role: this.role, term: this.term, voters: ['me', 'mains-1', 'dead-1'] };
    }
    transferLeadershipTo(target: string): boolean {
      this.transfers.push(target);
      return true;
    }
    setElectionTimeoutScale(scale: number): void {
      this.scales.push(scale);
    }
  }

  /** Gossip whose view lists a live mains voter and a dead voter. */
  class SwarmGossip extends FakeGossip {
    constructor(private readonly mainsRating: string) {
      super();
    }
    override view(): GossipView {
      const member = (id: string, status: string, meta: Record<string, unknown>) => ({
        record: { id, meta },
        status,
        self: false,
        lastChangeMs: 0,
      });
      return {
        ...super.view(),
        members: [
          member('mains-1', 'alive', { powerW: 2.7, powerState: 'idle', rating: this.mainsRating }),
          member('dead-1', 'dead', { powerW: 2.7, powerState: 'idle', rating: 'A' }),
        ],
      } as unknown as GossipView;
    }
  }

  async function start(percent: number, leadership: Leader, mainsRating = 'B') {
    const clock = { t: 1_000_000 };
    const node = new SwarmNode(config(`bat${percent}`, 'standard'));
    const sysroot = batteryRoot(percent);
    const energy = new EnergyComponent({
      sysfsRoot: sysroot,
      clock: () => clock.t,
      gossip: new SwarmGossip(mainsRating),
      leadership,
    });
    node.register(energy);
    await node.start();
    running.push(node);
    /** Samples every second for `ms`. */
    const collectFor = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 1000) {
        clock.t += 1000;
        await energy.collect();
      }
    };
    return { energy, clock, sysroot, collectFor };
  }

  it('a leader on a low battery hands over to the live mains voter after its tenure and the confirming checks', async () => {
    const leader = new Leader();
    const { energy, clock, collectFor } = await start(20, leader);
    // start() took the first sample, the first check in term 1: no energy transfer within the tenure.
    await collectFor(LEADERSHIP_DEFAULTS.minTenureMs - 1000);
    expect(leader.transfers).toEqual([]);
    // Then three checks confirm the condition.
    await collectFor(2000);
    expect(leader.transfers).toEqual([]);
    clock.t += 1000;
    await energy.collect();
    expect(leader.transfers).toEqual(['mains-1']);
    // Below the low-power threshold the node also waits twice as long before standing for election.
    expect(leader.scales).toEqual([2]);
    // The cooldown keeps leadership from bouncing.
    for (let i = 0; i < 5; i++) {
      clock.t += 1000;
      await energy.collect();
    }
    expect(leader.transfers).toEqual(['mains-1']);
  });

  it('a leader on a healthy battery keeps leading; a follower never transfers', async () => {
    // An idle node does no useful work and rates F; so does the mains voter here: no rating gap.
    const healthy = new Leader();
    const a = await start(64, healthy, 'F');
    const follower = new Leader();
    follower.role = 'follower';
    const b = await start(20, follower);
    for (let i = 0; i < 5; i++) {
      a.clock.t += 1000;
      b.clock.t += 1000;
      await a.energy.collect();
      await b.energy.collect();
    }
    expect(healthy.transfers).toEqual([]);
    expect(healthy.scales).toEqual([1.5]);
    expect(follower.transfers).toEqual([]);
    expect(follower.scales).toEqual([2]);
  });

  it('a leader whose battery turns critical waits settleMs before trusting its view of the others', async () => {
    // A healthy battery leader (rated like the mains voter: nothing to hand over for), past its tenure.
    const leader = new Leader();
    const { sysroot, collectFor } = await start(64, leader, 'F');
    await collectFor(LEADERSHIP_DEFAULTS.minTenureMs + 5000);
    expect(leader.transfers).toEqual([]);
    // The battery drops to 5 %: the others' records may not show yet that they dropped with it.
    const bat = join(sysroot, 'sys/class/power_supply/bq27441-0');
    writeFileSync(join(bat, 'capacity'), '5\n');
    writeFileSync(join(bat, 'charge_now'), `${Math.round(1_900_000 * 0.05)}\n`);
    // The sample that sees it starts the settle.
    await collectFor(1000);
    await collectFor(LEADERSHIP_DEFAULTS.settleMs - 1000);
    expect(leader.transfers).toEqual([]);
    // Past the settle the mains voter still looks better, and critical needs no confirming checks.
    await collectFor(1000);
    expect(leader.transfers).toEqual(['mains-1']);
  });

  it('a node that takes leadership in a new term holds it for the 60 s tenure', async () => {
    const node = new Leader();
    node.role = 'follower';
    const { collectFor } = await start(5, node);
    await collectFor(120_000);
    expect(node.transfers).toEqual([]);
    // Elected (term 2): critical, a mains voter in view, but a node just handed leadership may have
    // been handed it on a stale view; it does not pass it straight on.
    node.role = 'leader';
    node.term = 2;
    await collectFor(60_000);
    expect(node.transfers).toEqual([]);
    await collectFor(1000);
    expect(node.transfers).toEqual(['mains-1']);
  });
});
