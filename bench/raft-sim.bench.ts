/**
 * Raft in the deterministic simulator, no faults: commits per second of
 * SIMULATED time and commit latency (client call to leader apply, p50/p99)
 * for 3 and 5 nodes at 1 ms and 20 ms one-way link latency (+20% uniform jitter). 16 closed-loop
 * clients write without pause; proposals arriving between two Readys share
 * one AppendEntries and one sync, so throughput grows with batching.
 *
 * The figures measure the protocol (round trips, batching, pipelining), not
 * the host: disk sync is free in simulated time. Wall-clock speed of the
 * simulator itself is reported alongside.
 */
import type { BenchReport } from './types.js';
import { runSimulation } from '../src/sim/raft/cluster.js';

function pct(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (x: number | null, d = 2): number | null =>
  x === null ? null : Math.round(x * 10 ** d) / 10 ** d;

export default async function bench(): Promise<BenchReport> {
  const metrics: BenchReport['metrics'] = {};
  const details: Record<string, unknown>[] = [];
  const simMs = 10_000;
  for (const nodes of [3, 5]) {
    for (const latencyMs of [1, 20]) {
      const t0 = performance.now();
      const r = await runSimulation({
        seed: 1,
        nodes,
        faults: 0,
        link: { latencyMs, jitterMs: latencyMs / 5, loss: 0, duplicate: 0 },
        chaosMs: simMs,
        clients: 16,
        thinkMs: [0, 0],
        mix: { keys: 16, values: 1000, read: 0, write: 1 },
        clientTimeoutMs: 5000,
        checkLinearizability: false,
        // The old fixed configuration, so the figures stay comparable across versions.
        learners: 0,
        preVote: true,
        checkQuorum: true,
        heartbeatMs: 50,
        electionMinMs: 300,
        electionMaxMs: 600,
        tickMs: 10,
        snapshotEvery: 25,
        valueBytes: 0,
      });
      const wallMs = performance.now() - t0;
      if (!r.ok) throw new Error(`simulation failed: ${r.message}`);
      const lat = [...r.writeLatencies].sort((a, b) => a - b);
      const tag = `${nodes}n_${latencyMs}ms`;
      metrics[`commits_per_sim_s_${tag}`] = round(lat.length / (r.stats.simMs / 1000), 1);
      metrics[`commit_p50_ms_${tag}`] = round(pct(lat, 50));
      metrics[`commit_p99_ms_${tag}`] = round(pct(lat, 99));
      // Raft messages (every kind, heartbeats and commit notifications included) per committed write.
      metrics[`messages_per_commit_${tag}`] = round(r.stats.messages / Math.max(1, lat.length));
      details.push({
        nodes,
        latencyMs,
        commits: lat.length,
        simMs: r.stats.simMs,
        events: r.stats.events,
        messages: r.stats.messages,
        wallMs: Math.round(wallMs),
        simEventsPerWallS: Math.round(r.stats.events / (wallMs / 1000)),
      });
    }
  }
  return {
    name: 'raft-sim',
    description:
      'Simulated Raft KV, no faults, 16 closed-loop writers: commits per simulated second and commit latency',
    metrics,
    // A commit needs one round trip to a majority: p50 should sit near 2x the one-way latency.
    goals: [
      { metric: 'commit_p50_ms_3n_1ms', op: '<=', target: 5 },
      { metric: 'commit_p50_ms_3n_20ms', op: '<=', target: 60 },
      { metric: 'commit_p50_ms_5n_20ms', op: '<=', target: 60 },
    ],
    details: { simMs, clients: 16, heartbeatMs: 50, election: '300-600 ms', runs: details },
  };
}
