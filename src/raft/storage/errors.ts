/** Typed errors of the on-disk Raft storage. */
import { SwarmError } from '../../common/errors.js';

/**
 * The WAL holds bytes that are neither a valid record nor a torn final write.
 * Recovery refuses to guess: dropping them could lose committed entries, so the
 * node must stop and an operator must look at `file` at `offset`.
 */
export class WalCorruptionError extends SwarmError {
  readonly file: string;
  readonly offset: number;

  constructor(file: string, offset: number, reason: string) {
    super('wal_corrupt', `WAL corrupt in ${file} at offset ${offset}: ${reason}`, {
      exitCode: 1,
      fields: { file, offset, reason },
    });
    this.file = file;
    this.offset = offset;
  }
}

/** The snapshot file fails its checksum or cannot be parsed. */
export class SnapshotCorruptionError extends SwarmError {
  readonly file: string;

  constructor(file: string, reason: string) {
    super('snapshot_corrupt', `snapshot ${file} is corrupt: ${reason}`, {
      exitCode: 1,
      fields: { file, reason },
    });
    this.file = file;
  }
}

/**
 * Misuse of the storage API (appending a gap, using it before `load`) or a
 * storage that failed an earlier write/fsync and now refuses further work.
 */
export class StorageError extends SwarmError {
  constructor(
    code: string,
    message: string,
    opts: { fields?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(`storage_${code}`, message, { exitCode: 1, ...opts });
  }
}
