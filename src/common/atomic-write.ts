/**
 * Atomic file replacement (temp file in the same directory, fsync, rename,
 * fsync of the directory), so a crash never leaves a half-written file. Kept
 * apart from config/save.ts so a node daemon writes its runtime files without
 * loading the config schema (and zod).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from './random.js';
import { basename, dirname, join } from 'node:path';

/** `keepMode`: a file that exists keeps its permissions (a user's chmod of a config file survives an edit). */
export function writeFileAtomic(path: string, text: string, mode = 0o600, keepMode = true): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  let fileMode = mode;
  try {
    if (keepMode) fileMode = statSync(path).mode & 0o777;
  } catch {
    // new file: use the default mode (0600, the file may hold secrets)
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', fileMode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  // The rename is durable only once the directory entry is on disk.
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename itself is still atomic
  }
}
