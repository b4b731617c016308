/** Typed errors of the Raft core. */
import { SwarmError } from '../common/errors.js';

/**
 * The driver broke the Ready/advance contract or fed an impossible input
 * (e.g. a committed entry asked to be overwritten). These indicate a bug or
 * corrupted state, so they throw instead of returning a result.
 */
export class RaftError extends SwarmError {
  constructor(code: string, message: string, fields: Record<string, unknown> = {}) {
    super(`raft_${code}`, message, { exitCode: 1, fields });
  }
}

/** A seed-API call that only a leader may make. */
export class NotLeaderError extends SwarmError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('raft_not_leader', message, { exitCode: 1, fields });
  }
}
