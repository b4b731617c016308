/**
 * Crash simulation: a seeded workload of appends (with conflicting-suffix truncations), hard-state
 * changes, concurrent syncs and snapshots runs against the real storage while an fs hook copies the
 * data directory at random moments, also in torn variants (the unsynced tail of the open segment cut
 * short, zero-filled, or the never-synced new segment gone). Every copy must load without error and
 * hold a state the workload passed through, no older than the last acknowledged sync.
 *
 * Segment bounds cycle from 1 byte (a segment per flush) to 1 MiB (one segment) across seeds.
 * WAL_CRASH_SEEDS=2000 npx vitest run test/raft/storage/crash.test.ts runs a long campaign;
 * WAL_CRASH_FIRST_SEED=<seed> WAL_CRASH_SEEDS=1 replays one seed.
 */
import {
  cpSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  openSync,
  writeSync,
  closeSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../../../src/common/rng.js';
import { FileRaftStorage } from '../../../src/raft/storage/file-storage.js';
import type { Entry, HardState } from '../../../src/raft/types.js';
import { cleanupDirs, hookedFs, noSyncFs, tempDir } from './helpers.js';

afterEach(cleanupDirs);

const SEEDS = Number(process.env['WAL_CRASH_SEEDS'] ?? 40);
const FIRST_SEED = Number(process.env['WAL_CRASH_FIRST_SEED'] ?? 1);
const OPS = 60;

function payload(index: number, term: number): Uint8Array {
  const n = (index * 7 + term) % 61;
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = (index + term * 13 + i) & 0xff;
  return d;
}

function mk(index: number, term: number): Entry {
  return { index, term, type: 0, data: payload(index, term) };
}

function key(full: readonly number[], hs: HardState): string {
  return `${full.join(',')}|${hs.term}|${hs.vote ?? '-'}`;
}

interface Image {
  dir: string;
  ackedK: number;
  currentK: number;
  what: string;
}

async function runSeed(seed: number): Promise<void> {
  const rng: Rng = createRng(seed);
  const dir = tempDir(true);
  const images: Image[] = [];
  const synced = new Map<string, number>();
  let step = 0;

  // Model: the full log as terms (index i at position i - 1), the hard state, and every state passed through.
  let full: number[] = [];
  let snapIndex = 0;
  let curTerm = 1;
  let hs: HardState = { term: 0, vote: null, commit: 0 };
  const states: string[] = [key(full, hs)];
  const push = (): void => {
    states.push(key(full, hs));
  };
  let ackedK = 0;

  const takeImage = (what: string): void => {
    const base = tempDir(true);
    const currentK = states.length - 1;
    const snapDir = join(base, 'img');
    cpSync(dir, snapDir, { recursive: true });
    images.push({ dir: snapDir, ackedK, currentK, what });
    const wal = readdirSync(dir)
      .filter((f) => f.endsWith('.wal'))
      .sort();
    const last = wal[wal.length - 1];
    if (!last) return;
    const p = join(dir, last);
    const size = statSync(p).size;
    const safe = synced.get(p) ?? 0;
    if (size > safe) {
      const cut = rng.int(safe, size - 1);
      const tdir = join(base, 'torn');
      cpSync(dir, tdir, { recursive: true });
      truncateSync(join(tdir, last), cut);
      images.push({ dir: tdir, ackedK, currentK, what: `${what} torn@${cut}` });
      const zdir = join(base, 'zero');
      cpSync(dir, zdir, { recursive: true });
      const fd = openSync(join(zdir, last), 'r+');
      writeSync(fd, Buffer.alloc(size - cut), 0, size - cut, cut);
      closeSync(fd);
      images.push({ dir: zdir, ackedK, currentK, what: `${what} zeroed@${cut}` });
    }
    if (safe === 0 && wal.length > 1) {
      // A segment never fsynced (nor its directory entry) may vanish entirely.
      const gdir = join(base, 'gone');
      cpSync(dir, gdir, { recursive: true });
      unlinkSync(join(gdir, last));
      images.push({ dir: gdir, ackedK, currentK, what: `${what} gone` });
    }
  };

  const fs = hookedFs((ev, p) => {
    step++;
    if (ev === 'create') synced.set(p, 0);
    if (ev === 'datasync') synced.set(p, statSync(p).size);
    if (rng.next() < 0.25) takeImage(`${ev} ${p.slice(dir.length + 1)} step ${step}`);
  }, noSyncFs);

  const s = new FileRaftStorage(dir, { fs, maxSegmentBytes: [1, 64, 256, 1024, 1 << 20][seed % 5]! });
  await s.load();

  const doAppend = (): void => {
    const last = full.length;
    let first = last + 1;
    if (last > snapIndex && rng.next() < 0.2) {
      first = rng.int(Math.max(snapIndex + 1, last - 8), last);
      curTerm++;
    }
    const n = rng.int(1, 5);
    const batch: Entry[] = [];
    for (let i = 0; i < n; i++) batch.push(mk(first + i, curTerm));
    s.append(batch);
    if (first <= last) {
      full = full.slice(0, first - 1);
      push();
    }
    for (const e of batch) {
      full.push(e.term);
      push();
    }
  };

  const doHardState = (): void => {
    const votes = [null, 'a', 'b'];
    const next: HardState = { term: curTerm, vote: votes[rng.int(0, 2)]!, commit: rng.int(0, full.length) };
    s.setHardState(next);
    if (next.term !== hs.term || next.vote !== hs.vote || next.commit !== hs.commit) {
      hs = next;
      push();
    }
  };

  const doSync = async (): Promise<void> => {
    const waits: Promise<void>[] = [];
    const k = rng.int(1, 3);
    for (let i = 0; i < k; i++) {
      const at = states.length - 1;
      waits.push(s.sync().then(() => void (ackedK = Math.max(ackedK, at))));
      if (rng.next() < 0.5) doAppend();
    }
    await Promise.all(waits);
  };

  const doSnapshot = async (): Promise<void> => {
    const last = full.length;
    const r = rng.next();
    let S: number;
    let H: number[];
    if (last > snapIndex && r < 0.6) {
      S = rng.int(snapIndex + 1, last);
      H = full.slice(0, S);
    } else if (last > snapIndex && r < 0.8) {
      S = rng.int(snapIndex + 1, last);
      curTerm++;
      H = [...full.slice(0, S - 1), curTerm];
    } else {
      S = last + rng.int(1, 5);
      curTerm++;
      H = [...full, ...new Array<number>(S - last).fill(curTerm)];
    }
    const data = Buffer.from(JSON.stringify(H));
    const p = s.saveSnapshot({
      meta: { index: S, term: H[S - 1]!, conf: { voters: ['a'], learners: [] } },
      data,
    });
    const keep = full.length >= S && full[S - 1] === H[S - 1];
    if (!keep && full.length >= S) {
      full = full.slice(0, S - 1);
      push();
    }
    full = keep ? [...H, ...full.slice(S)] : H;
    snapIndex = S;
    push();
    const at = states.length - 1;
    // Sometimes keep working while the snapshot is being written.
    if (rng.next() < 0.5) {
      doAppend();
      const at2 = states.length - 1;
      await Promise.all([p, s.sync().then(() => void (ackedK = Math.max(ackedK, at2)))]);
    }
    await p;
    ackedK = Math.max(ackedK, at);
  };

  for (let op = 0; op < OPS; op++) {
    const r = rng.next();
    if (r < 0.4) doAppend();
    else if (r < 0.55) doHardState();
    else if (r < 0.9) await doSync();
    else await doSnapshot();
  }
  await s.close();
  takeImage('after close');

  for (const img of images) {
    const where = `seed ${seed}, image "${img.what}" (replay: WAL_CRASH_FIRST_SEED=${seed} WAL_CRASH_SEEDS=1)`;
    const r = new FileRaftStorage(img.dir, { fs: noSyncFs });
    let rec;
    try {
      rec = await r.load();
    } catch (err) {
      throw new Error(`${where}: load failed: ${String(err)}`);
    }
    await r.close();
    const snapTerms: number[] = rec.snapshot
      ? (JSON.parse(Buffer.from(rec.snapshot.data).toString()) as number[])
      : [];
    const recoveredFull = [...snapTerms, ...rec.entries.map((e) => e.term)];
    for (const e of rec.entries) {
      if (Buffer.compare(Buffer.from(e.data), Buffer.from(payload(e.index, e.term))) !== 0) {
        throw new Error(`${where}: entry ${e.index} payload differs`);
      }
    }
    if (rec.hardState.commit > recoveredFull.length) throw new Error(`${where}: commit beyond log`);
    const k = key(recoveredFull, rec.hardState);
    let found = -1;
    for (let i = img.currentK; i >= img.ackedK; i--) {
      if (states[i] === k) {
        found = i;
        break;
      }
    }
    if (found < 0) {
      throw new Error(
        `${where}: recovered state is not one the workload passed through since the last ack ` +
          `(acked ${img.ackedK}, current ${img.currentK}); got ${k.slice(0, 200)}; acked was ${states[img.ackedK]!.slice(0, 200)}`,
      );
    }
    rmSync(img.dir, { recursive: true, force: true });
  }
  expect(images.length).toBeGreaterThan(0);
}

describe('crash simulation by copying the data directory', () => {
  it(
    `recovers an acknowledged, consistent state at every sampled crash point (${SEEDS} seeds)`,
    async () => {
      for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
        await runSeed(seed);
        cleanupDirs();
      }
      // Long campaigns get time in proportion; the default run stays well inside the suite's ceiling.
    },
    Math.max(60_000, SEEDS * 3_000),
  );
});
