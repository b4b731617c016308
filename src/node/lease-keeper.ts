/**
 * The leader's side of leases (etcd's lessor): it alone decides that a lease
 * expired, from the replicated `refreshedAt` of its last grant or keep-alive,
 * and proposes `lease_expire` through the log, so every replica deletes the
 * lease's keys at the same revisions. A lease keeps no timer on followers.
 *
 * After a leader change the new leader cannot know how long ago the old one
 * last heard from a holder, nor trust that its clock agrees: every lease then
 * lives at least a full ttl plus one election timeout from the moment this
 * node became leader (etcd's Promote(extend)), so a leader change never
 * expires a live lease early; the holder's next keep-alive, once a leader is
 * back, refreshes it.
 */
import type { Logger } from './log.js';
import type { LeaseRecord } from '../kv/types.js';
import type { KvCommand, KvResult } from '../raft/kv.js';
import { WALL_TIMER_CLOCK, type TimerClock } from './timer-clock.js';

/**
 * What the keeper needs of the node's Raft side (RaftComponent in the daemon;
 * the simulator's node in src/sim/raft/lease-forward.ts).
 */
export interface LeaseKeeperHost {
  readonly isLeader: boolean;
  readonly state: { readonly leaseCount: number; leases(): Iterable<LeaseRecord> };
  onLeaderChanged(fn: () => void): () => void;
  afterApply(fn: () => void): () => void;
  command(cmd: KvCommand): Promise<KvResult>;
}

/** The keeper's clock and timers: the wall clock in the daemon, the simulator's virtual one. */
export type LeaseClock = TimerClock;

/** Far deadlines are re-checked at least this often (a grant between two checks may be due earlier). */
const MAX_SLEEP_MS = 10_000;

/** When the leader considers `l` expired. */
export function leaseDeadline(l: LeaseRecord, promotedAt: number, graceMs: number): number {
  return Math.max(l.refreshedAt, promotedAt + graceMs) + l.ttlMs;
}

export class LeaseKeeper {
  private promotedAt = 0;
  private leading = false;
  private timer: (() => void) | null = null;
  private armedFor = Number.POSITIVE_INFINITY;
  private readonly inflight = new Set<number>();
  private lastCount = 0;
  private readonly unsub: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly raft: LeaseKeeperHost,
    private readonly graceMs: () => number,
    private readonly log: Logger,
    private readonly clock: LeaseClock = WALL_TIMER_CLOCK,
  ) {}

  start(): void {
    this.unsub.push(this.raft.onLeaderChanged(() => this.onLeaderChanged()));
    this.unsub.push(
      this.raft.afterApply(() => {
        // A grant (the count changes) may be due before the armed check; keep-alives only move deadlines later.
        const n = this.raft.state.leaseCount;
        if (this.leading && n !== this.lastCount) this.schedule();
        this.lastCount = n;
      }),
    );
    this.onLeaderChanged();
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unsub) u();
    this.clear();
  }

  private onLeaderChanged(): void {
    const leading = this.raft.isLeader;
    if (leading && !this.leading) this.promotedAt = this.clock.now();
    this.leading = leading;
    if (leading) this.schedule();
    else this.clear();
  }

  private clear(): void {
    if (this.timer) this.timer();
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private schedule(): void {
    if (this.stopped || !this.leading) return;
    let next = Number.POSITIVE_INFINITY;
    for (const l of this.raft.state.leases()) {
      if (this.inflight.has(l.id)) continue;
      next = Math.min(next, leaseDeadline(l, this.promotedAt, this.graceMs()));
    }
    if (next === Number.POSITIVE_INFINITY) return this.clear();
    if (this.timer && this.armedFor <= next) return;
    this.clear();
    const now = this.clock.now();
    this.armedFor = next;
    this.timer = this.clock.after(Math.max(0, Math.min(next - now, MAX_SLEEP_MS)) + 1, () => this.check());
  }

  private check(): void {
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    if (this.stopped || !this.raft.isLeader) return;
    const now = this.clock.now();
    for (const l of [...this.raft.state.leases()]) {
      if (this.inflight.has(l.id) || leaseDeadline(l, this.promotedAt, this.graceMs()) > now) continue;
      this.inflight.add(l.id);
      const id = l.id;
      this.raft
        .command({ op: 'lease_expire', id, refreshedAt: l.refreshedAt })
        .then((r) => {
          if (r.ok && 'lease' in r && r.lease === null)
            this.log.info('lease expired', { lease: id, keys_deleted: r.deleted.length });
        })
        .catch((err: unknown) => this.log.debug('lease expiry not committed', { lease: id, error: err }))
        .finally(() => {
          this.inflight.delete(id);
          this.schedule();
        });
    }
    this.schedule();
  }
}
