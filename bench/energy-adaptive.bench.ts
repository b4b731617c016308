/**
 * Gossip cost in each adaptive mode, 25 simulated nodes, and the estimated
 * protocol power that cost means on a `standard` (Pi Zero 2 W class) node.
 *
 * Each mode's interval and fanout come from the controller's own arithmetic
 * (`adaptiveParams`) on the seed defaults ([gossip] interval_ms 1000, fanout 3).
 * Three workloads: idle; every member updating its metadata (its energy
 * summary) every 5 s, which rides the piggyback gossip rounds the
 * controller tunes; and 5 user events/s swarm-wide. The `+probe` rows also
 * stretch the SWIM probe period by the mode's interval multiplier, to show
 * what a runtime gains when it applies the multiplier to probes too (probes
 * are most of an idle swarm's traffic).
 */
import { createRng } from '../src/common/rng.js';
import { PROTOCOL_COSTS } from '../src/energy/protocol.js';
import {
  type GossipMode,
  adaptiveConfigFromSections,
  adaptiveParams,
  initialAdaptiveState,
} from '../src/gossip/adaptive.js';
import { GossipSim } from '../src/sim/gossip/driver.js';
import type { BenchReport } from './types.js';

const NODES = 25;
const WARMUP_MS = 10_000;
const MEASURE_MS = 60_000;
const EVENTS_PER_S = 5;
const MODES: readonly GossipMode[] = ['aggressive', 'normal', 'conservative', 'emergency'];
const META_PERIOD_MS = 5000;

type Workload = 'idle' | 'meta' | 'events';

interface Row {
  mode: string;
  workload: Workload;
  intervalMs: number;
  fanout: number;
  probeIntervalMs: number;
  packetsPerNodePerS: number;
  bytesPerNodePerS: number;
  estProtocolMilliwattsPerNode: number;
  /** Share of user events delivered to every member (1 without events). */
  eventsFullyDelivered: number;
  /** Share of (observer, member) pairs whose view of the member's metadata is current at the end. */
  metaConverged: number;
}

function runOne(mode: GossipMode, workload: Workload, stretchProbes: boolean, seed: number): Row {
  const cfg = adaptiveConfigFromSections({ gossip: { interval_ms: 1000, fanout: 3 } });
  const p = adaptiveParams(cfg, { ...initialAdaptiveState(cfg), mode, swarmSize: NODES });
  const probeIntervalMs = stretchProbes ? Math.round(1000 * p.intervalMultiplier) : 1000;
  const sim = new GossipSim({
    seed,
    link: { latencyMs: 5, jitterMs: 5, loss: 0, duplicate: 0 },
    config: { gossipIntervalMs: p.intervalMs, fanout: p.fanout, probeIntervalMs, probeTimeoutMs: 500 },
  });
  const ids = sim.bootstrap(NODES);
  const delivered = new Map<string, number>();
  sim.onEvent((_id, ev) => {
    if (ev.type === 'user-event') {
      const k = `${ev.event.origin}:${ev.event.seq}`;
      delivered.set(k, (delivered.get(k) ?? 0) + 1);
    }
  });
  const rng = createRng(seed + 1);
  const total = WARMUP_MS + MEASURE_MS;
  let startMsgs = 0;
  let startBytes = 0;
  const stepMs = 1000 / EVENTS_PER_S;
  for (let t = stepMs; t <= total; t += stepMs) {
    if (t === WARMUP_MS) {
      startMsgs = sim.traffic.messages;
      startBytes = sim.traffic.bytes;
    }
    if (workload === 'events' && t > WARMUP_MS && t <= total - 5000) {
      sim.broadcast(ids[rng.int(0, NODES - 1)] as string, new Uint8Array(64));
    }
    if (workload === 'meta' && t > WARMUP_MS && t <= total - 20_000 && t % META_PERIOD_MS === 0) {
      // Each member publishes a fresh energy summary (power moved by a few mW).
      for (const id of ids) {
        const mw = rng.int(100, 999);
        sim.with(id, (core, now) =>
          core.updateMeta({ powerW: mw / 1000, powerState: 'idle', rating: 'B' }, now),
        );
      }
    }
    sim.run(t);
  }
  const seconds = MEASURE_MS / 1000;
  const packets = (sim.traffic.messages - startMsgs) / NODES / seconds;
  const bytes = (sim.traffic.bytes - startBytes) / NODES / seconds;
  const c = PROTOCOL_COSTS.standard;
  // Every packet sent by one node is received by another: per node, sent = received on average.
  const watts = packets * (c.packetSentJ + c.packetReceivedJ) + 2 * bytes * c.byteJ;
  const full = [...delivered.values()].filter((n) => n === NODES).length;
  let current = 0;
  for (const observer of ids) {
    for (const id of ids) {
      if (
        JSON.stringify(sim.node(observer).member(id)?.meta) === JSON.stringify(sim.node(id).selfRecord.meta)
      )
        current++;
    }
  }
  return {
    mode: stretchProbes ? `${mode}+probe` : mode,
    workload,
    intervalMs: p.intervalMs,
    fanout: p.fanout,
    probeIntervalMs,
    packetsPerNodePerS: round(packets),
    bytesPerNodePerS: Math.round(bytes),
    estProtocolMilliwattsPerNode: round(watts * 1000),
    eventsFullyDelivered: delivered.size === 0 ? 1 : round(full / delivered.size),
    metaConverged: round(current / (NODES * NODES)),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export default async function bench(): Promise<BenchReport> {
  const rows: Row[] = [];
  for (const workload of ['idle', 'meta', 'events'] as const) {
    for (const mode of MODES) rows.push(runOne(mode, workload, false, 42));
    for (const mode of ['conservative', 'emergency'] as const) rows.push(runOne(mode, workload, true, 42));
  }
  const metrics: BenchReport['metrics'] = {};
  for (const r of rows) {
    const k = `${r.workload}_${r.mode.replace('+', '_')}`;
    metrics[`${k}_packets_per_node_per_s`] = r.packetsPerNodePerS;
    metrics[`${k}_bytes_per_node_per_s`] = r.bytesPerNodePerS;
    metrics[`${k}_est_protocol_mw_per_node`] = r.estProtocolMilliwattsPerNode;
  }
  const get = (k: string): number => metrics[k] as number;
  return {
    name: 'energy-adaptive',
    description: `Gossip packets and bytes per node per second in each adaptive mode, ${NODES} simulated nodes: idle, metadata updates every ${META_PERIOD_MS / 1000} s, ${EVENTS_PER_S} events/s; estimated protocol power on a standard-class node`,
    metrics,
    goals: [
      // Emergency must cost less than normal when there is something to gossip, or the energy-aware mode is pointless.
      {
        metric: 'meta_emergency_packets_per_node_per_s',
        op: '<',
        target: get('meta_normal_packets_per_node_per_s'),
      },
    ],
    details: { rows, nodes: NODES, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, eventsPerS: EVENTS_PER_S },
  };
}
