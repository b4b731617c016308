/**
 * Prometheus metrics of the gossip runtime. Names, types and help texts are
 * declared once in DEFS; `gossipMetricSamples` gives them as plain data (the
 * energy samples' shape) and `gossipMetricsRegistry` as a registry read from
 * the live view at scrape time, for the `/metrics` route to merge; it loads
 * prom-client only when first scraped (lazy-metrics.ts). Absent measurements
 * produce no sample.
 */
import type { Registry } from 'prom-client';
import type { MetricSample } from '../energy/metrics.js';
import { MODE_MULTIPLIERS, type GossipMode } from '../gossip/adaptive.js';
import type { GossipView } from './gossip-component.js';
import { LazyRegistry, type PromClient } from './lazy-metrics.js';
import type { PeerStatus } from './peers.js';

const STATUSES: readonly PeerStatus[] = ['alive', 'suspect', 'dead', 'left'];

interface Def {
  readonly help: string;
  readonly type: MetricSample['type'];
  readonly labelNames?: readonly string[];
}

const DEFS = {
  swarm_gossip_members: {
    help: 'Members this node knows, by status (self included).',
    type: 'gauge',
    labelNames: ['status'],
  },
  swarm_gossip_packets_in_total: { help: 'Gossip datagrams received.', type: 'counter' },
  swarm_gossip_packets_out_total: { help: 'Gossip datagrams sent.', type: 'counter' },
  swarm_gossip_bytes_in_total: { help: 'Gossip bytes received (UDP payload).', type: 'counter' },
  swarm_gossip_bytes_out_total: { help: 'Gossip bytes sent (UDP payload).', type: 'counter' },
  swarm_gossip_unauthenticated_packets_total: {
    help: 'Gossip datagrams dropped for failing authentication (wrong or missing swarm key).',
    type: 'counter',
  },
  swarm_gossip_dropped_packets_total: {
    help: 'Gossip datagrams dropped, by reason.',
    type: 'counter',
    labelNames: ['reason'],
  },
  swarm_gossip_send_errors_total: { help: 'Socket-level gossip send failures.', type: 'counter' },
  swarm_gossip_wakeups_total: {
    help: 'Timer wake-ups of the gossip runtime (each costs energy on a battery device).',
    type: 'counter',
  },
  swarm_gossip_probes_total: { help: 'SWIM probes sent.', type: 'counter' },
  swarm_gossip_probes_failed_total: { help: 'SWIM probes without any ack.', type: 'counter' },
  swarm_gossip_probes_skipped_total: {
    help: 'SWIM probes not sent: the member had just pinged this node.',
    type: 'counter',
  },
  swarm_gossip_suspicions_total: { help: 'Suspicions this node raised.', type: 'counter' },
  swarm_gossip_refutations_total: { help: 'Suspicions of this node it refuted.', type: 'counter' },
  swarm_gossip_probe_loss_ratio: {
    help: 'Probes without a direct ack in the stats window, 0..1.',
    type: 'gauge',
  },
  swarm_gossip_probe_rtt_seconds: {
    help: 'Mean direct-probe round trip in the stats window.',
    type: 'gauge',
  },
  swarm_gossip_health_score: { help: 'Lifeguard local health score (0 = healthy).', type: 'gauge' },
  swarm_gossip_interval_seconds: { help: 'Gossip round interval in force.', type: 'gauge' },
  swarm_gossip_fanout: { help: 'Members per gossip round in force.', type: 'gauge' },
  swarm_gossip_adaptive_mode: {
    help: 'Adaptive gossip mode: 1 for the current one.',
    type: 'gauge',
    labelNames: ['mode'],
  },
  swarm_gossip_encrypted: { help: '1 when gossip is encrypted with a swarm key.', type: 'gauge' },
  swarm_packets_refused_total: {
    help: 'Packets (gossip datagrams and Raft frames) refused for failing authentication, by likely cause.',
    type: 'counter',
    labelNames: ['reason'],
  },
} as const satisfies Record<string, Def>;

type MetricName = keyof typeof DEFS;

export function gossipMetricSamples(v: GossipView): MetricSample[] {
  const out: MetricSample[] = [];
  const add = (name: MetricName, value: number | null, labels?: Record<string, string>): void => {
    if (value === null || !Number.isFinite(value)) return;
    const d: Def = DEFS[name];
    out.push({ name, help: d.help, type: d.type, value, ...(labels === undefined ? {} : { labels }) });
  };
  for (const status of STATUSES) {
    add('swarm_gossip_members', v.members.filter((m) => m.status === status).length, { status });
  }
  const t = v.transport;
  add('swarm_gossip_packets_in_total', t.packetsIn);
  add('swarm_gossip_packets_out_total', t.packetsOut);
  add('swarm_gossip_bytes_in_total', t.bytesIn);
  add('swarm_gossip_bytes_out_total', t.bytesOut);
  add('swarm_gossip_unauthenticated_packets_total', t.droppedUnauthenticated);
  for (const [reason, n] of Object.entries(t.dropped))
    add('swarm_gossip_dropped_packets_total', n, { reason });
  add('swarm_gossip_send_errors_total', t.sendErrors);
  add('swarm_gossip_wakeups_total', v.wakeups);
  const c = v.core;
  add('swarm_gossip_probes_total', c.probesSent);
  add('swarm_gossip_probes_failed_total', c.probesFailed);
  add('swarm_gossip_probes_skipped_total', c.probesSkipped);
  add('swarm_gossip_suspicions_total', c.suspicionsRaised);
  add('swarm_gossip_refutations_total', c.refutations);
  add('swarm_gossip_probe_loss_ratio', c.probeLoss);
  add('swarm_gossip_probe_rtt_seconds', c.rttMs === null ? null : c.rttMs / 1000);
  add('swarm_gossip_health_score', c.healthScore);
  add('swarm_gossip_interval_seconds', c.intervalMs / 1000);
  add('swarm_gossip_fanout', c.fanout);
  for (const mode of Object.keys(MODE_MULTIPLIERS) as GossipMode[]) {
    add('swarm_gossip_adaptive_mode', v.adaptive.mode === mode ? 1 : 0, { mode });
  }
  add('swarm_gossip_encrypted', v.encrypted ? 1 : 0);
  for (const [reason, n] of Object.entries(v.refused)) add('swarm_packets_refused_total', n, { reason });
  return out;
}

/**
 * A registry whose metrics read the gossip view when scraped. One view per
 * scrape: the metrics are collected one after another, so the samples are
 * kept for a moment instead of being rebuilt for each metric.
 */
export function gossipMetricsRegistry(source: { view(): GossipView }): LazyRegistry {
  return LazyRegistry.once((prom, registry) => defineGossipMetrics(prom, registry, source));
}

function defineGossipMetrics(prom: PromClient, registry: Registry, source: { view(): GossipView }): void {
  const { Counter, Gauge } = prom;
  let cache: { at: number; samples: MetricSample[] } | null = null;
  const samples = (name: string): MetricSample[] => {
    const now = Date.now();
    if (cache === null || now - cache.at > 100) {
      let all: MetricSample[] = [];
      try {
        all = gossipMetricSamples(source.view());
      } catch {
        // Gossip not running (starting or stopping): no samples rather than a failed scrape.
      }
      cache = { at: now, samples: all };
    }
    return cache.samples.filter((x) => x.name === name);
  };
  for (const [name, def] of Object.entries(DEFS) as [MetricName, Def][]) {
    const labelNames = [...(def.labelNames ?? [])];
    if (def.type === 'counter') {
      new Counter({
        name,
        help: def.help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const x of samples(name)) {
            if (x.labels) this.inc(x.labels, x.value);
            else this.inc(x.value);
          }
        },
      });
    } else {
      new Gauge({
        name,
        help: def.help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const x of samples(name)) {
            if (x.labels) this.set(x.labels, x.value);
            else this.set(x.value);
          }
        },
      });
    }
  }
}
