/**
 * The leader's view of every member's replication (etcd's tracker/): one
 * Progress per voter and learner, the in-flight limits (by message count and
 * by bytes) that pace each follower's pipeline, and the quorum questions asked
 * of them (commit index, check-quorum). `progress.ts` is the per-peer state.
 */
import { Progress, type ProgressState } from './progress.js';
import { committedIndex, isMajority } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly inflight: number;
  readonly inflightBytes: number;
  readonly learner: boolean;
  readonly recovering: boolean;
}

export class ProgressTracker {
  private readonly peers = new Map<NodeId, Progress>();

  constructor(
    private readonly self: NodeId,
    private readonly maxInflightMsgs: number,
    private readonly maxInflightBytes: number,
  ) {}

  get(id: NodeId): Progress | undefined {
    return this.peers.get(id);
  }

  /** Every member's progress, ours included, in the order they joined. */
  values(): IterableIterator<Progress> {
    return this.peers.values();
  }

  /** Only a leader tracks progress. */
  clear(): void {
    this.peers.clear();
  }

  /** A new leader knows nothing of its followers: every one starts probing from our end (`next`). */
  init(conf: ConfState, next: number, selfMatch: number): void {
    this.peers.clear();
    for (const id of [...conf.voters, ...conf.learners]) {
      const pr = new Progress(id, next, conf.learners.includes(id));
      if (id === this.self) {
        pr.match = selfMatch;
        pr.recentActive = true;
      }
      this.peers.set(id, pr);
    }
  }

  /**
   * Follow a committed configuration change: drop removed members, add new
   * ones, and rebuild those whose voter/learner role changed (keeping what
   * is known of their log). Returns whether any follower needs appends now.
   */
  reconfigure(conf: ConfState, lastIndex: number): boolean {
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of [...this.peers.keys()]) if (!members.has(id)) this.peers.delete(id);
    let changed = false;
    for (const id of members) {
      const learner = conf.learners.includes(id);
      const old = this.peers.get(id);
      if (old && old.isLearner === learner) continue;
      const pr = new Progress(id, old?.next ?? lastIndex + 1, learner);
      if (old) {
        pr.match = old.match;
        pr.recentActive = old.recentActive;
      } else {
        // A new member is unknown: start in probe and back off from our end.
        pr.recentActive = true;
      }
      this.peers.set(id, pr);
      changed = true;
    }
    return changed;
  }

  /** Whether `pr`'s pipeline is full (by count or by bytes) or it waits for a probe or snapshot answer. */
  isPaused(pr: Progress): boolean {
    return pr.isPaused(this.maxInflightMsgs, this.maxInflightBytes);
  }

  /** The highest index a majority of `voters` holds. */
  committed(voters: readonly NodeId[]): number {
    // A recovering follower may lack entries it acknowledged: its match counts for nothing.
    return committedIndex(voters, (id) => {
      const pr = this.peers.get(id);
      return pr === undefined || pr.recovering ? 0 : pr.match;
    });
  }

  /**
   * Check-quorum: whether a majority of voters (us included) was heard from
   * since the previous check; starts the next period by clearing the marks.
   */
  quorumActive(voters: readonly NodeId[]): boolean {
    let active = 0;
    for (const v of voters) {
      const pr = this.peers.get(v);
      if (v === this.self || (pr?.recentActive === true && !pr.recovering)) active++;
    }
    for (const pr of this.peers.values()) if (pr.id !== this.self) pr.recentActive = false;
    return isMajority(active, voters.length);
  }

  status(): Record<NodeId, ProgressStatus> {
    const out: Record<NodeId, ProgressStatus> = {};
    for (const [id, pr] of this.peers) {
      out[id] = {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        recentActive: pr.recentActive,
        inflight: pr.inflight.length,
        inflightBytes: pr.inflightBytes,
        learner: pr.isLearner,
        recovering: pr.recovering,
      };
    }
    return out;
  }
}
