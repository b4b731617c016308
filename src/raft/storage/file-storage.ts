/**
 * RaftStorage on a real disk: a segmented write-ahead log plus one snapshot file.
 * The format and the recovery rules are specified in docs/storage.md.
 *
 * Writes are buffered in memory by `append`/`setHardState` and reach the disk
 * only in `sync`, as one write and one fdatasync for everything buffered
 * (group commit). All disk work runs one operation at a time through `exclusive`,
 * so a flush, a snapshot and a close never interleave.
 */
import { dirname, join } from 'node:path';
import {
  EntryType,
  type Entry,
  type HardState,
  type RaftStorage,
  type RecoveredState,
  type Snapshot,
} from '../types.js';
import { encodeRecord, MAX_BODY_BYTES, BODY_FIXED_BYTES } from './codec.js';
import { SnapshotCorruptionError, StorageError, WalCorruptionError } from './errors.js';
import { nodeFs, type StorageFile, type StorageFs } from './fs.js';
import { replay, EMPTY_HARD_STATE, type ScannedSegment } from './replay.js';
import { scanSegment, type TornTail } from './scan.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.js';
import { decodeSyncedMarker, encodeSyncedMarker, SYNCED_FILE, type SyncedMarker } from './synced-marker.js';

export const DEFAULT_MAX_SEGMENT_BYTES = 8 * 1024 * 1024;
export const SNAPSHOT_FILE = 'snapshot.snap';
const SNAPSHOT_TMP = `${SNAPSHOT_FILE}.tmp`;
/** Where prepareSnapshot writes, apart from SNAPSHOT_TMP: a snapshot from the leader may be saved meanwhile. */
const SNAPSHOT_PREPARED_TMP = `${SNAPSHOT_FILE}.prepared.tmp`;
const TEMP_FILES: readonly string[] = [SNAPSHOT_TMP, SNAPSHOT_PREPARED_TMP];
const SEGMENT_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
/** The durable "recovering until index N" marker (docs/storage.md "Torn or corrupt"). */
export const RECOVERING_FILE = 'wal.recovering';
const RECOVERING_TMP = `${RECOVERING_FILE}.tmp`;
/** The smallest entry record (header, fixed body, entry type): bounds how many entries a damaged region held. */
const MIN_ENTRY_RECORD_BYTES = 12 + 17 + 1;
/**
 * The next segment, zero-filled and fdatasynced ahead of the roll (docs/storage.md "Preallocated
 * segments"); renamed to its segment name when the log rolls into it, removed by `load`.
 */
export const PREALLOC_FILE = 'wal.prealloc.tmp';
/** Zeros written per step while preparing a segment: each step is one write (thread pool) and one fdatasync. */
const PREALLOC_STEP_BYTES = 1024 * 1024;
/**
 * A segment is prepared only while the disk has room for this many of them: preallocation must
 * not take the last free space that the log itself (or the rest of the node) needs.
 */
const PREALLOC_MIN_FREE_SEGMENTS = 4;

/** Damage recovery found in bytes that were (or may have been) synced, and so possibly acknowledged. */
export interface LostAcknowledged {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  /** The node may lack entries it acknowledged up to this index. */
  readonly recoveringUntil: number;
}

/** Something recovery repaired or noticed; never a loss of synced data. */
export type StorageWarning =
  | ({ readonly kind: 'torn-tail' } & TornTail)
  /** The last segment held nothing valid (a roll that crashed before its first write landed) and was removed. */
  | { readonly kind: 'removed-empty-segment'; readonly file: string }
  /** A temp file of an unfinished snapshot write was removed. */
  | { readonly kind: 'removed-temp'; readonly file: string }
  /** The stored commit index pointed past the recovered log (its entries were in the torn tail) and was lowered. */
  | { readonly kind: 'commit-clamped'; readonly from: number; readonly to: number }
  /**
   * Synced (or possibly synced) WAL bytes were damaged and cut: the node may have lost entries it
   * acknowledged and stays out of every quorum until it caught up past `recoveringUntil`.
   */
  | ({ readonly kind: 'lost-acknowledged' } & LostAcknowledged);

export interface FileStorageOptions {
  /** A segment is closed and a new one started once it reaches this size (checked between batches). */
  readonly maxSegmentBytes?: number;
  readonly fs?: StorageFs;
  readonly onWarning?: (w: StorageWarning) => void;
  /**
   * When a flush's fdatasync runs on the calling thread instead of the thread pool (see InlineSync);
   * default DEFAULT_INLINE_SYNC; `{ maxEntries: 0 }` never.
   */
  readonly inlineSync?: InlineSync;
  /**
   * Zero-fill each next segment to `maxSegmentBytes` off the write path, so that a flush overwrites
   * allocated blocks and its fdatasync does not commit a new file size (default false until the
   * recovery bounds of docs/storage.md "Preallocated segments" are settled; needs a StorageFs whose
   * files have writeAt).
   */
  readonly preallocate?: boolean;
}

/**
 * A small flush on a fast disk fsyncs on the event-loop thread. On the thread pool each fdatasync
 * costs two thread hand-offs (wake a pool thread, then wake the loop with its result), on every
 * commit's critical path twice (leader and follower): measured on the raft-kv bench at one client,
 * 9.4 context switches per write on the leader and 7.5 on each follower, against 6.4 and 4.9 with the
 * fsync inline, and on a busy machine every hand-off is one more wait for a core. The loop is
 * blocked meanwhile, which costs nothing when the flush holds a write or two (light load: nothing
 * else is waiting) and would cost throughput under load, where a flush holds many entries and the
 * loop has requests to parse during the fsync: there the pool keeps them overlapped. A slow disk
 * (an SD card's fsync can take tens of ms) never blocks the loop: inline only while the running
 * average of recent fsyncs stays under `maxMs`.
 */
export interface InlineSync {
  /** Flushes of at most this many entries may fsync inline (0: never). */
  readonly maxEntries: number;
  /** ... while the moving average of fsync durations is at most this (ms). */
  readonly maxMs: number;
  /**
   * ... and the flush is at most this many bytes (default: no bound). The average only learns of a
   * slow fsync after it: a follower's catch-up flush (up to the leader's in-flight bytes, MiBs) on an
   * SD card would block the loop for a second or more, long enough for its gossip acks to come late
   * and the node to be suspected.
   */
  readonly maxBytes?: number;
}

export const DEFAULT_INLINE_SYNC: InlineSync = { maxEntries: 2, maxMs: 2 };
/** Weight of the newest fsync in the moving average that gates inline fsyncs. */
const FSYNC_EWMA_WEIGHT = 0.2;
/** Weight of the newest flush in the moving average of entries per flush. */
const FLUSH_EWMA_WEIGHT = 0.1;
/** A 'lone' writer (setInlineSync): recent flushes average at most this many entries. */
const LONE_FLUSH_ENTRIES = 1.2;

export interface StorageStats {
  /** Calls to `sync()`. */
  syncCalls: number;
  /** Flushes that wrote something (each is one write + one fdatasync). */
  flushes: number;
  writes: number;
  bytesWritten: number;
  /** Every fdatasync/fsync of a file or directory. */
  fsyncs: number;
  /** WAL fdatasyncs that ran on the calling thread (see InlineSync). */
  inlineFsyncs: number;
  segmentsCreated: number;
  segmentsRemoved: number;
  snapshotsSaved: number;
  /** Segments the log rolled into preallocated (the rest grew with every flush). */
  segmentsPreallocated: number;
  /** Zero bytes written preparing segments, and the fdatasyncs that made them durable (not in `fsyncs`). */
  preallocBytes: number;
  preallocFsyncs: number;
}

export interface Segment {
  readonly seq: number;
  readonly firstIndex: number;
  readonly name: string;
}

/** The log's state at a snapshot call: a flush must not write past it before the snapshot is durable. */
interface Barrier {
  chunks: number;
  readonly hardState: HardState;
  readonly lastIndex: number;
}

interface Taken {
  readonly chunks: Uint8Array[];
  readonly hardStateBefore: HardState;
  readonly lastIndexBefore: number;
  /** Last index once these chunks are written: what the synced-extent marker records. */
  readonly lastIndexAfter: number;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Everything `load` reads, before it repairs anything. */
export interface DataDirImage {
  readonly snapshot: Snapshot | null;
  readonly segments: readonly Segment[];
  readonly scanned: readonly ScannedSegment[];
  /** The last hard-state record as written (before commit is raised to the snapshot or clamped). */
  readonly hardState: HardState;
  /** Entries above the snapshot index, contiguous. */
  readonly entries: Entry[];
  /** The torn tail recovery would cut, if any. */
  readonly torn: readonly TornTail[];
  /** Leftover snapshot temp files (of a write that crashed before its rename). */
  readonly tempFiles: readonly string[];
  /** A prepared (zero-filled) next segment is there, PREALLOC_FILE: scratch, removed by `load` without a warning. */
  readonly preparedFile: boolean;
  /** The synced-extent marker as found (null: none or unreadable). */
  readonly synced: SyncedMarker | null;
  /** Damage in synced bytes found now (null: none; a torn tail alone is not). */
  readonly lost: LostAcknowledged | null;
  /** The "recovering until" index: the larger of a marker left by an earlier start and `lost`; 0 = none. */
  readonly recoveringUntil: number;
}

/** A snapshot file written and synced by prepareSnapshot, waiting for saveSnapshot to rename it. */
export interface PreparedSnapshot {
  readonly index: number;
  readonly file: string;
}

/**
 * Reads and validates a data directory without changing it: the first half of `load`, and on its
 * own an offline check (e.g. for an operator's `fsck`). Throws WalCorruptionError or
 * SnapshotCorruptionError exactly where `load` would.
 */
export async function readDataDir(dir: string, fs: StorageFs = nodeFs): Promise<DataDirImage> {
  const names = (await fs.list(dir)).sort();
  let snapshot: Snapshot | null = null;
  if (names.includes(SNAPSHOT_FILE)) {
    const s = decodeSnapshot(await fs.readFile(join(dir, SNAPSHOT_FILE)));
    if (typeof s === 'string') throw new SnapshotCorruptionError(SNAPSHOT_FILE, s);
    snapshot = s;
  }
  const segments: Segment[] = [];
  for (const n of names) {
    const m = SEGMENT_RE.exec(n);
    if (m) segments.push({ seq: parseInt(m[1]!, 16), firstIndex: parseInt(m[2]!, 16), name: n });
  }
  segments.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < segments.length; i++) {
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
      throw new WalCorruptionError(
        segments[i]!.name,
        0,
        `segment sequence ${segments[i - 1]!.seq + 1} is missing`,
      );
    }
  }
  const scanned: ScannedSegment[] = [];
  const torn: TornTail[] = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const scan = scanSegment(
      await fs.readFile(join(dir, seg.name)),
      seg.name,
      i === segments.length - 1,
      (snapshot?.meta.index ?? 0) + 1,
    );
    scanned.push({ name: seg.name, scan });
    if (scan.torn) torn.push(scan.torn);
  }
  const { hardState, entries } = replay(scanned, snapshot?.meta.index ?? 0);
  const tempFiles = [...TEMP_FILES, RECOVERING_TMP].filter((n) => names.includes(n));
  const synced = names.includes(SYNCED_FILE)
    ? decodeSyncedMarker(await fs.readFile(join(dir, SYNCED_FILE)))
    : null;
  let prior = 0;
  if (names.includes(RECOVERING_FILE)) prior = parseRecovering(await fs.readFile(join(dir, RECOVERING_FILE)));
  const lastIndex = (snapshot?.meta.index ?? 0) + entries.length;
  const lost = classifyTail(segments, scanned, synced, lastIndex);
  const recoveringUntil = Math.max(prior, lost?.recoveringUntil ?? 0);
  return {
    snapshot,
    segments,
    scanned,
    hardState,
    entries,
    torn,
    tempFiles,
    preparedFile: names.includes(PREALLOC_FILE),
    synced,
    lost,
    recoveringUntil,
  };
}

function parseRecovering(buf: Uint8Array): number {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(buf).toString('utf8'));
  } catch {
    v = null;
  }
  const until = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['until'] : undefined;
  if (typeof until !== 'number' || !Number.isSafeInteger(until) || until < 0) {
    // Written by rename after an fsync, so unreadable means the medium went bad; guessing 0 could
    // let a node that lost acknowledged entries vote.
    throw new WalCorruptionError(RECOVERING_FILE, 0, 'unreadable recovering marker');
  }
  return until;
}

/**
 * Whether the cut at the end of the WAL (or a missing tail) hit bytes that were synced. The rule
 * (docs/storage.md "Torn or corrupt"): a torn write exists only past the last fsync. Damage below
 * the synced extent, or a log shorter than it, is corruption: the entries up to the marker's last
 * index (plus as many as the damaged bytes past the extent could hold) may have been acknowledged.
 * Damage past the extent is a torn write when it looks like one (the file ends inside a record, or
 * zero-filled blocks); a complete record failing its checksum there is treated as possibly
 * acknowledged too, since the marker may lag the WAL after a power loss.
 */
function classifyTail(
  segments: readonly Segment[],
  scanned: readonly ScannedSegment[],
  synced: SyncedMarker | null,
  lastIndex: number,
): LostAcknowledged | null {
  const last = segments[segments.length - 1];
  const scan = scanned[scanned.length - 1]?.scan;
  if (synced !== null && (last === undefined || synced.seq > last.seq)) {
    return {
      file: last?.name ?? '(no segment)',
      offset: 0,
      reason: `segment ${synced.seq} holding synced entries up to ${synced.lastIndex} is missing`,
      recoveringUntil: synced.lastIndex,
    };
  }
  if (last === undefined || scan === undefined) return null;
  const extent = synced !== null && synced.seq === last.seq ? synced.extent : 0;
  // Bytes that could have held records: up to the cut's end, but no further than the last record
  // that can start before the last non-zero byte (zeros after it in a preallocated segment held none).
  const length = Math.min(
    scan.validBytes + (scan.torn?.droppedBytes ?? 0),
    (scan.dataBytes ?? Number.POSITIVE_INFINITY) + MIN_ENTRY_RECORD_BYTES - 1,
  );
  const maxRecords = (bytes: number): number => Math.max(0, Math.floor(bytes / MIN_ENTRY_RECORD_BYTES));
  if (scan.validBytes < extent) {
    const what = scan.torn?.reason ?? (scan.fileBytes > scan.validBytes ? 'zeros' : 'file ends');
    return {
      file: last.name,
      offset: scan.validBytes,
      reason: `${what} below the synced extent ${extent}`,
      recoveringUntil: Math.max(synced?.lastIndex ?? 0, lastIndex) + maxRecords(length - extent),
    };
  }
  const t = scan.torn;
  if (t === null || t.damage !== 'checksum') return null;
  return {
    file: last.name,
    offset: t.offset,
    reason: `${t.reason} past the synced extent ${extent}: may be a synced record (the marker can lag after a power loss)`,
    recoveringUntil: Math.max(synced?.lastIndex ?? 0, lastIndex + maxRecords(length - t.offset)),
  };
}

export class FileRaftStorage implements RaftStorage {
  readonly dir: string;
  readonly stats: StorageStats = {
    syncCalls: 0,
    flushes: 0,
    writes: 0,
    bytesWritten: 0,
    fsyncs: 0,
    inlineFsyncs: 0,
    segmentsCreated: 0,
    segmentsRemoved: 0,
    snapshotsSaved: 0,
    segmentsPreallocated: 0,
    preallocBytes: 0,
    preallocFsyncs: 0,
  };
  /** What the last `load` repaired. */
  readonly warnings: StorageWarning[] = [];

  private readonly fs: StorageFs;
  private readonly maxSegmentBytes: number;
  private readonly onWarning: ((w: StorageWarning) => void) | undefined;
  private readonly inlineSync: InlineSync;
  /** Off, or only for a lone write, while the runtime says so (a leader, see setInlineSync). */
  private inlineMode: 'on' | 'lone' | 'off' = 'on';
  /** Moving average of entries per flush: a lone writer's flushes hold one each (see setInlineSync). */
  private flushEntries = 0;
  /** Moving average of WAL fdatasync durations (ms), which gates inline fsyncs. */
  private fsyncMs = 0;

  private loaded = false;
  private closed = false;
  private failed: unknown = null;

  private segments: Segment[] = [];
  /**
   * The open tail segment: `size` is where the log ends (the next write goes there), `allocated` the
   * file's length; `positional` writes go through writeAt (a preallocated file), else appends.
   */
  private current: { file: StorageFile; size: number; allocated: number; positional: boolean } | null = null;
  private readonly preallocate: boolean;
  /** A preparation failed (no writeAt, a full disk): no further ones in this process. */
  private preallocOff = false;
  /** The next segment, zero-filled and synced, waiting under PREALLOC_FILE for the roll. */
  private prepared: { file: StorageFile; size: number } | null = null;
  /** The preparation running now (it never rejects). */
  private preparation: Promise<void> | null = null;
  /** Open handle of the synced-extent marker file. */
  private markerFile: StorageFile | null = null;
  private recoveringUntil = 0;

  // The log as the core sees it (including buffered, unsynced appends).
  private snapIndex = 0;
  private snapTerm = 0;
  private lastIndex = 0;
  /** terms[i] is the term of entry snapIndex + 1 + i; needed to judge a snapshot against the log. */
  private terms: number[] = [];
  private hardState: HardState = EMPTY_HARD_STATE;

  // What the disk holds once every taken batch is written.
  private hardStateTaken: HardState = EMPTY_HARD_STATE;
  private lastIndexTaken = 0;

  private chunks: Uint8Array[] = [];
  private barriers: Barrier[] = [];
  private lock: Promise<void> = Promise.resolve();
  private busy = 0;
  private preparing = false;
  /** The flush that has been scheduled but has not started: later sync() callers share it. */
  private queued: Deferred | null = null;

  constructor(dir: string, opts: FileStorageOptions = {}) {
    this.dir = dir;
    this.fs = opts.fs ?? nodeFs;
    this.maxSegmentBytes = opts.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    if (!(this.maxSegmentBytes >= 1)) throw new StorageError('config', 'maxSegmentBytes must be at least 1');
    this.onWarning = opts.onWarning;
    this.inlineSync = opts.inlineSync ?? DEFAULT_INLINE_SYNC;
    this.preallocate = opts.preallocate ?? false;
  }

  /** Index of the last entry, counting buffered appends and the snapshot. */
  getLastIndex(): number {
    return this.lastIndex;
  }

  /** Waits for a preparation in flight (docs/storage.md "Preallocated segments"); whether a prepared segment is ready. */
  async whenPrepared(): Promise<boolean> {
    if (this.preparation !== null) await this.preparation;
    return this.prepared !== null;
  }

  /** Names of the segment files currently in use, oldest first. */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.name);
  }

  // --- recovery --------------------------------------------------------------------------------

  async load(): Promise<RecoveredState> {
    if (this.loaded)
      throw new StorageError('already_loaded', 'load() may run only once per storage instance');
    await this.fs.mkdirp(this.dir);
    // A directory created just now is only durable once its parent's entry for it is.
    await this.fs.syncDir(dirname(this.dir));
    this.stats.fsyncs++;
    const image = await readDataDir(this.dir, this.fs);
    // Only our own temp file: other files in the directory are not ours to delete.
    for (const file of image.tempFiles) {
      await this.fs.unlink(join(this.dir, file));
      this.warn({ kind: 'removed-temp', file });
    }
    // Prepared ahead of every roll, so found after most restarts: no warning. Not trusted either
    // (a crash may have cut its zero-filling short); a new one is prepared after the load.
    if (image.preparedFile) await this.fs.unlink(join(this.dir, PREALLOC_FILE));
    if (image.lost !== null && image.recoveringUntil > 0) {
      // Durable before anything is cut: a crash during the repair must not forget the loss.
      await this.writeRecovering(image.recoveringUntil, image.lost);
      this.warn({ kind: 'lost-acknowledged', ...image.lost });
    } else {
      for (const t of image.torn) this.warn({ kind: 'torn-tail', ...t });
    }
    this.recoveringUntil = image.recoveringUntil;
    const { snapshot, scanned, hardState: hsOnDisk, entries } = image;
    const segs = [...image.segments];
    const snapIndex = snapshot?.meta.index ?? 0;
    const tailBytes = scanned[scanned.length - 1]?.scan.validBytes ?? 0;

    const last = segs[segs.length - 1];
    const lastScan = scanned[scanned.length - 1]?.scan;
    // Zeros after the log (preallocated space) stay when the tail can be written in place: the
    // torn bytes before them are zeroed instead of cut off, so the file keeps its length.
    const tornEnd = tailBytes + (lastScan?.torn?.droppedBytes ?? 0);
    const keepAllocated =
      this.preallocate &&
      this.fs.openWrite !== undefined &&
      lastScan !== undefined &&
      lastScan.fileBytes > tornEnd;
    let tailFile: StorageFile | null = null;
    if (last && tailBytes === 0) {
      // Nothing valid, not even the opening hard-state record: a roll that crashed before its first
      // write landed. Drop the file rather than append to a segment without a hard state.
      await this.fs.unlink(join(this.dir, last.name));
      await this.syncDir();
      segs.pop();
      this.warn({ kind: 'removed-empty-segment', file: last.name });
    } else if (last && keepAllocated) {
      tailFile = await this.fs.openWrite!(join(this.dir, last.name));
      if (tailFile.writeAt === undefined) {
        await tailFile.close();
        throw new StorageError('io', 'openWrite returned a file without writeAt');
      }
      // Zeroed, not left for the next write to overwrite: a shorter write would leave torn bytes
      // behind it, in which the next recovery could find a record-like pattern.
      if (tornEnd > tailBytes) await tailFile.writeAt(new Uint8Array(tornEnd - tailBytes), tailBytes);
    } else if (last && tailBytes < (lastScan?.fileBytes ?? 0)) {
      // Cut the torn tail (or the zeros after the log) before anything is appended after it.
      const f = await this.fs.openAppend(join(this.dir, last.name), 'existing');
      try {
        await f.truncate(tailBytes);
        await f.datasync();
        this.stats.fsyncs++;
      } finally {
        await f.close();
      }
    }

    const lastIndex = snapIndex + entries.length;
    let commit = Math.max(hsOnDisk.commit, snapIndex);
    if (commit > lastIndex) {
      this.warn({ kind: 'commit-clamped', from: commit, to: lastIndex });
      commit = lastIndex;
    }
    const hardState: HardState = { term: hsOnDisk.term, vote: hsOnDisk.vote, commit };

    this.segments = segs;
    const tail = segs[segs.length - 1];
    let marker: SyncedMarker | null = null;
    if (tail) {
      // After removing an empty last segment the tail is the one before it, whose scan was complete.
      const scan = scanned[segs.length - 1]!.scan;
      const size = scan.validBytes;
      this.current =
        tailFile !== null
          ? { file: tailFile, size, allocated: scan.fileBytes, positional: true }
          : {
              file: await this.fs.openAppend(join(this.dir, tail.name), 'existing'),
              size,
              allocated: size,
              positional: false,
            };
      // What survived a process crash may never have been synced: sync it before marking it so.
      await this.current.file.datasync();
      this.stats.fsyncs++;
      marker = { seq: tail.seq, extent: size, lastIndex: snapIndex + entries.length };
    }
    this.markerFile = await this.fs.openTruncate(join(this.dir, SYNCED_FILE));
    if (marker !== null) await this.writeMarker(marker);
    this.snapIndex = snapIndex;
    this.snapTerm = snapshot?.meta.term ?? 0;
    this.lastIndex = lastIndex;
    this.lastIndexTaken = lastIndex;
    this.terms = entries.map((e) => e.term);
    this.hardState = hardState;
    this.hardStateTaken = hardState;
    this.loaded = true;
    this.maybePrepare();
    return this.recoveringUntil > 0
      ? { hardState, snapshot, entries, recoveringUntil: this.recoveringUntil }
      : { hardState, snapshot, entries };
  }

  /**
   * Allow or forbid inline fdatasyncs from the next flush on (see InlineSync). The daemon forbids
   * them while its node leads: a leader's fsync runs beside its followers' round trip, so it is
   * rarely on a commit's critical path, while blocking its loop would hold up the requests it
   * parses meanwhile (measured: leader writes/s at 16 clients fell with inline fsyncs on the leader).
   */
  setInlineSync(on: boolean | 'lone'): void {
    this.inlineMode = on === 'lone' ? 'lone' : on ? 'on' : 'off';
  }

  /** The "recovering until" index this storage loaded (0 = none), until clearRecovering. */
  getRecoveringUntil(): number {
    return this.recoveringUntil;
  }

  private async writeRecovering(until: number, lost: LostAcknowledged): Promise<void> {
    const tmp = join(this.dir, RECOVERING_TMP);
    const f = await this.fs.openTruncate(tmp);
    try {
      await f.append(Buffer.from(JSON.stringify({ until, ...lost }), 'utf8'));
      await f.sync();
      this.stats.fsyncs++;
    } finally {
      await f.close();
    }
    await this.fs.rename(tmp, join(this.dir, RECOVERING_FILE));
    await this.syncDir();
  }

  /** The core caught up past the loss (Ready.recovered): forget the marker durably. */
  clearRecovering(): Promise<void> {
    try {
      this.assertUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.recoveringUntil === 0) return Promise.resolve();
    this.recoveringUntil = 0;
    return this.exclusive(() =>
      this.io(async () => {
        await this.fs.unlink(join(this.dir, RECOVERING_FILE));
        await this.syncDir();
      }),
    );
  }

  /** Records the synced extent after an fdatasync; never synced itself (see synced-marker.ts). */
  private async writeMarker(m: SyncedMarker): Promise<void> {
    const buf = encodeSyncedMarker(m);
    const f = this.markerFile;
    if (f?.writeAt) {
      await f.writeAt(buf, 0);
      return;
    }
    if (f) await f.close();
    this.markerFile = null;
    const g = await this.fs.openTruncate(join(this.dir, SYNCED_FILE));
    await g.append(buf);
    this.markerFile = g;
  }

  // --- buffered writes -------------------------------------------------------------------------

  append(input: readonly Entry[]): void {
    this.assertUsable();
    if (input.length === 0) return;
    const head = input[0]!.index;
    for (let i = 0; i < input.length; i++) {
      if (input[i]!.index !== head + i || !Number.isSafeInteger(head) || head < 1) {
        throw new StorageError(
          'not_contiguous',
          `entries must be contiguous from a positive index: ${input[i]!.index} at position ${i} after ${head}`,
        );
      }
    }
    // Entries the snapshot covers are committed and already in it; drop them, as the simulator's disk does.
    const entries = head <= this.snapIndex ? input.slice(this.snapIndex - head + 1) : input;
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first > this.lastIndex + 1) {
      throw new StorageError('gap', `cannot append at index ${first}: the log ends at ${this.lastIndex}`, {
        fields: { index: first, lastIndex: this.lastIndex },
      });
    }
    // Encode everything before touching state, so a bad entry leaves the storage unchanged.
    const out: Uint8Array[] = [];
    if (first <= this.lastIndex) out.push(encodeRecord({ kind: 'truncate', index: first }));
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (BODY_FIXED_BYTES + 1 + e.data.byteLength > MAX_BODY_BYTES) {
        throw new StorageError(
          'too_large',
          `entry ${e.index} of ${e.data.byteLength} bytes exceeds the record limit`,
        );
      }
      // What recovery would reject must not be written in the first place.
      if (
        (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) ||
        !Number.isSafeInteger(e.term) ||
        e.term < 0
      ) {
        throw new StorageError('bad_entry', `entry ${e.index} has an invalid type or term`, {
          fields: { type: e.type, term: e.term },
        });
      }
      out.push(encodeRecord({ kind: 'entry', entry: e }));
    }
    for (const b of out) this.chunks.push(b);
    this.terms.length = first - this.snapIndex - 1;
    for (const e of entries) this.terms.push(e.term);
    this.lastIndex = entries[entries.length - 1]!.index;
  }

  setHardState(hs: HardState): void {
    this.assertUsable();
    if (sameHardState(hs, this.hardState)) return;
    let rec: Uint8Array;
    try {
      rec = encodeRecord({ kind: 'hardState', hardState: hs });
    } catch (err) {
      throw new StorageError(
        'bad_hard_state',
        'hard state term and commit must be non-negative safe integers',
        {
          fields: { term: hs.term, commit: hs.commit },
          cause: err,
        },
      );
    }
    this.chunks.push(rec);
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  // --- group commit ----------------------------------------------------------------------------

  sync(): Promise<void> {
    this.stats.syncCalls++;
    try {
      this.assertUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.chunks.length === 0 && this.busy === 0) return Promise.resolve();
    if (this.queued) return this.queued.promise;
    const d = deferred();
    this.queued = d;
    this.exclusive(async () => {
      // From here on the buffer is taken; callers arriving now need the next flush.
      if (this.queued === d) this.queued = null;
      await this.writeBatch(this.take());
    }).then(d.resolve, d.reject);
    return d.promise;
  }

  private take(): Taken {
    const b = this.barriers[0];
    const n = b ? b.chunks : this.chunks.length;
    const chunks = this.chunks.splice(0, n);
    for (const x of this.barriers) x.chunks -= n;
    const hardStateBefore = this.hardStateTaken;
    const lastIndexBefore = this.lastIndexTaken;
    this.hardStateTaken = b ? b.hardState : this.hardState;
    this.lastIndexTaken = b ? b.lastIndex : this.lastIndex;
    return { chunks, hardStateBefore, lastIndexBefore, lastIndexAfter: this.lastIndexTaken };
  }

  private async writeBatch(t: Taken): Promise<void> {
    if (t.chunks.length === 0) return;
    await this.io(async () => {
      let created = false;
      // The first segment of a log (a fresh data dir) waits for the preparation load started, so
      // it is preallocated too; later rolls never wait (the next segment was prepared a whole
      // segment earlier, and if not, the roll creates a growing one and leaves it once one is ready).
      if (this.current === null && this.preparation !== null) await this.preparation;
      if (
        this.current === null ||
        this.current.size >= this.maxSegmentBytes ||
        // A segment that grows with every flush (no preallocation when it was opened: an old data
        // dir, or the first flush came before the preparation finished) is left for a prepared one.
        (this.prepared !== null && this.current.allocated < this.maxSegmentBytes)
      ) {
        await this.roll(t.lastIndexBefore + 1);
        created = true;
      }
      const cur = this.current!;
      // Every segment opens with the hard state, so dropping older segments never loses it.
      const chunks =
        cur.size === 0
          ? [encodeRecord({ kind: 'hardState', hardState: t.hardStateBefore }), ...t.chunks]
          : t.chunks;
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (cur.positional) await cur.file.writeAt!(buf, cur.size);
      else await cur.file.append(buf);
      cur.size += buf.byteLength;
      // Past the preallocated length the file grows again (a batch crossing the segment bound).
      if (cur.size > cur.allocated) cur.allocated = cur.size;
      this.stats.writes++;
      this.stats.bytesWritten += buf.byteLength;
      const t0 = performance.now();
      const entries = t.lastIndexAfter - t.lastIndexBefore;
      this.flushEntries += FLUSH_EWMA_WEIGHT * (entries - this.flushEntries);
      if (
        cur.file.datasyncInline !== undefined &&
        entries <= this.inlineSync.maxEntries &&
        buf.byteLength <= (this.inlineSync.maxBytes ?? Number.POSITIVE_INFINITY) &&
        this.fsyncMs <= this.inlineSync.maxMs &&
        (this.inlineMode === 'on' ||
          (this.inlineMode === 'lone' && entries <= 1 && this.flushEntries <= LONE_FLUSH_ENTRIES))
      ) {
        cur.file.datasyncInline();
        this.stats.inlineFsyncs++;
      } else {
        await cur.file.datasync();
      }
      this.fsyncMs += FSYNC_EWMA_WEIGHT * (performance.now() - t0 - this.fsyncMs);
      this.stats.fsyncs++;
      this.stats.flushes++;
      if (created) await this.syncDir();
      const seg = this.segments[this.segments.length - 1]!;
      await this.writeMarker({ seq: seg.seq, extent: cur.size, lastIndex: t.lastIndexAfter });
    });
    this.maybePrepare();
  }

  /**
   * Prepares the next segment once the open one is half full (or grows with every flush): early
   * enough that the roll finds it ready, late enough that a node whose log never reaches the roll
   * does not write a second segment's zeros for nothing.
   */
  private maybePrepare(): void {
    const cur = this.current;
    if (this.prepared !== null || this.preparation !== null) return;
    if (cur === null || cur.allocated < this.maxSegmentBytes || cur.size >= this.maxSegmentBytes / 2)
      this.startPreparation();
  }

  private async roll(firstIndex: number): Promise<void> {
    const prev = this.segments[this.segments.length - 1];
    const seg: Segment = {
      seq: prev ? prev.seq + 1 : 0,
      firstIndex,
      name: segmentName(prev ? prev.seq + 1 : 0, firstIndex),
    };
    const old = this.current;
    if (old !== null && old.allocated > old.size) {
      // Zeros left at the end of a segment that is closed (the bound shrank since it was
      // preallocated): cut, and durably so before the next segment's name is, because recovery
      // reads zeros only at the end of the LAST segment as the end of the log.
      await old.file.truncate(old.size);
      await old.file.datasync();
      this.stats.fsyncs++;
    }
    const prepared = this.prepared;
    this.prepared = null;
    let next: NonNullable<typeof this.current>;
    if (prepared !== null) {
      // Durable with the directory fsync after this flush's fdatasync, like a created file's name.
      // A crash before it may leave the records under PREALLOC_FILE, which load removes: they were
      // never acknowledged.
      try {
        await this.fs.rename(join(this.dir, PREALLOC_FILE), join(this.dir, seg.name));
      } catch (err) {
        // The storage fails stop on this error; the prepared file's descriptor must not outlive it.
        await prepared.file.close().catch(() => undefined);
        throw err;
      }
      next = { file: prepared.file, size: 0, allocated: prepared.size, positional: true };
      this.stats.segmentsPreallocated++;
    } else {
      const file = await this.fs.openAppend(join(this.dir, seg.name), 'create');
      next = { file, size: 0, allocated: 0, positional: false };
    }
    // The previous segment was fully synced by the flush that wrote to it.
    if (old) await old.file.close();
    this.current = next;
    this.segments.push(seg);
    this.stats.segmentsCreated++;
  }

  /**
   * Zero-fills the next segment under PREALLOC_FILE, outside the write lock: flushes go on
   * meanwhile, and a roll finding no prepared segment creates a growing one as before. Steps of
   * PREALLOC_STEP_BYTES, each written on the thread pool and fdatasynced, so the disk never holds a
   * large dirty range that a WAL fdatasync would queue behind. A failure (a full disk) only turns
   * preallocation off: the WAL itself is untouched.
   */
  private startPreparation(): void {
    if (!this.preallocate || this.preallocOff || this.preparation !== null || this.prepared !== null) return;
    if (this.closed || this.failed !== null) return;
    const path = join(this.dir, PREALLOC_FILE);
    const size = this.maxSegmentBytes;
    let f: StorageFile | null = null;
    const run = async (): Promise<void> => {
      if (this.fs.freeBytes !== undefined) {
        const free = await this.fs.freeBytes(this.dir);
        if (free < PREALLOC_MIN_FREE_SEGMENTS * size)
          throw new Error(`${free} bytes free: preallocation off`);
      }
      f = await this.fs.openTruncate(path);
      if (f.writeAt === undefined) throw new Error('no positional writes: preallocation off');
      for (let done = 0; done < size && !this.closed;) {
        const n = Math.min(PREALLOC_STEP_BYTES, size - done);
        if (f.appendZeros) await f.appendZeros(n);
        else await f.append(new Uint8Array(n));
        await f.datasync();
        done += n;
        this.stats.preallocBytes += n;
        this.stats.preallocFsyncs++;
      }
      if (this.closed) throw new Error('closed');
      this.prepared = { file: f, size };
    };
    this.preparation = run()
      .catch(async () => {
        this.preallocOff = true;
        const g = f as StorageFile | null;
        await g?.close().catch(() => undefined);
        await this.fs.unlink(path).catch(() => undefined);
      })
      .finally(() => {
        this.preparation = null;
      });
  }

  // --- snapshots -------------------------------------------------------------------------------

  /**
   * Writes and fsyncs `snapshot`'s file under a temporary name, outside the write lock, so WAL
   * flushes go on meanwhile; saveSnapshot(snapshot, prepared) then only renames it into place. For
   * a node's own snapshots of applied state (a megabyte takes milliseconds to write and sync,
   * during which every commit would otherwise wait). One preparation at a time.
   */
  async prepareSnapshot(snapshot: Snapshot): Promise<PreparedSnapshot> {
    this.assertUsable();
    if (this.preparing) throw new StorageError('busy', 'a snapshot is already being prepared');
    this.preparing = true;
    try {
      await this.io(() => this.writeSnapshotFile(join(this.dir, SNAPSHOT_PREPARED_TMP), snapshot));
    } finally {
      this.preparing = false;
    }
    return { index: snapshot.meta.index, file: SNAPSHOT_PREPARED_TMP };
  }

  /** Writes the snapshot file at `path` and fsyncs it (not yet under its final name). */
  private async writeSnapshotFile(path: string, snapshot: Snapshot): Promise<void> {
    const f = await this.fs.openTruncate(path);
    try {
      await f.append(encodeSnapshot(snapshot));
      await f.sync();
      this.stats.fsyncs++;
    } finally {
      await f.close();
    }
  }

  saveSnapshot(snapshot: Snapshot, prepared?: PreparedSnapshot): Promise<void> {
    try {
      this.assertUsable();
      if (prepared !== undefined && prepared.index !== snapshot.meta.index)
        throw new StorageError(
          'bad_snapshot',
          `prepared file holds ${prepared.index}, not ${snapshot.meta.index}`,
        );
    } catch (err) {
      return Promise.reject(err);
    }
    const { index, term } = snapshot.meta;
    if (index <= this.snapIndex) {
      // A newer snapshot (the leader's) got here first; the prepared file is of no use.
      if (prepared === undefined) return Promise.resolve();
      return this.io(() => this.fs.unlink(join(this.dir, prepared.file)));
    }
    // Raft §7: keep the log after the snapshot only if the log holds the snapshot's last entry with its term.
    const t = this.termAt(index);
    if (t !== undefined && t !== term) {
      this.chunks.push(encodeRecord({ kind: 'truncate', index }));
      this.lastIndex = index - 1;
    }
    const barrier: Barrier = {
      chunks: this.chunks.length,
      hardState: this.hardState,
      lastIndex: this.lastIndex,
    };
    this.barriers.push(barrier);
    // Later sync() calls must not join a flush scheduled before this snapshot: it stops at the barrier.
    this.queued = null;
    if (this.lastIndex <= index) {
      this.terms = [];
      this.lastIndex = index;
    } else {
      this.terms = this.terms.slice(index - this.snapIndex);
    }
    this.snapIndex = index;
    this.snapTerm = term;
    return this.exclusive(async () => {
      await this.writeBatch(this.take());
      await this.io(async () => {
        const tmp = join(this.dir, prepared?.file ?? SNAPSHOT_TMP);
        if (prepared === undefined) await this.writeSnapshotFile(tmp, snapshot);
        await this.fs.rename(tmp, join(this.dir, SNAPSHOT_FILE));
        await this.syncDir();
        this.stats.snapshotsSaved++;
        this.barriers.shift();
        this.lastIndexTaken = Math.max(this.lastIndexTaken, index);
        await this.compact(index);
      });
    });
  }

  /**
   * Removes the oldest segments whose every live entry the snapshot covers. Segment k's live
   * entries all lie below segment k+1's first index, so k goes once that index - 1 <= snapshot.
   * Only a prefix is removed: a later segment's truncate markers may depend on earlier ones.
   */
  private async compact(snapshotIndex: number): Promise<void> {
    while (this.segments.length > 1 && this.segments[1]!.firstIndex - 1 <= snapshotIndex) {
      const seg = this.segments[0]!;
      await this.fs.unlink(join(this.dir, seg.name));
      this.segments.shift();
      this.stats.segmentsRemoved++;
    }
    // No directory fsync: a removal that does not survive a crash leaves a covered segment that replay skips.
  }

  private termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index <= this.snapIndex || index > this.lastIndex) return undefined;
    return this.terms[index - this.snapIndex - 1];
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /** Syncs what is buffered, then releases the open segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.loaded && this.failed === null) await this.sync();
    } finally {
      // Release the descriptor even when the final sync failed; the error still reaches the caller.
      this.closed = true;
      await this.exclusive(async () => {
        const cur = this.current;
        this.current = null;
        if (cur) await cur.file.close();
        const m = this.markerFile;
        this.markerFile = null;
        if (m) await m.close();
        // A preparation running now stops at its next step (it sees `closed`) and removes its file.
        if (this.preparation) await this.preparation;
        const p = this.prepared;
        this.prepared = null;
        if (p) await p.file.close();
      });
    }
  }

  // --- helpers ---------------------------------------------------------------------------------

  private assertUsable(): void {
    if (this.failed !== null) {
      throw new StorageError(
        'failed',
        'storage failed an earlier write or fsync; restart to recover from disk',
        {
          cause: this.failed,
        },
      );
    }
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    if (!this.loaded) throw new StorageError('not_loaded', 'call load() before using the storage');
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    this.busy++;
    const run = this.lock.then(fn).finally(() => {
      this.busy--;
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * After a failed write or fsync the kernel may have dropped the dirty pages and cleared the
   * error (the 2018 "fsyncgate" lesson), so a retry could report success for lost data. Fail stop.
   */
  private async io(fn: () => Promise<void>): Promise<void> {
    if (this.failed !== null)
      throw new StorageError('failed', 'storage failed an earlier write or fsync', { cause: this.failed });
    try {
      await fn();
    } catch (err) {
      this.failed = err;
      throw new StorageError(
        'io',
        `storage I/O failed in ${this.dir}: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  private async syncDir(): Promise<void> {
    await this.fs.syncDir(this.dir);
    this.stats.fsyncs++;
  }

  private warn(w: StorageWarning): void {
    this.warnings.push(w);
    this.onWarning?.(w);
  }
}
