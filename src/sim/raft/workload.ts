/**
 * Client workload for the Raft simulator: a few clients issue reads, writes
 * and compare-and-sets over a handful of keys, so operations collide and the
 * linearizability check has something to decide. Values are small integers
 * so that cas preconditions hit and miss.
 */
import type { Rng } from '../../common/rng.js';

export type ClientOp =
  | { readonly kind: 'read'; readonly key: string }
  | { readonly kind: 'write'; readonly key: string; readonly value: number }
  | { readonly kind: 'cas'; readonly key: string; readonly from: number; readonly to: number };

export interface WorkloadMix {
  readonly keys: number;
  readonly values: number;
  /** Probabilities of read and write; the rest is cas. */
  readonly read: number;
  readonly write: number;
}

export const DEFAULT_MIX: WorkloadMix = { keys: 3, values: 5, read: 0.35, write: 0.4 };

export function nextOp(rng: Rng, mix: WorkloadMix = DEFAULT_MIX): ClientOp {
  const key = `k${rng.int(0, mix.keys - 1)}`;
  const r = rng.next();
  if (r < mix.read) return { kind: 'read', key };
  if (r < mix.read + mix.write) return { kind: 'write', key, value: rng.int(0, mix.values - 1) };
  return { kind: 'cas', key, from: rng.int(0, mix.values - 1), to: rng.int(0, mix.values - 1) };
}

export function describeOp(op: ClientOp): string {
  switch (op.kind) {
    case 'read':
      return `read ${op.key}`;
    case 'write':
      return `write ${op.key}=${op.value}`;
    case 'cas':
      return `cas ${op.key} ${op.from}->${op.to}`;
  }
}
