/**
 * Prometheus metrics of the Raft component, in a registry of their own so the
 * `/metrics` route can merge it with other components' registries. Gauges are
 * read from the component when scraped; the proposal counter and the fsync
 * histogram are fed by the Ready loop as plain numbers, and become prom-client
 * metrics only when scraped (lazy-metrics.ts), so a node that is never scraped
 * does not load prom-client.
 */
import type { Registry } from 'prom-client';
import {
  BucketHistogram,
  LabelledCounter,
  LazyRegistry,
  defineBucketHistogram,
  type PromClient,
} from './lazy-metrics.js';

export interface RaftMetricsSource {
  snapshot(): {
    readonly term: number;
    readonly role: string;
    readonly commit: number;
    readonly applied: number;
    readonly voters: number;
    readonly learners: number;
  } | null;
  /** The Raft port's refused unauthenticated connections by reason (net/tcp.ts); null before start. */
  refused?(): Readonly<Record<string, number>> | null;
}

const ROLES = ['follower', 'candidate', 'precandidate', 'leader', 'learner'] as const;

/** Seconds; the persist step of one Ready (log append + fsync). */
export const FSYNC_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

/** Seconds; from a KV proposal on the leader to its entry applied (the consensus part of a write). */
export const COMMIT_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1,
];

export class RaftMetrics {
  readonly registry: LazyRegistry;
  /** KV proposals by `result`. */
  readonly proposals = new LabelledCounter();
  readonly fsyncSeconds = new BucketHistogram(FSYNC_BUCKETS);
  readonly commitSeconds = new BucketHistogram(COMMIT_BUCKETS);
  /** Raft messages dropped because they carried another cluster's id. */
  foreignDropped = 0;

  constructor(source: RaftMetricsSource) {
    this.registry = LazyRegistry.once((prom, registry) => this.define(prom, registry, source));
  }

  private define(prom: PromClient, registry: Registry, source: RaftMetricsSource): void {
    const { Counter, Gauge } = prom;
    const r = [registry];
    const gauge = (
      name: string,
      help: string,
      pick: (s: NonNullable<ReturnType<RaftMetricsSource['snapshot']>>) => number,
    ): void => {
      new Gauge({
        name,
        help,
        registers: r,
        collect() {
          const s = source.snapshot();
          if (s) this.set(pick(s));
        },
      });
    };
    gauge('swarm_raft_term', 'Current Raft term.', (s) => s.term);
    gauge('swarm_raft_commit_index', 'Highest log index known committed.', (s) => s.commit);
    gauge('swarm_raft_applied_index', 'Highest log index applied to the KV state machine.', (s) => s.applied);
    gauge('swarm_raft_voters', 'Voters in the current configuration.', (s) => s.voters);
    gauge('swarm_raft_learners', 'Learners in the current configuration.', (s) => s.learners);
    new Gauge({
      name: 'swarm_raft_role',
      help: 'Raft role of this node: 1 for the current role, 0 for the others.',
      labelNames: ['role'],
      registers: r,
      collect() {
        const s = source.snapshot();
        if (!s) return;
        for (const role of ROLES) this.set({ role }, s.role === role ? 1 : 0);
      },
    });
    const proposals = this.proposals;
    new Counter({
      name: 'swarm_raft_proposals_total',
      help: 'KV proposals by outcome: applied, rejected (not leader / hand-over), failed (timeout or superseded).',
      labelNames: ['result'],
      registers: r,
      collect() {
        this.reset();
        for (const [result, n] of proposals.counts) this.inc({ result }, n);
      },
    });
    new Counter({
      name: 'swarm_raft_unauthenticated_refused_total',
      help: 'Raft port connections closed before authenticating: connection_cap (over the cap at accept), auth_timeout, oversize_unauthenticated (a frame over 64 KiB).',
      labelNames: ['reason'],
      registers: r,
      collect() {
        const counts = source.refused?.();
        if (!counts) return;
        this.reset();
        for (const [reason, n] of Object.entries(counts)) this.inc({ reason }, n);
      },
    });
    const foreign = (): number => this.foreignDropped;
    new Counter({
      name: 'swarm_raft_foreign_dropped_total',
      help: 'Raft messages dropped because they came from another cluster (different cluster id).',
      registers: r,
      collect() {
        this.reset();
        this.inc(foreign());
      },
    });
    defineBucketHistogram(prom, registry, {
      name: 'swarm_raft_fsync_seconds',
      help: 'Duration of the persist step of one Ready (log append + fsync).',
      source: this.fsyncSeconds,
    });
    defineBucketHistogram(prom, registry, {
      name: 'swarm_raft_proposal_commit_seconds',
      help: 'From a KV proposal on the leader to its entry applied (replication, fsyncs and the Ready loop).',
      source: this.commitSeconds,
    });
  }
}
