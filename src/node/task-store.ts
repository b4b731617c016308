/**
 * TaskStore (src/tasks/store.ts) over what the Raft component offers today:
 * reads of the locally applied state machine, an applied-entry hook, and
 * writes through the forwarder (to the leader from any node). An index of the
 * tasks/ keys is kept so that a read never sorts the whole store: it is
 * rebuilt when a snapshot replaces the state and updated from each applied
 * entry that mentions "tasks/" (a byte search; only those are decoded). A KV
 * watch on the prefix can replace the hook without changing the scheduler or
 * the supervisor.
 */
import { decodeCommand, type JsonValue, type KvStateMachine } from '../raft/kv.js';
import type { Entry } from '../raft/types.js';
import type { Ready } from '../raft/raft-node.js';
import { TASKS_PREFIX } from '../tasks/model.js';
import type { TaskStore, TaskStoreEntry } from '../tasks/store.js';
import type { WriteOp, WriteOutcome } from './raft-forward.js';
import { SwarmError } from '../common/errors.js';

export interface TaskStoreRaft {
  localKv(): KvStateMachine | null;
  onApplied(listener: (rd: Pick<Ready, 'snapshot' | 'committed'>) => void): () => void;
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

const NEEDLE = Buffer.from(TASKS_PREFIX);

export class RaftTaskStore implements TaskStore {
  private index: Set<string> | null = null;
  private indexedKv: KvStateMachine | null = null;
  private readonly listeners = new Set<() => void>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly raft: TaskStoreRaft) {}

  open(): void {
    this.unsubscribe = this.raft.onApplied((rd) => this.onApplied(rd));
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
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

  private onApplied(rd: Pick<Ready, 'snapshot' | 'committed'>): void {
    let touched = false;
    if (rd.snapshot) {
      this.index = null;
      touched = true;
    }
    for (const e of rd.committed) if (this.mentionsTasks(e)) touched = true;
    if (!touched) return;
    for (const l of this.listeners) l();
  }

  private mentionsTasks(e: Entry): boolean {
    if (e.data.byteLength === 0) return false;
    const b = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    if (b.indexOf(NEEDLE) < 0) return false;
    const cmd = decodeCommand(e.data);
    // Lease commands name no key; task keys are never bound to a lease, so none of them touches tasks/.
    if ('error' in cmd || !('key' in cmd) || !cmd.key.startsWith(TASKS_PREFIX)) return false;
    if (this.index !== null) {
      // Applied already: the state machine says whether the key exists now.
      if (this.raft.localKv()?.get(cmd.key)) this.index.add(cmd.key);
      else this.index.delete(cmd.key);
    }
    return true;
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
