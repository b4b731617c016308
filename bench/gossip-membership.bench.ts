/**
 * Membership at 1,000 and 10,000 simulated members (10-20 ms links, 1% loss):
 * one member joins through a seed while another crashes; time until 99.99%
 * of live members know each, and gossip bytes per member per second.
 */
import { memberlistLanCost, membershipRun } from '../src/sim/gossip/workloads.js';
import { wireSize } from './gossip-broadcast.bench.js';
import type { BenchReport } from './types.js';

export default async (): Promise<BenchReport> => {
  const k1 = membershipRun({ seed: 1000, nodes: 1000, loss: 0.01, sizeOf: wireSize, observeMs: 30_000 });
  const k10 = membershipRun({ seed: 10_000, nodes: 10_000, loss: 0.01, sizeOf: wireSize, observeMs: 25_000 });
  const r = (x: number): number => Math.round(x);
  return {
    name: 'gossip-membership',
    description:
      'Bootstrapped swarms of 1,000 and 10,000 simulated members, 10-20 ms links, 1% loss, default (memberlist LAN-like) timers. ' +
      'join_known: join request to 99.99% of members; failure_detect: crash to first dead declaration (SWIM probe + Lifeguard ' +
      'suspicion timeout, 4*log10(N) probe periods at the least); failure_spread: first declaration to 99.99%. Bytes are wire-codec sizes; ' +
      'memberlist_lan_bytes_* is an estimate of memberlist LAN defaults (probe 1/s, full-state push-pull every 30 s scaled).',
    metrics: {
      join_known_ms_1k: k1.joinKnownMs,
      failure_detect_ms_1k: k1.failureDetectMs,
      failure_spread_ms_1k: k1.failureSpreadMs,
      failure_known_ms_1k: k1.failureKnownMs,
      idle_bytes_per_node_s_1k: r(k1.idleBytesPerNodePerS),
      bytes_per_node_s_1k: r(k1.bytesPerNodePerS),
      memberlist_lan_bytes_per_node_s_1k: r(memberlistLanCost(1000)),
      false_dead_1k: k1.falseDead,
      join_known_ms_10k: k10.joinKnownMs,
      failure_detect_ms_10k: k10.failureDetectMs,
      failure_spread_ms_10k: k10.failureSpreadMs,
      failure_known_ms_10k: k10.failureKnownMs,
      idle_bytes_per_node_s_10k: r(k10.idleBytesPerNodePerS),
      bytes_per_node_s_10k: r(k10.bytesPerNodePerS),
      memberlist_lan_bytes_per_node_s_10k: r(memberlistLanCost(10_000)),
      false_dead_10k: k10.falseDead,
    },
    goals: [
      { metric: 'join_known_ms_1k', op: '<', target: 3000 },
      { metric: 'failure_spread_ms_1k', op: '<', target: 3000 },
      { metric: 'bytes_per_node_s_1k', op: '<', target: memberlistLanCost(1000) },
    ],
  };
};
