/**
 * The member table, copy-on-write over an optional shared starting view.
 *
 * Full membership is inherently N entries per node; a 10,000-node simulation
 * that copied it would hold 10^8 entries. So a node may start from a shared,
 * read-only `SharedView` (a simulation snapshot, or a persisted member list)
 * and only materialize its own state for members it touches. Ids live in
 * one index space (view ids, then own additions) so random sampling and the
 * probe permutation need no per-node copy of the id list.
 */
import { codeUnitCompare } from '../common/code-unit-compare.js';
import type { MemberId, MemberRecord } from './messages.js';

export interface SharedView {
  readonly ids: readonly MemberId[];
  readonly records: ReadonlyMap<MemberId, MemberRecord>;
}

export interface MemberState {
  rec: MemberRecord;
  /** When the member last changed between live and not live (or was added). */
  changedAt: number;
  /** Last time a probe of it was acked. */
  lastAckAt: number;
  /** Last time it pinged us (and we answered): it was alive and reached us then. */
  pingedUsAt: number;
}

const EMPTY: SharedView = { ids: [], records: new Map() };

/** Sorted ids of a shared view, computed once per view for all the nodes that share it. */
const sortedViews = new WeakMap<SharedView, readonly MemberId[]>();

function sortedIds(view: SharedView): readonly MemberId[] {
  let s = sortedViews.get(view);
  if (s === undefined) {
    s = [...view.ids].sort(compareIds);
    sortedViews.set(view, s);
  }
  return s;
}

/** Member ids in code-unit order (the order every node computes alike, with no locale). */
export const compareIds: (a: MemberId, b: MemberId) => number = codeUnitCompare;

/** First index in sorted `ids` whose id is > `after` ('' = from the start). */
function firstAfter(ids: readonly MemberId[], after: MemberId): number {
  if (after === '') return 0;
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemberTable {
  private readonly base: SharedView;
  private readonly own = new Map<MemberId, MemberState>();
  /** Base ids no longer in the table. */
  private readonly removed = new Set<MemberId>();
  private readonly extra: MemberId[] = [];
  private readonly extraIndex = new Map<MemberId, number>();
  private sortedExtra: MemberId[] | null = null;

  constructor(view: SharedView | undefined, selfId: MemberId) {
    this.base = view ?? EMPTY;
    if (this.base.records.has(selfId)) this.removed.add(selfId);
  }

  /** Records of the shared view (self excluded), for the caller's initial counts. */
  *baseRecords(): Iterable<MemberRecord> {
    for (const id of this.base.ids) {
      if (this.removed.has(id)) continue;
      const r = this.base.records.get(id);
      if (r !== undefined) yield r;
    }
  }

  has(id: MemberId): boolean {
    if (this.own.has(id)) return true;
    return this.base.records.has(id) && !this.removed.has(id);
  }

  /** The member's mutable state, materialized from the shared view on first touch. */
  get(id: MemberId): MemberState | undefined {
    const s = this.own.get(id);
    if (s !== undefined) return s;
    if (this.removed.has(id)) return undefined;
    const r = this.base.records.get(id);
    if (r === undefined) return undefined;
    const st: MemberState = { rec: r, changedAt: 0, lastAckAt: -Infinity, pingedUsAt: -Infinity };
    this.own.set(id, st);
    return st;
  }

  /** Read without materializing. */
  peek(id: MemberId): MemberRecord | undefined {
    const s = this.own.get(id);
    if (s !== undefined) return s.rec;
    if (this.removed.has(id)) return undefined;
    return this.base.records.get(id);
  }

  add(rec: MemberRecord, now: number): MemberState {
    const st: MemberState = { rec, changedAt: now, lastAckAt: -Infinity, pingedUsAt: -Infinity };
    this.own.set(rec.id, st);
    if (this.base.records.has(rec.id)) this.removed.delete(rec.id);
    else if (!this.extraIndex.has(rec.id)) {
      this.extraIndex.set(rec.id, this.extra.length);
      this.extra.push(rec.id);
      this.sortedExtra = null;
    }
    return st;
  }

  remove(id: MemberId): void {
    this.own.delete(id);
    if (this.base.records.has(id)) {
      this.removed.add(id);
      return;
    }
    const i = this.extraIndex.get(id);
    if (i === undefined) return;
    this.sortedExtra = null;
    const last = this.extra.pop()!;
    if (last !== id) {
      this.extra[i] = last;
      this.extraIndex.set(last, i);
    }
    this.extraIndex.delete(id);
  }

  /** Size of the id index space (some slots may be removed members). */
  get slots(): number {
    return this.base.ids.length + this.extra.length;
  }

  /** Member id at an index-space slot, undefined if that member was removed. */
  idAt(i: number): MemberId | undefined {
    const n = this.base.ids.length;
    const id = i < n ? this.base.ids[i] : this.extra[i - n];
    if (id === undefined || (i < n && this.removed.has(id))) return undefined;
    return id;
  }

  /** Every member record (self excluded), view order then additions. */
  *records(): Iterable<MemberRecord> {
    for (let i = 0; i < this.slots; i++) {
      const id = this.idAt(i);
      if (id === undefined) continue;
      const r = this.peek(id);
      if (r !== undefined) yield r;
    }
  }

  /**
   * Records with ids in (after, upTo] ('' = unbounded), via binary search in
   * the shared sorted view plus the node's own additions: answering one digest
   * part costs the size of its range, not of the whole table.
   */
  *recordsInRange(after: MemberId, upTo: MemberId): Iterable<MemberRecord> {
    const extra = (this.sortedExtra ??= [...this.extra].sort(compareIds));
    for (const ids of [sortedIds(this.base), extra]) {
      for (let i = firstAfter(ids, after); i < ids.length; i++) {
        const id = ids[i]!;
        if (upTo !== '' && id > upTo) break;
        const r = this.peek(id);
        if (r !== undefined) yield r;
      }
    }
  }

  /** Members with local state (the only ones that can have been acked). */
  materialized(): Iterable<MemberState> {
    return this.own.values();
  }
}
