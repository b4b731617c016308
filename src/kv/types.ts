/**
 * Shapes shared by the replicated coordination state (src/raft/kv.ts applies
 * them), the per-node watch history and the node's coordination service.
 */
import type { JsonValue } from '../raft/kv.js';

/**
 * One mutation of the store as a watcher sees it. Every mutation takes the
 * next store revision, so the events of a node are numbered 1, 2, 3, ... with
 * no gap: a watcher of every key that saw revision R and then R+2 has missed one.
 */
export interface KvEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The new value (null for a delete). */
  readonly value: JsonValue;
  readonly revision: number;
  /** Revision that created the key (for a delete: the created revision of the key removed). */
  readonly createRevision: number;
  /** The lease the key is bound to after a put (0 = none). */
  readonly lease: number;
}

/** A lease as replicated: the time fields are the proposing leader's clock, in ms. */
export interface LeaseRecord {
  readonly id: number;
  readonly ttlMs: number;
  /** When the leader that proposed the last grant or keep-alive stamped it (its Date.now()). */
  readonly refreshedAt: number;
  /** Keys bound to the lease, sorted on read. */
  readonly keys: ReadonlySet<string>;
}

/** Which keys a watcher follows: one key, or every key starting with a prefix ('' = all). */
export type WatchFilter = { readonly key: string } | { readonly prefix: string };

export function matches(filter: WatchFilter, key: string): boolean {
  return 'key' in filter ? key === filter.key : key.startsWith(filter.prefix);
}
