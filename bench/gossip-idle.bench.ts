/**
 * An idle 25-member swarm: gossip bytes and packets per member per second,
 * against the Python original's scheme (full member table as JSON to 3 peers
 * every second), and how long until every member knows of a crashed one.
 */
import { membershipRun, pythonOriginalCost } from '../src/sim/gossip/workloads.js';
import { wireSize } from './gossip-broadcast.bench.js';
import type { BenchReport } from './types.js';

export default async (): Promise<BenchReport> => {
  const r = membershipRun({
    seed: 25,
    nodes: 25,
    latencyMs: 1,
    jitterMs: 1,
    quorum: 1,
    sizeOf: wireSize,
    observeMs: 60_000,
  });
  const py = pythonOriginalCost(25);
  const round = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);
  return {
    name: 'gossip-idle',
    description:
      'Idle 25-member swarm on a LAN-like link (1-2 ms): bytes and packets per member per second (wire codec sizes), ' +
      'versus the Python original (full state as JSON to 3 peers every 1000 ms; a realistic record is ~330 bytes). ' +
      'Failure detection: crash to every member knowing it dead, default timers.',
    metrics: {
      bytes_per_node_s: round(r.idleBytesPerNodePerS),
      packets_per_node_s: round(r.idlePacketsPerNodePerS),
      python_bytes_per_node_s: py.bytesPerNodePerS,
      python_datagrams_per_node_s: py.datagramsPerNodePerS,
      python_ip_fragments_per_node_s: py.ipFragmentsPerNodePerS,
      python_message_bytes: py.messageBytes,
      bytes_ratio_vs_python: Math.round((r.idleBytesPerNodePerS / py.bytesPerNodePerS) * 10_000) / 10_000,
      failure_detect_ms: r.failureDetectMs,
      failure_known_all_ms: r.failureKnownMs,
      false_dead: r.falseDead,
    },
    goals: [{ metric: 'bytes_ratio_vs_python', op: '<=', target: 0.1 }],
  };
};
