/**
 * A battery drain in the simulator: battery-powered members' controllers go
 * conservative then emergency, and the gossip packets they send per second
 * fall with each step. Mains-powered members stay normal. Seeded, bounded.
 */
import { describe, expect, it } from 'vitest';
import {
  EnergyMonitor,
  energyConfigFromSections,
  toEnergyMeta,
  fromEnergyMeta,
} from '../../src/energy/index.js';
import {
  AdaptiveGossipController,
  adaptiveConfigFromSections,
  type GossipMode,
} from '../../src/gossip/adaptive.js';
import { GossipSim } from '../../src/sim/gossip/driver.js';

const NODES = 10;
const BATTERY = ['n0', 'n1', 'n2'];
const SECOND = 1000;

interface Phase {
  mode: GossipMode;
  packets: number;
  seconds: number;
}

function run(seed: number) {
  const sim = new GossipSim({ seed, config: { gossipIntervalMs: 1000, fanout: 3 } });
  const ids = sim.bootstrap(NODES);
  const monitors = new Map<string, EnergyMonitor>();
  const controllers = new Map<string, AdaptiveGossipController>();
  for (const id of ids) {
    const cls = BATTERY.includes(id) ? 'minimal' : 'full';
    monitors.set(id, new EnergyMonitor(energyConfigFromSections({ node: { device_class: cls } })));
    controllers.set(
      id,
      new AdaptiveGossipController(adaptiveConfigFromSections({ gossip: { interval_ms: 1000, fanout: 3 } })),
    );
  }
  // Packets sent per source, counted at the driver's network.
  const sent = new Map<string, number>();
  const route = sim.net.route.bind(sim.net);
  sim.net.route = (from, to, bytes) => {
    sent.set(from, (sent.get(from) ?? 0) + 1);
    return route(from, to, bytes);
  };

  const phases = new Map<string, Phase[]>();
  const seenSummaries = new Map<string, number | null>();
  const totalS = 240;
  for (let s = 1; s <= totalS; s++) {
    // Two events per second from mains nodes keep dissemination busy (between quiet and high activity).
    sim.broadcast(`n${3 + (s % 7)}`, new Uint8Array(64));
    sim.broadcast(`n${3 + ((s + 3) % 7)}`, new Uint8Array(64));
    sim.run(s * SECOND);
    for (const id of ids) {
      // Battery members drain from 60 % to 0 % over the run; mains members report no battery.
      const battery = BATTERY.includes(id)
        ? {
            percent: Math.max(0, 60 - Math.floor((s * 60) / 200)),
            status: 'discharging' as const,
            powerW: 0.3,
          }
        : null;
      const snap = monitors
        .get(id)!
        .sample(s * SECOND, { cpuUtilisation: 0.2, battery, mainsOnline: battery === null });
      const summary = monitors.get(id)!.summary()!;
      if (s % 5 === 0) {
        const stats = sim.node(id).stats();
        const r = controllers.get(id)!.evaluate(s * SECOND, {
          ...stats,
          batteryPercent: snap.battery?.percent ?? null,
          onBattery: snap.battery?.onBattery ?? false,
          powerState: snap.state,
        });
        if (r.changed) sim.with(id, (core) => core.setParams({ intervalMs: r.intervalMs, fanout: r.fanout }));
        sim.with(id, (core, now) => core.updateMeta(toEnergyMeta(summary), now));
      }
      const list = phases.get(id) ?? [];
      const mode = controllers.get(id)!.current().mode;
      const cur = list[list.length - 1];
      const pkts = sent.get(id) ?? 0;
      sent.set(id, 0);
      if (cur === undefined || cur.mode !== mode) list.push({ mode, packets: pkts, seconds: 1 });
      else {
        cur.packets += pkts;
        cur.seconds += 1;
      }
      phases.set(id, list);
    }
  }
  for (const id of ids) {
    seenSummaries.set(id, fromEnergyMeta(sim.node('n9').member(id)?.meta)?.batteryPercent ?? null);
  }
  return { phases, seenSummaries, controllers };
}

describe('simulated battery drain', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: conservative then emergency, fewer packets per second at each step`, () => {
      const { phases, seenSummaries, controllers } = run(seed);
      const perMode = new Map<GossipMode, { packets: number; seconds: number }>();
      for (const id of BATTERY) {
        const p = phases.get(id)!;
        expect(
          p.map((x) => x.mode),
          id,
        ).toEqual(['normal', 'conservative', 'emergency']);
        for (const x of p) {
          const m = perMode.get(x.mode) ?? { packets: 0, seconds: 0 };
          m.packets += x.packets;
          m.seconds += x.seconds;
          perMode.set(x.mode, m);
        }
        expect(controllers.get(id)!.current().reason).toMatch(
          /-> emergency: battery \d+% below critical 10%/,
        );
      }
      // Packets per second sent by the battery members fall at each step (averaged over the three).
      const rate = (m: GossipMode): number => perMode.get(m)!.packets / perMode.get(m)!.seconds;
      expect(rate('conservative')).toBeLessThan(rate('normal'));
      expect(rate('emergency')).toBeLessThan(rate('conservative'));
      for (const id of ['n3', 'n4', 'n5']) expect(phases.get(id)!.map((x) => x.mode)).toEqual(['normal']);
      // Every member sees the battery members' summaries through gossip metadata.
      for (const id of BATTERY) expect(seenSummaries.get(id)).toBeLessThan(10);
      expect(seenSummaries.get('n5')).toBeNull();
    });
  }
});
