/** RaftNode's options and their defaults, validated once at construction. */
import type { Rng } from '../common/rng.js';
import { RaftError } from './errors.js';
import type { NodeId } from './types.js';

export interface RaftNodeOptions {
  readonly id: NodeId;
  /** Election timeouts are drawn uniformly from [min, max] on every reset (paper 5.2). */
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  /** Must be well below electionTimeoutMinMs, or followers start elections under a live leader. */
  readonly heartbeatIntervalMs: number;
  readonly rng: Rng;
  /** Thesis 9.6: a node campaigns only after a majority says it could win; default true. */
  readonly preVote?: boolean;
  /**
   * Thesis 6.2: a leader steps down when it has not heard from a majority for
   * electionTimeoutMinMs, and followers that heard a leader within that time
   * ignore vote requests (the leader lease). Default true.
   */
  readonly checkQuorum?: boolean;
  /** Pipelined, unacknowledged AppendEntries per follower. Default 64. */
  readonly maxInflightMsgs?: number;
  /** Entries per AppendEntries. Default 512. */
  readonly maxEntriesPerMsg?: number;
  /**
   * Entry bytes per AppendEntries (etcd's MaxSizePerMsg); a single larger entry
   * still goes alone. Keeps every append far below the transport's frame limit
   * (16 MiB): a batch of 512 entries of 64 KiB would be 32 MiB and be dropped
   * every time, stalling replication for good. Default 1 MiB.
   */
  readonly maxSizePerMsg?: number;
  /** Unacknowledged entry bytes per follower (etcd's MaxInflightBytes). Default 8 MiB. */
  readonly maxInflightBytes?: number;
  /** Bytes of snapshot image per InstallSnapshot chunk. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Committed entries per Ready, so a restart replaying a long log does not build one huge batch. Default 4096. */
  readonly maxCommittedPerReady?: number;
  /**
   * How long a leader holds the message that tells followers of a new commit, ms, in the hope that an
   * append carries it instead (each append carries the commit index). Pushed back by every later
   * commit, so under load followers learn a commit with the next append and the message goes only
   * at the end of a burst. 0 (default): at once, as etcd's bcastAppend after maybeCommit. See
   * sendCommitNotifications (leader.ts).
   */
  readonly commitNotifyDelayMs?: number;
}

/** Validate `opts` and fill in the defaults. */
export function resolveOptions(opts: RaftNodeOptions): Required<RaftNodeOptions> {
  if (!(opts.electionTimeoutMinMs > 0 && opts.electionTimeoutMaxMs >= opts.electionTimeoutMinMs)) {
    throw new RaftError('bad_options', 'need 0 < electionTimeoutMinMs <= electionTimeoutMaxMs', {
      min: opts.electionTimeoutMinMs,
      max: opts.electionTimeoutMaxMs,
    });
  }
  if (!(opts.heartbeatIntervalMs > 0 && opts.heartbeatIntervalMs < opts.electionTimeoutMinMs)) {
    throw new RaftError('bad_options', 'need 0 < heartbeatIntervalMs < electionTimeoutMinMs', {
      heartbeat: opts.heartbeatIntervalMs,
    });
  }
  return {
    preVote: true,
    checkQuorum: true,
    maxInflightMsgs: 64,
    maxEntriesPerMsg: 512,
    maxSizePerMsg: 1024 * 1024,
    maxInflightBytes: 8 * 1024 * 1024,
    snapshotChunkBytes: 1024 * 1024,
    maxCommittedPerReady: 4096,
    commitNotifyDelayMs: 0,
    ...opts,
  };
}
