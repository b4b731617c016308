/**
 * Rebuilds the log from scanned segments (pure). Records are applied in file
 * order: an entry extends the log, a truncate marker cuts it, a hard-state
 * record replaces the hard state. Index continuity is checked on the raw
 * record stream so that a missing or reordered segment is caught, not papered over.
 */
import type { Entry, HardState } from '../types.js';
import { WalCorruptionError } from './errors.js';
import type { SegmentScan } from './scan.js';

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

export interface ScannedSegment {
  readonly name: string;
  readonly scan: SegmentScan;
}

export interface Replayed {
  /** The last hard-state record, as written (no clamping). */
  readonly hardState: HardState;
  /** Entries above `snapshotIndex`, contiguous from snapshotIndex + 1. */
  readonly entries: Entry[];
}

export function replay(segments: readonly ScannedSegment[], snapshotIndex: number): Replayed {
  let hardState = EMPTY_HARD_STATE;
  const entries: Entry[] = [];
  /** Index the next entry record must carry; undefined until the first index-bearing record. */
  let rawNext: number | undefined;
  const floor = snapshotIndex + 1;
  for (const seg of segments) {
    const { records, offsets } = seg.scan;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      const at = offsets[i]!;
      switch (rec.kind) {
        case 'hardState':
          hardState = rec.hardState;
          break;
        case 'entry': {
          const idx = rec.entry.index;
          // The log may jump forward where an installed snapshot covered the skipped indexes. Earlier
          // snapshots are gone, so any forward jump that lands at or below the current one is accepted:
          // whatever it skipped, the current snapshot covers.
          const ok =
            rawNext === undefined ? idx <= floor : idx === rawNext || (idx > rawNext && idx <= floor);
          if (!ok) {
            const want = rawNext === undefined ? `at most ${floor}` : String(rawNext);
            throw new WalCorruptionError(
              seg.name,
              at,
              `entry index ${idx} where ${want} was expected (gap or reorder)`,
            );
          }
          rawNext = idx + 1;
          if (idx >= floor) {
            // Unreachable while the continuity check above holds; kept so a logic slip cannot leave holes.
            if (entries.length !== idx - floor) {
              throw new WalCorruptionError(
                seg.name,
                at,
                `entry index ${idx} does not extend the log end ${floor + entries.length - 1}`,
              );
            }
            entries.push(rec.entry);
          }
          break;
        }
        case 'truncate': {
          const limit = Math.max(rawNext ?? 0, floor);
          if (rec.index > limit) {
            throw new WalCorruptionError(
              seg.name,
              at,
              `truncate at ${rec.index} beyond the log end ${limit - 1}`,
            );
          }
          rawNext = rec.index;
          entries.length = Math.max(0, Math.min(entries.length, rec.index - floor));
          break;
        }
      }
    }
  }
  return { hardState, entries };
}
