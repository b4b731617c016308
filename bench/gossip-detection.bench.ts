/**
 * Failure known everywhere at 25 simulated members (1-2 ms links, 1% loss):
 * one member crashes, time until every survivor holds it dead, over 20 seeds,
 * at the normal probe period and at the adaptive controller's conservative
 * stretch (x2), and with the daemon's default config (the seed config's 1 s
 * `[gossip] interval_ms` and `ttl = 3`). memberlist's LAN defaults take 7.6 s on this machine (issue #16).
 */
import { MemberStatus } from '../src/gossip/messages.js';
import type { GossipConfig } from '../src/gossip/types.js';
import { GossipSim } from '../src/sim/gossip/driver.js';
import type { BenchReport } from './types.js';

const NODES = 25;
const SEEDS = 20;
const WINDOW_MS = 30_000;

interface Run {
  knownMs: number[];
  falseDead: number;
  messagesPerFailure: number;
}

function runAll(probeScale: number, config: Partial<GossipConfig> = {}): Run {
  const knownMs: number[] = [];
  let falseDead = 0;
  let messages = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const sim = new GossipSim({
      seed,
      link: { latencyMs: 1, jitterMs: 1, loss: 0.01, duplicate: 0 },
      config,
    });
    const ids = sim.bootstrap(NODES);
    for (const id of ids) sim.with(id, (c) => c.setParams({ probeScale }));
    sim.onEvent((_id, ev) => {
      if (ev.type === 'member-dead' && ev.member.id !== 'n3') falseDead++;
    });
    sim.run(20_000);
    const before = sim.traffic.messages;
    sim.kill('n3');
    const t0 = sim.now;
    const others = ids.filter((i) => i !== 'n3');
    let known = Infinity;
    for (let t = t0 + 50; t <= t0 + WINDOW_MS; t += 50) {
      sim.run(t);
      if (known === Infinity && others.every((v) => sim.node(v).member('n3')?.status === MemberStatus.Dead))
        known = t - t0;
    }
    knownMs.push(known);
    messages += sim.traffic.messages - before;
  }
  return {
    knownMs: knownMs.sort((a, b) => a - b),
    falseDead,
    messagesPerFailure: Math.round(messages / SEEDS),
  };
}

const pct = (xs: readonly number[], p: number): number =>
  xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

export default async (): Promise<BenchReport> => {
  const normal = runAll(1);
  const stretched = runAll(2);
  // What the daemon runs by default: the seed config's `[gossip] interval_ms = 1000` as the round
  // interval and `ttl = 3` as the retransmit multiplier (coreConfigFromSections).
  const daemon = runAll(1, { gossipIntervalMs: 1000, retransmitMult: 3 });
  return {
    name: 'gossip-detection',
    description:
      `${NODES} simulated members, 1-2 ms links, 1% loss, ${SEEDS} seeds: crash to "dead" in every survivor's view ` +
      '(probe, Lifeguard suspicion with confirmations, spread), at the normal 1 s probe period and stretched x2 ' +
      '(adaptive conservative mode), and with the daemon default config (1 s gossip interval, ttl 3); messages are all gossip messages in the 30 s after the crash.',
    metrics: {
      failure_known_p50_ms: pct(normal.knownMs, 0.5),
      failure_known_p90_ms: pct(normal.knownMs, 0.9),
      failure_known_max_ms: normal.knownMs[normal.knownMs.length - 1]!,
      messages_per_failure: normal.messagesPerFailure,
      failure_known_p50_ms_probe_x2: pct(stretched.knownMs, 0.5),
      failure_known_p90_ms_probe_x2: pct(stretched.knownMs, 0.9),
      messages_per_failure_probe_x2: stretched.messagesPerFailure,
      failure_known_p50_ms_daemon_config: pct(daemon.knownMs, 0.5),
      failure_known_p90_ms_daemon_config: pct(daemon.knownMs, 0.9),
      messages_per_failure_daemon_config: daemon.messagesPerFailure,
      false_dead: normal.falseDead + stretched.falseDead,
    },
    goals: [
      { metric: 'failure_known_p50_ms', op: '<', target: 7600 },
      { metric: 'failure_known_p50_ms_daemon_config', op: '<', target: 7600 },
      { metric: 'false_dead', op: '<=', target: 0 },
    ],
    details: { normal: normal.knownMs, probe_x2: stretched.knownMs, daemon_config: daemon.knownMs },
  };
};
