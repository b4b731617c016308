/**
 * The errors a Raft request can end with on this node. In their own file so the
 * forwarder (raft-forward.ts), the KV service and the API share them without an
 * import cycle through raft-component.ts.
 */
import { SwarmError } from '../common/errors.js';

/** A request the cluster could not decide in time (no leader, no quorum, leadership lost). */
export class NoQuorumError extends SwarmError {
  constructor(message: string) {
    super('no_quorum', message, { exitCode: 1 });
  }
}

/**
 * The caller gave up (its HTTP client left) before the request was sent or
 * proposed anywhere: it was not applied and never will be. Checked only at
 * points where nothing of the request has left this node, so a write whose
 * client timed out while the node waited for a leader does not surface later.
 */
export class RequestAbandonedError extends SwarmError {
  constructor(message: string) {
    super('abandoned', message, { exitCode: 1 });
  }
}

/** A write that would grow the store past `raft.quota_bytes` (deletes always pass: they free space). */
export class QuotaExceededError extends SwarmError {
  constructor(message: string) {
    super('quota_exceeded', message, { exitCode: 1 });
  }
}

/**
 * This node does not take the request: `leader` is who it believes leads
 * (null when unknown; itself while handing over), `successor` the node it is
 * handing leadership to, if any.
 */
export class NotLeaderError extends SwarmError {
  readonly leader: string | null;
  readonly successor: string | null;
  constructor(leader: string | null, successor: string | null = null) {
    // Control flow, not a fault: a follower meets one for every request it forwards after trying
    // it locally (leased puts and coord ops; plain writes skip the try, see followerOf), and nobody
    // reads its stack. Capturing one was 5% of a follower's busy time
    // under writes spread over the nodes (raft-kv bench, 64 clients), so it carries none.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(
      'not_leader',
      successor !== null
        ? `handing leadership to ${successor}`
        : leader === null
          ? 'no leader known'
          : `leader is ${leader}`,
      { exitCode: 1 },
    );
    Error.stackTraceLimit = limit;
    this.leader = leader;
    this.successor = successor;
  }
}
