/**
 * The state machine the simulator replicates, behind a small interface so the
 * driver does not depend on the encoding of commands. Backed by the project's
 * KV state machine (src/raft/kv.ts).
 */
import type { Entry } from '../../raft/types.js';
import type { ClientOp } from './workload.js';

export type OpResult =
  | { readonly kind: 'read'; readonly value: number | null }
  | { readonly kind: 'write' }
  | { readonly kind: 'cas'; readonly ok: boolean };

export interface SimStateMachine {
  /** Applies every committed entry, in order (no-ops and conf changes included); returns the client-visible result. */
  apply(entry: Entry): OpResult | null;
  read(key: string): number | null;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

export interface SimCodec {
  encode(op: Exclude<ClientOp, { kind: 'read' }>): Uint8Array;
  create(): SimStateMachine;
}
