/**
 * TaskStore (src/tasks/store.ts) over what the Raft component offers: reads
 * of the locally applied state machine, the node's watch hub (every mutation
 * the state machine applies, lease-driven deletes included, as KV events),
 * and writes through the forwarder (to the leader from any node). An index of
 * the tasks/ keys is kept so that a read never sorts the whole store: it is
 * rebuilt when the state is replaced (a snapshot, a merge) and updated from
 * the tasks/ events an internal cursor reads after each applied batch.
 */
import type { JsonValue, KvStateMachine } from '../raft/kv.js';
import type { WatchFilter } from '../kv/types.js';
import { TASKS_PREFIX } from '../tasks/model.js';
import type { TaskStore, TaskStoreEntry } from '../tasks/store.js';
import type { WriteOp, WriteOutcome } from './raft-forward.js';
import { CompactedError, type WatchCursor } from './watch-hub.js';
import { SwarmError } from '../common/errors.js';

export interface TaskStoreRaft {
  localKv(): KvStateMachine | null;
  /** The node's watch hub (raft-component.ts `watch`). */
  readonly watch: {
    cursor(filter: WatchFilter, from?: number, opts?: { internal?: boolean }): WatchCursor;
  };
  /** Called after each applied batch (entries or a restored snapshot); returns an unsubscribe. */
  afterApply(fn: () => void): () => void;
  readonly forward: {
    write(op: WriteOp, waitMs: number): Promise<WriteOutcome>;
    /** Resolves once this node applied everything committed before the call (ReadIndex). */
    linearize(waitMs: number): Promise<void>;
  };
  readonly requestTimeoutMs: number;
}

/** A compare-and-set lost: someone wrote the key first. */
export class TaskStoreConflict extends SwarmError {
  constructor(key: string, current: number) {
    super('conflict', `${key} changed (now at revision ${current})`, { fields: { key, current } });
  }
}

const FILTER: WatchFilter = { prefix: TASKS_PREFIX };

export class RaftTaskStore implements TaskStore {
  private index: Set<string> | null = null;
  private indexedKv: KvStateMachine | null = null;
  private readonly listeners = new Set<() => void>();
  private unsubscribe: (() => void) | null = null;
  private cursor: WatchCursor | null = null;

  constructor(private readonly raft: TaskStoreRaft) {}

  open(): void {
    // Internal: not counted against coordination.max_watchers.
    this.cursor = this.raft.watch.cursor(FILTER, undefined, { internal: true });
    this.unsubscribe = this.raft.afterApply(() => this.drain());
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.cursor?.close();
    this.cursor = null;
  }

  private keys(): Set<string> {
    const kv = this.raft.localKv();
    if (kv === null) return new Set();
    // A merge or a snapshot replaced the state machine: index it again.
    if (this.index === null || this.indexedKv !== kv) {
      this.index = new Set(kv.keys().filter((k) => k.startsWith(TASKS_PREFIX)));
      this.indexedKv = kv;
    }
    return this.index;
  }

  /** After an applied batch: the tasks/ events since the last one update the index and wake listeners. */
  private drain(): void {
    if (this.cursor === null) return;
    let touched = false;
    try {
      for (;;) {
        const evs = this.cursor.poll();
        if (evs.length === 0) break;
        touched = true;
        if (this.index === null) continue;
        for (const ev of evs) {
          if (ev.type === 'put') this.index.add(ev.key);
          else this.index.delete(ev.key);
        }
      }
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      // The state was replaced (snapshot, merge) or the history moved past us: index it again, read on
      // from now.
      this.index = null;
      this.cursor.close();
      this.cursor = this.raft.watch.cursor(FILTER, undefined, { internal: true });
      touched = true;
    }
    if (!touched) return;
    for (const l of this.listeners) l();
  }
  list(prefix: string): TaskStoreEntry[] {
    const kv = this.raft.localKv();
    if (kv === null) return [];
    const out: TaskStoreEntry[] = [];
    for (const k of this.keys()) {
      if (!k.startsWith(prefix)) continue;
      const r = kv.get(k);
      if (r) out.push({ key: k, value: r.value, revision: r.modRevision });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get(key: string): TaskStoreEntry | null {
    const r = this.raft.localKv()?.get(key);
    return r ? { key, value: r.value, revision: r.modRevision } : null;
  }

  async put(key: string, value: JsonValue, prevRevision?: number): Promise<void> {
    const op: WriteOp =
      prevRevision === undefined ? { op: 'put', key, value } : { op: 'put', key, value, prevRevision };
    const r = await this.raft.forward.write(op, this.raft.requestTimeoutMs);
    if (r.kind === 'mismatch') throw new TaskStoreConflict(key, r.current);
  }

  async delete(key: string): Promise<void> {
    await this.raft.forward.write({ op: 'delete', key }, this.raft.requestTimeoutMs);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
