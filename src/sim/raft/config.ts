/**
 * What one simulator run looks like, drawn from its seed: cluster size and
 * learners, pre-vote and check-quorum on or off, timings, value sizes up to
 * the API's limit, snapshot thresholds. Seeds therefore cover configurations
 * the daemon's defaults never show (a core rule that only matters without
 * pre-vote is still exercised). Any field can be pinned by the caller.
 */
import { createRng } from '../../common/rng.js';

/** The REST API's limit on a KV value (src/api/routes/kv.ts MAX_VALUE_BYTES; not imported: sim must not load the API). */
export const API_MAX_VALUE_BYTES = 64 * 1024;

export interface RunConfig {
  /** Voters plus learners, 1-7. */
  readonly nodes: number;
  /** Of `nodes`, how many start as learners. */
  readonly learners: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly heartbeatMs: number;
  readonly electionMinMs: number;
  readonly electionMaxMs: number;
  readonly tickMs: number;
  /** Applied entries between snapshots (0: never). */
  readonly snapshotEvery: number;
  /** Approximate size of each written value, bytes (0: small integers). */
  readonly valueBytes: number;
  /** The core's entries per AppendEntries (the daemon's 512, or small: partial batches). */
  readonly maxEntriesPerMsg: number;
  /** The core's pipelined AppendEntries per follower. */
  readonly maxInflightMsgs: number;
  /** The core's commit-notification hold (the daemon's 2 ms, or at once, or long). */
  readonly commitNotifyDelayMs: number;
  /** The driver's asyncLeaderPersist: a leader applies on its followers' quorum while its fsync runs. */
  readonly asyncLeaderPersist: boolean;
}

export function drawConfig(seed: number, pin: Partial<RunConfig> = {}): RunConfig {
  const rng = createRng((seed ^ 0x6a09_e667) >>> 0);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(0, xs.length - 1)]!;
  const nodes = pin.nodes ?? pick([1, 2, 3, 3, 3, 4, 5, 5, 6, 7]);
  const learners = Math.min(pin.learners ?? (nodes >= 3 && rng.next() < 0.3 ? rng.int(1, 2) : 0), nodes - 1);
  const heartbeatMs = pin.heartbeatMs ?? pick([20, 50, 100]);
  const electionMinMs = pin.electionMinMs ?? heartbeatMs * pick([5, 6, 10]);
  const electionMaxMs = pin.electionMaxMs ?? electionMinMs * 2;
  return {
    nodes,
    learners,
    preVote: pin.preVote ?? rng.next() < 0.5,
    checkQuorum: pin.checkQuorum ?? rng.next() < 0.5,
    heartbeatMs,
    electionMinMs,
    electionMaxMs,
    // As the daemon: an election timeout fires within a tenth of its minimum, never above the heartbeat.
    tickMs: pin.tickMs ?? Math.max(5, Math.min(heartbeatMs, Math.floor(electionMinMs / 10))),
    snapshotEvery: pin.snapshotEvery ?? pick([0, 25, 25, 100, 1000]),
    valueBytes: pin.valueBytes ?? pick([0, 0, 0, 100, 4096, API_MAX_VALUE_BYTES - 64]),
    maxEntriesPerMsg: pin.maxEntriesPerMsg ?? pick([1, 2, 8, 512, 512]),
    maxInflightMsgs: pin.maxInflightMsgs ?? pick([1, 4, 64, 64]),
    // Drawn last, so every earlier draw of a seed stays what it was.
    commitNotifyDelayMs: pin.commitNotifyDelayMs ?? pick([0, 2, 2, 30]),
    // After commitNotifyDelayMs, for the same reason. Mostly on: it is the path with more to check.
    asyncLeaderPersist: pin.asyncLeaderPersist ?? rng.next() < 0.75,
  };
}

export function describeConfig(c: RunConfig): string {
  return (
    `${c.nodes - c.learners} voters + ${c.learners} learners, pre-vote ${c.preVote ? 'on' : 'off'}, ` +
    `check-quorum ${c.checkQuorum ? 'on' : 'off'}, heartbeat ${c.heartbeatMs} ms, election ${c.electionMinMs}-${c.electionMaxMs} ms, ` +
    `tick ${c.tickMs} ms, snapshot every ${c.snapshotEvery || 'never'}, values ${c.valueBytes} B, ` +
    `${c.maxEntriesPerMsg} entries x ${c.maxInflightMsgs} in flight, commit notify ${c.commitNotifyDelayMs} ms, ` +
    `leader persist ${c.asyncLeaderPersist ? 'async' : 'in order'}`
  );
}
