/**
 * A task's output log: stdout and stderr of its process, appended to
 * <data_dir>/tasks/<alloc>/output.log, rotated to output.log.1 at
 * [tasks] log_max_bytes (one older file kept), so a chatty agent cannot fill
 * the disk of a small device.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { isoUtc } from '../common/utc-time.js';

export const LOG_FILE = 'output.log';

export function allocDir(dataDir: string, alloc: string): string {
  return join(dataDir, 'tasks', alloc);
}

export class RotatingLog {
  private fd: number;
  private size: number;
  private readonly path: string;

  constructor(
    dir: string,
    private readonly maxBytes: number,
    /** Called after each write: readers following the log (logs --follow) wait on it, not on a timer. */
    private readonly onWrite?: () => void,
  ) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, LOG_FILE);
    this.fd = openSync(this.path, 'a');
    this.size = fstatSync(this.fd).size;
  }

  write(chunk: Buffer): void {
    if (this.fd < 0) return;
    if (this.size > 0 && this.size + chunk.length > this.maxBytes) this.rotate();
    writeSync(this.fd, chunk);
    this.size += chunk.length;
    this.onWrite?.();
  }

  /** A line of the supervisor's own (start, exit, restart), so the log tells the whole story. */
  note(text: string): void {
    this.write(Buffer.from(`[swarm] ${isoUtc(Date.now())} ${text}\n`));
  }

  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, 'a');
    this.size = 0;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** A chunk as raw bytes: `from` is where it starts (0 after a rotation moved the offset). */
export interface LogBytes {
  readonly from: number;
  readonly bytes: Buffer;
  readonly next_offset: number;
  readonly size: number;
}

/**
 * Read the current log from `offset` (at most `max` bytes); without an offset, its last `max`
 * bytes. An offset past the end means the log rotated: read from its start.
 */
export function readLogBytes(dir: string, offset: number | null, max: number): LogBytes {
  const path = join(dir, LOG_FILE);
  if (!existsSync(path)) return { from: 0, bytes: Buffer.alloc(0), next_offset: 0, size: 0 };
  const size = statSync(path).size;
  let from = offset === null ? Math.max(0, size - max) : offset;
  if (from > size) from = 0;
  const len = Math.min(max, size - from);
  if (len <= 0) return { from, bytes: Buffer.alloc(0), next_offset: from, size };
  const buf = Buffer.alloc(len);
  const fd = openSync(path, 'r');
  try {
    const n = readSync(fd, buf, 0, len, from);
    return { from, bytes: buf.subarray(0, n), next_offset: from + n, size };
  } finally {
    closeSync(fd);
  }
}
