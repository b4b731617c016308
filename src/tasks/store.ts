/**
 * The narrow view of the replicated KV the scheduler and supervisors need.
 * Today the node implements it over the applied state machine (local reads),
 * an applied-entry hook and writes through the KV service (forwarded to the
 * leader); a KV watch API can replace the hook without touching src/tasks.
 */
import type { JsonValue } from '../raft/kv.js';

export interface TaskStoreEntry {
  readonly key: string;
  readonly value: JsonValue;
  readonly revision: number;
}

export interface TaskStore {
  /** Local (applied, possibly stale) entries under `prefix`, sorted by key. */
  list(prefix: string): TaskStoreEntry[];
  get(key: string): TaskStoreEntry | null;
  /** Committed write (forwarded to the leader when needed); `prevRevision` makes it a CAS (0 = absent). */
  put(key: string, value: JsonValue, prevRevision?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Called after entries under tasks/ were applied locally (or the state was replaced); returns unsubscribe. */
  subscribe(listener: () => void): () => void;
}
