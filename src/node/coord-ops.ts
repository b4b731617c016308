/**
 * Coordination commands as a node hands them to the leader (locally or in a
 * `coord` forward frame, docs/protocol.md 4.1) and their outcomes. The leader
 * turns them into KV commands, stamping lease times with its own clock: a
 * follower's clock never reaches the log.
 */
import type { JsonValue, KvCommand, KvResult } from '../raft/kv.js';
import { MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from '../raft/kv.js';

export type CoordOp =
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: JsonValue;
      /** 0 / absent: no lease. */
      readonly lease?: number;
      /** Compare-and-set on the key's mod revision (0 = must not exist). */
      readonly prev_revision?: number;
    }
  | { readonly op: 'lease_grant'; readonly ttl_ms: number }
  | { readonly op: 'lease_keepalive'; readonly id: number }
  | { readonly op: 'lease_revoke'; readonly id: number };

export type CoordOutcome =
  | {
      readonly code: 'ok';
      /** put: the key's mod revision; lease ops: the store revision after the command. */
      readonly revision: number;
      /** put: the key's create revision. */
      readonly create_revision?: number;
      readonly lease?: { readonly id: number; readonly ttl_ms: number };
      /** revoke: keys deleted. */
      readonly deleted?: number;
    }
  | { readonly code: 'mismatch'; readonly current: number }
  | { readonly code: 'lease_not_found' };

const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parse a coord command from a peer's frame; a string explains why it is not one. */
export function parseCoordOp(text: string): CoordOp | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'coord command is not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'coord command is not an object';
  const o = v as Record<string, unknown>;
  switch (o.op) {
    case 'put':
      if (typeof o.key !== 'string' || o.key === '') return 'put needs a key';
      if (o.lease !== undefined && !uint(o.lease)) return 'lease must be a non-negative integer';
      if (o.prev_revision !== undefined && !uint(o.prev_revision))
        return 'prev_revision must be a non-negative integer';
      return {
        op: 'put',
        key: o.key,
        value: (o.value ?? null) as JsonValue,
        ...(o.lease === undefined ? {} : { lease: o.lease }),
        ...(o.prev_revision === undefined ? {} : { prev_revision: o.prev_revision }),
      };
    case 'lease_grant':
      if (!uint(o.ttl_ms) || o.ttl_ms < MIN_LEASE_TTL_MS || o.ttl_ms > MAX_LEASE_TTL_MS)
        return `ttl_ms must be an integer in ${MIN_LEASE_TTL_MS}..${MAX_LEASE_TTL_MS}`;
      return { op: 'lease_grant', ttl_ms: o.ttl_ms };
    case 'lease_keepalive':
    case 'lease_revoke':
      if (!uint(o.id)) return 'id must be a non-negative integer';
      return { op: o.op, id: o.id };
    default:
      return `unknown coord op ${String(o.op)}`;
  }
}

/** The KV command the leader proposes for `op`, stamped with its clock `now`. */
export function commandOf(op: CoordOp, now: number): KvCommand {
  switch (op.op) {
    case 'put': {
      const lease = op.lease !== undefined && op.lease > 0 ? { lease: op.lease } : {};
      return op.prev_revision === undefined
        ? { op: 'put', key: op.key, value: op.value, ...lease }
        : { op: 'cas_rev', key: op.key, expectedRevision: op.prev_revision, value: op.value, ...lease };
    }
    case 'lease_grant':
      return { op: 'lease_grant', ttlMs: op.ttl_ms, now };
    case 'lease_keepalive':
      return { op: 'lease_keepalive', id: op.id, now };
    case 'lease_revoke':
      return { op: 'lease_revoke', id: op.id };
  }
}

export function outcomeOf(r: KvResult): CoordOutcome {
  if (!r.ok) {
    if (r.error === 'lease_not_found') return { code: 'lease_not_found' };
    if (r.error === 'mismatch' || r.error === 'not_found')
      return { code: 'mismatch', current: r.current?.modRevision ?? 0 };
    throw new Error(`coord command failed: ${r.error}${r.message ? ` (${r.message})` : ''}`);
  }
  if ('record' in r) {
    const rec = r.record;
    return rec === null
      ? { code: 'ok', revision: r.revision }
      : { code: 'ok', revision: rec.modRevision, create_revision: rec.createRevision };
  }
  if ('lease' in r) {
    return {
      code: 'ok',
      revision: r.revision,
      ...(r.lease === null ? {} : { lease: { id: r.lease.id, ttl_ms: r.lease.ttlMs } }),
      deleted: r.deleted.length,
    };
  }
  return { code: 'ok', revision: r.revision };
}
