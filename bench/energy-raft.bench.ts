/**
 * Estimated energy per committed write on a 3-node Raft cluster (the
 * deterministic simulator, no faults, 16 clients, 64-byte values).
 *
 * Measured in the run: Raft messages, fsyncs (file and directory syncs on the simulated disks) and
 * acknowledged writes. Estimated: each message's bytes (AVG_MESSAGE_BYTES)
 * and every cost from src/energy/protocol.ts. The device floor spreads the
 * three nodes' idle power over the writes at the simulated throughput, which
 * depends on the simulator's latencies, so read it as an illustration; the
 * protocol share per write does not depend on throughput.
 */
import { DEVICE_PROFILES, type DeviceClass } from '../src/energy/profiles.js';
import { PROTOCOL_COSTS } from '../src/energy/protocol.js';
import { RaftSimulation } from '../src/sim/raft/cluster.js';
import type { BenchReport } from './types.js';

const NODES = 3;
/** Rough mean over AppendEntries with one 64-byte command, responses and heartbeats. */
const AVG_MESSAGE_BYTES = 100;

export default async function bench(): Promise<BenchReport> {
  const sim = new RaftSimulation({
    seed: 7,
    nodes: NODES,
    faults: 0,
    clients: 16,
    chaosMs: 10_000,
    settleMs: 5_000,
    checkLinearizability: false,
    heartbeatMs: 100,
    electionMinMs: 1000,
    electionMaxMs: 2000,
    valueBytes: 0,
    snapshotEvery: 25,
    learners: 0,
    preVote: true,
    checkQuorum: true,
  });
  const result = await sim.run();
  const syncs = sim.world.nodes.reduce((s, n) => s + n.fs.stats.syncs, 0);
  if (!result.ok) throw new Error(`raft simulation failed: ${result.invariant}: ${result.message}`);
  const writes = result.writeLatencies.length;
  const msgs = result.stats.messages;
  const seconds = result.stats.simMs / 1000;
  const metrics: BenchReport['metrics'] = {
    writes,
    writes_per_s_simulated: round(writes / seconds),
    messages_per_write: round(msgs / writes),
    fsyncs_per_write: round(syncs / writes),
  };
  const perClass: Record<string, unknown> = {};
  for (const cls of ['full', 'standard'] as DeviceClass[]) {
    const c = PROTOCOL_COSTS[cls];
    // Each message is sent once and received once.
    const protocolJ =
      msgs * (c.packetSentJ + c.packetReceivedJ) + msgs * AVG_MESSAGE_BYTES * 2 * c.byteJ + syncs * c.fsyncJ;
    const floorJ = NODES * DEVICE_PROFILES[cls].idleW * seconds;
    metrics[`${cls}_protocol_mj_per_write`] = round((protocolJ / writes) * 1000);
    metrics[`${cls}_device_floor_mj_per_write`] = round((floorJ / writes) * 1000);
    metrics[`${cls}_protocol_share`] = round(protocolJ / (protocolJ + floorJ));
    perClass[cls] = { protocolJ, floorJ };
  }
  return {
    name: 'energy-raft',
    description:
      'Estimated energy per acknowledged write, 3-node Raft in the simulator (16 clients, mixed reads and writes, no faults): protocol (packets, bytes, fsyncs; read traffic included) and the idle-power floor',
    metrics,
    details: {
      seconds,
      messages: msgs,
      syncs,
      avgMessageBytesAssumed: AVG_MESSAGE_BYTES,
      perClass,
      stats: result.stats,
    },
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
