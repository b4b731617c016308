/**
 * The leader's automatic membership management: applies the pure policy of
 * raft-membership.ts to the live view (adds learners, promotes caught-up ones,
 * replaces voters dead long enough), and hands leadership over when the
 * leader stops, so the cluster does not wait out an election timeout.
 */
import type { RaftNode } from '../raft/raft-node.js';
import { CLUSTER_TAG } from './formation.js';
import type { Logger } from './log.js';
import type { PeerDirectory, PeerInfo } from './peers.js';
import { planMembershipChange } from './raft-membership.js';
import { WALL_TIMER_CLOCK, type TimerClock } from './timer-clock.js';

/** How long a stopping leader that handed over waits, at most, to see its successor's first commit. */
export const HANDOVER_SETTLE_MAX_MS = 200;

/** What the autopilot needs from the component that runs the core. */
export interface AutopilotHost {
  readonly peers: PeerDirectory;
  core(): RaftNode | null;
  stopping(): boolean;
  /** This node's cluster id ('' for a cluster formed before ids existed). */
  clusterId(): string;
  /** `raft.voters`: voters at most, the others stay learners. */
  readonly maxVoters: number;
  /** A voter dead this long is replaced by a caught-up learner. */
  readonly deadVoterMs: number;
  /** How long a stopping leader waits for its successor to take over. */
  readonly transferWaitMs: number;
  readonly log: Logger;
  kick(): void;
  /** The hand-over's clock and timers: the wall clock in the daemon, the simulator's virtual one there. */
  readonly clock?: TimerClock;
}

export class RaftAutopilot {
  private readonly host: AutopilotHost;
  /** Since when each peer has been seen dead (gossip), to tell a restart from a loss. */
  private readonly deadSince = new Map<string, number>();
  private founders: string[] = [];
  private handingOver: Promise<void> | null = null;

  constructor(host: AutopilotHost) {
    this.host = host;
  }

  /** On the leader: propose at most one membership change the policy asks for now. */
  manageMembership(now: number): void {
    const core = this.host.core();
    if (!core || this.host.stopping()) return;
    const s = core.status();
    if (s.role !== 'leader' || s.progress === null) return;
    const peers = this.host.peers.peers();
    for (const p of peers) {
      if (p.status === 'dead') {
        if (!this.deadSince.has(p.id)) this.deadSince.set(p.id, now);
      } else this.deadSince.delete(p.id);
    }
    const deadMs = this.host.deadVoterMs;
    const dead = new Set([...this.deadSince].filter(([, t]) => now - t >= deadMs).map(([id]) => id));
    const match = new Map(Object.entries(s.progress).map(([id, pr]) => [id, pr.match]));
    this.founders = this.founders.filter((id) => !s.conf.voters.includes(id));
    const clusterId = this.host.clusterId();
    // A peer that belongs to another cluster is not ours to add: its Raft traffic is refused both ways.
    const ours = (p: PeerInfo): boolean => {
      const c = p.tags?.[CLUSTER_TAG];
      return c === undefined || c === '' || c === clusterId || clusterId === '';
    };
    const change = planMembershipChange({
      selfId: s.id,
      conf: s.conf,
      match,
      lastIndex: s.lastIndex,
      peers: peers.filter((p) => p.id !== s.id && ours(p)),
      maxVoters: this.host.maxVoters,
      founders: this.founders,
      deadLongEnough: dead,
    });
    if (change === null) return;
    const r = core.proposeConfChange(change, now);
    if (r.ok) this.host.log.info('raft membership change', { type: change.type, peer: change.node });
  }

  /** At most one hand-over per stop, shared by beforeStop and stop; failures are logged, not thrown. */
  handOver(): Promise<void> {
    this.handingOver ??= this.handOverLeadership().catch((err: unknown) => {
      this.host.log.warn('raft leadership hand-over failed', { error: err });
    });
    return this.handingOver;
  }

  /** Leader stop: hand leadership to the most caught-up live voter and wait (bounded) for it to take over. */
  private async handOverLeadership(): Promise<void> {
    const core = this.host.core();
    if (!core) return;
    const s = core.status();
    if (s.role !== 'leader' || s.progress === null) return;
    let best: string | null = null;
    let bestMatch = -1;
    for (const v of s.conf.voters) {
      if (v === s.id) continue;
      const info: PeerInfo | undefined = this.host.peers.get(v);
      if (info && (info.status === 'dead' || info.status === 'left')) continue;
      const m = s.progress[v]?.match ?? 0;
      if (m > bestMatch) {
        best = v;
        bestMatch = m;
      }
    }
    if (best === null) return;
    const clock = this.host.clock ?? WALL_TIMER_CLOCK;
    const r = core.transferLeadership(best, clock.now());
    this.host.log.debug('raft hand-over: transfer', {
      to: best,
      match: bestMatch,
      last_index: s.lastIndex,
      ok: r.ok,
    });
    if (!r.ok) return;
    this.host.kick();
    const t0 = clock.now();
    const deadline = t0 + this.host.transferWaitMs;
    while (clock.now() < deadline && this.host.core()?.isLeader === true) {
      await new Promise<void>((res) => clock.after(5, res));
      this.host.core()?.tick(clock.now());
      this.host.kick();
    }
    const done = this.host.core()?.isLeader !== true;
    const handedAt = clock.now();
    // Stay a plain follower until an entry of the successor's term is committed and applied here
    // (this node hears of the commit with the successor's next append), bounded. No proposal was
    // accepted since the transfer began, so the successor's first entry is past s.lastIndex, and
    // once it is applied so are the writes this node accepted before the transfer: their clients
    // (a follower's forwarded requests among them) get their answers from here before the stop
    // closes the forwarder and the links (else the answer could be lost, and the sender report the
    // write "went away with the put in flight", outcome unknown, once this process exits). And the
    // successor's first commit needs a quorum of fsyncs, this node's one of the two it can count on, while what the stop
    // does next (the snapshot at stop with its fsync, closing the API and the links, the gossip
    // leave) competed for the one disk and the CPU with it: measured, the first write through the
    // successor took 16 ms instead of 3-5 while the stopping node wrote its snapshot
    // (docs/raft-runtime.md, "Stop").
    if (done) {
      const settleEnd = handedAt + Math.min(HANDOVER_SETTLE_MAX_MS, this.host.transferWaitMs);
      while (clock.now() < settleEnd && (this.host.core()?.appliedIndex ?? Infinity) <= s.lastIndex)
        await new Promise<void>((res) => clock.after(2, res));
    }
    this.host.log.info('raft leadership handed over', {
      to: best,
      done,
      ms: handedAt - t0,
      settled_ms: clock.now() - handedAt,
    });
  }
}
