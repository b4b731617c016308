/**
 * Prometheus samples for the gossip runtime, as plain data in the same shape
 * as the energy samples (`MetricSample`): whoever serves `/metrics` registers
 * them with prom-client, while names, help texts and units live here, next to
 * the counters they describe. Absent measurements produce no sample.
 */
import type { MetricSample } from '../energy/metrics.js';
import { MODE_MULTIPLIERS, type GossipMode } from '../gossip/adaptive.js';
import type { GossipView } from './gossip-component.js';
import type { PeerStatus } from './peers.js';

const STATUSES: readonly PeerStatus[] = ['alive', 'suspect', 'dead', 'left'];

export function gossipMetricSamples(v: GossipView): MetricSample[] {
  const out: MetricSample[] = [];
  const add = (
    name: string,
    help: string,
    value: number | null,
    type: MetricSample['type'] = 'gauge',
    labels?: Record<string, string>,
  ): void => {
    if (value === null || !Number.isFinite(value)) return;
    out.push({ name, help, type, value, ...(labels === undefined ? {} : { labels }) });
  };
  for (const status of STATUSES) {
    add(
      'swarm_gossip_members',
      'Members this node knows, by status (self included).',
      v.members.filter((m) => m.status === status).length,
      'gauge',
      { status },
    );
  }
  const t = v.transport;
  add('swarm_gossip_packets_in_total', 'Gossip datagrams received.', t.packetsIn, 'counter');
  add('swarm_gossip_packets_out_total', 'Gossip datagrams sent.', t.packetsOut, 'counter');
  add('swarm_gossip_bytes_in_total', 'Gossip bytes received (UDP payload).', t.bytesIn, 'counter');
  add('swarm_gossip_bytes_out_total', 'Gossip bytes sent (UDP payload).', t.bytesOut, 'counter');
  add(
    'swarm_gossip_unauthenticated_packets_total',
    'Gossip datagrams dropped for failing authentication (wrong or missing swarm key).',
    t.droppedUnauthenticated,
    'counter',
  );
  for (const [reason, n] of Object.entries(t.dropped)) {
    add('swarm_gossip_dropped_packets_total', 'Gossip datagrams dropped, by reason.', n, 'counter', {
      reason,
    });
  }
  add('swarm_gossip_send_errors_total', 'Socket-level gossip send failures.', t.sendErrors, 'counter');
  add(
    'swarm_gossip_wakeups_total',
    'Timer wake-ups of the gossip runtime (each costs energy on a battery device).',
    v.wakeups,
    'counter',
  );
  const c = v.core;
  add('swarm_gossip_probes_total', 'SWIM probes sent.', c.probesSent, 'counter');
  add('swarm_gossip_probes_failed_total', 'SWIM probes without any ack.', c.probesFailed, 'counter');
  add('swarm_gossip_suspicions_total', 'Suspicions this node raised.', c.suspicionsRaised, 'counter');
  add('swarm_gossip_refutations_total', 'Suspicions of this node it refuted.', c.refutations, 'counter');
  add('swarm_gossip_probe_loss_ratio', 'Probes without a direct ack in the stats window, 0..1.', c.probeLoss);
  add(
    'swarm_gossip_probe_rtt_seconds',
    'Mean direct-probe round trip in the stats window.',
    c.rttMs === null ? null : c.rttMs / 1000,
  );
  add('swarm_gossip_health_score', 'Lifeguard local health score (0 = healthy).', c.healthScore);
  add('swarm_gossip_interval_seconds', 'Gossip round interval in force.', c.intervalMs / 1000);
  add('swarm_gossip_fanout', 'Members per gossip round in force.', c.fanout);
  for (const mode of Object.keys(MODE_MULTIPLIERS) as GossipMode[]) {
    add(
      'swarm_gossip_adaptive_mode',
      'Adaptive gossip mode: 1 for the current one.',
      v.adaptive.mode === mode ? 1 : 0,
      'gauge',
      { mode },
    );
  }
  add('swarm_gossip_encrypted', '1 when gossip is encrypted with a swarm key.', v.encrypted ? 1 : 0);
  return out;
}
