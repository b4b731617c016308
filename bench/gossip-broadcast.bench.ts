/**
 * The Maelstrom / Gossip Glomers broadcast workload on the gossip core:
 * 25 members, 100 ms one-way latency, 100 broadcasts/s for 20 s of simulated
 * time; then the same with the swarm cut in halves for 5 s. Bytes are the
 * wire codec's encoded sizes (src/net), unencrypted.
 */
import { gossipCodec } from '../src/net/gossip-codec.js';
import type { GossipMessage } from '../src/gossip/messages.js';
import { estimateSize } from '../src/gossip/size.js';
import { broadcastWorkload } from '../src/sim/gossip/workloads.js';
import type { BenchReport } from './types.js';

export function wireSize(msg: GossipMessage): number {
  try {
    return gossipCodec.encode(msg).byteLength;
  } catch {
    return estimateSize(msg);
  }
}

export default async (): Promise<BenchReport> => {
  const r = broadcastWorkload({ seed: 1, sizeOf: wireSize });
  const p = broadcastWorkload({ seed: 2, sizeOf: wireSize, partition: { atMs: 5000, healMs: 10_000 } });
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    name: 'gossip-broadcast',
    description:
      'Broadcast workload (Gossip Glomers 3d/3e): 25 simulated members, 100 ms one-way latency, 100 ops/s for 20 s. ' +
      'msgs_per_op counts every message sent during the run (probes included); latency per op is until the last member has it. ' +
      'The partition run cuts the swarm in halves from 5 s to 10 s.',
    metrics: {
      ops: r.ops,
      msgs_per_op: r3(r.msgsPerOp),
      event_msgs_per_op: r3(r.eventMsgsPerOp),
      median_ms: Math.round(r.medianMs),
      p99_ms: Math.round(r.p99Ms),
      max_ms: Math.round(r.maxMs),
      complete_ops: r.completeOps,
      bytes_per_node_s: Math.round(r.bytesPerNodePerS),
      partition_complete_ops: p.completeOps,
      partition_ops: p.ops,
      partition_all_delivered: p.completeOps === p.ops ? 1 : 0,
      partition_converged_after_heal_ms:
        p.convergedAfterHealMs === null ? null : Math.round(p.convergedAfterHealMs),
      partition_msgs_per_op: r3(p.msgsPerOp),
    },
    goals: [
      { metric: 'msgs_per_op', op: '<', target: 20 },
      { metric: 'median_ms', op: '<', target: 400 },
      { metric: 'max_ms', op: '<', target: 600 },
      { metric: 'partition_all_delivered', op: '>=', target: 1 },
    ],
    details: { byType: r.byType, partitionByType: p.byType },
  };
};
