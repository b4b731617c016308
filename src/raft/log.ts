/**
 * The in-memory Raft log: everything after the last snapshot, split at
 * `stableIndex` into entries the runtime has made durable and entries it has
 * not (etcd's log.go + log_unstable.go in one class).
 *
 * The whole tail since the snapshot stays in memory because the runtime's
 * storage interface is write-only once started; compaction is what bounds it.
 */
import { RaftError } from './errors.js';
import type { TermLookup } from './rules.js';
import type { Entry } from './types.js';

export class RaftLog implements TermLookup {
  /** Index and term of the last entry covered by the snapshot (0, 0 without one). */
  private snapIndex: number;
  private snapTerm: number;
  /** entries[i].index === snapIndex + 1 + i */
  private entries: Entry[];
  /** Last index known durable; entries above it must be handed to the runtime. */
  private stable: number;

  constructor(snapIndex: number, snapTerm: number, entries: readonly Entry[]) {
    this.snapIndex = snapIndex;
    this.snapTerm = snapTerm;
    this.entries = [];
    let expect = snapIndex + 1;
    for (const e of entries) {
      // Recovered logs may still hold entries the snapshot already covers.
      if (e.index <= snapIndex) continue;
      if (e.index !== expect) {
        throw new RaftError('log_gap', `recovered log is not contiguous at index ${expect}`, {
          found: e.index,
        });
      }
      this.entries.push(e);
      expect++;
    }
    this.stable = this.lastIndex();
  }

  snapshotIndex(): number {
    return this.snapIndex;
  }

  snapshotTerm(): number {
    return this.snapTerm;
  }

  /** First index still held as an entry. */
  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last ? last.term : this.snapTerm;
  }

  stableIndex(): number {
    return this.stable;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapIndex - 1]?.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapIndex) return undefined;
    return this.entries[index - this.snapIndex - 1];
  }

  /**
   * Entries in [lo, hi] (inclusive), at most `max` of them and, past the first,
   * at most `maxBytes` of payload in all (etcd's MaxSizePerMsg: one entry always
   * goes, so a single large entry still makes progress); lo must be >= firstIndex().
   */
  slice(lo: number, hi: number, max = Infinity, maxBytes = Infinity): Entry[] {
    if (lo < this.firstIndex())
      throw new RaftError('compacted', `entry ${lo} was compacted`, { first: this.firstIndex() });
    let end = Math.min(hi, this.lastIndex(), lo + max - 1);
    if (end < lo) return [];
    const from = lo - this.snapIndex - 1;
    if (maxBytes !== Infinity) {
      let bytes = 0;
      for (let i = from; i <= end - this.snapIndex - 1; i++) {
        bytes += entryBytes(this.entries[i]!);
        if (bytes > maxBytes && i > from) {
          end = this.snapIndex + i;
          break;
        }
      }
    }
    return this.entries.slice(from, end - this.snapIndex);
  }

  /** Entries not yet durable: what the next Ready must ask the runtime to write. */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.stable - this.snapIndex);
  }

  /**
   * Append `ents` (contiguous), overwriting any suffix from `ents[0].index`.
   * The caller has checked that nothing committed is overwritten.
   */
  append(ents: readonly Entry[]): void {
    const first = ents[0];
    if (!first) return;
    if (first.index <= this.snapIndex || first.index > this.lastIndex() + 1) {
      throw new RaftError('bad_append', `cannot append at ${first.index}`, {
        snapshotIndex: this.snapIndex,
        lastIndex: this.lastIndex(),
      });
    }
    this.entries.length = first.index - this.snapIndex - 1;
    for (const e of ents) this.entries.push(e);
    // A truncated suffix is no longer durable in the form we now hold.
    if (this.stable >= first.index) this.stable = first.index - 1;
  }

  /**
   * Mark entries durable up to `index`, but only if the entry there still has
   * `term`: the log may have been truncated between Ready and advance.
   */
  stableTo(index: number, term: number): void {
    if (index > this.stable && this.termAt(index) === term) this.stable = index;
  }

  /** Drop entries up to `index` (held by a local snapshot); `index` must be in the log. */
  compact(index: number): void {
    if (index <= this.snapIndex) return;
    const term = this.termAt(index);
    if (term === undefined)
      throw new RaftError('compact_beyond_log', `cannot compact to ${index}`, { last: this.lastIndex() });
    this.entries = this.entries.slice(index - this.snapIndex);
    this.snapIndex = index;
    this.snapTerm = term;
    if (this.stable < index) this.stable = index;
  }

  /** Replace the whole log with a received snapshot's position; it becomes the durable base. */
  restore(index: number, term: number): void {
    this.snapIndex = index;
    this.snapTerm = term;
    this.entries = [];
    this.stable = index;
  }

  /** First index of the term that `index` belongs to, scanning back no further than the log holds. */
  firstIndexOfTerm(index: number): number {
    const term = this.termAt(index);
    if (term === undefined) return index;
    let i = index;
    while (i - 1 > this.snapIndex && this.termAt(i - 1) === term) i--;
    return i;
  }

  /** Last index whose term is `term`, or 0 if the log holds none. */
  lastIndexOfTerm(term: number): number {
    for (let i = this.lastIndex(); i > this.snapIndex; i--) {
      const t = this.termAt(i);
      if (t === undefined || t < term) return 0;
      if (t === term) return i;
    }
    return 0;
  }
}

/** Per-entry framing on the wire (index, term, type, length prefixes), counted with its data. */
export const ENTRY_OVERHEAD_BYTES = 32;

/** What an entry weighs in an AppendEntries, for byte limits. */
export function entryBytes(e: Entry): number {
  return e.data.byteLength + ENTRY_OVERHEAD_BYTES;
}
