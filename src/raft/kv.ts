/**
 * The replicated key-value state machine that sits on top of the Raft log.
 *
 * Deterministic by construction: the result of `apply` depends only on the
 * state and the entry, never on time or randomness, so every replica that
 * applies the same log reaches the same state and returns the same results.
 * A malformed command is answered with an error result, never thrown: it is
 * committed, so every replica must treat it identically.
 *
 * Revisions follow etcd: a global `revision` counts every mutation; each key
 * keeps the revision that created it, the one that last modified it, and a
 * per-key `version` (writes since creation).
 */
import { decode, encode, Encoder } from '@msgpack/msgpack';
import { RaftError } from './errors.js';
import { readMsgpackValue, readSnapshotImage } from './kv-snapshot-reader.js';
import { EntryType, type Entry } from './types.js';
import type { KvEvent, LeaseRecord } from '../kv/types.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** `requestId` is echoed in the result so a runtime can match answers to clients. */
export type KvCommand =
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: JsonValue;
      /** Bind the key to this lease (0 or absent: no lease; a put without one unbinds the key). */
      readonly lease?: number;
      readonly requestId?: string;
    }
  | { readonly op: 'get'; readonly key: string; readonly requestId?: string }
  | { readonly op: 'delete'; readonly key: string; readonly requestId?: string }
  /** Compare-and-set by value: succeeds when the current value deep-equals `expected`. */
  | {
      readonly op: 'cas';
      readonly key: string;
      readonly expected: JsonValue;
      readonly value: JsonValue;
      /** Treat a missing key as matching (create it) instead of failing with not_found. */
      readonly createIfMissing?: boolean;
      readonly requestId?: string;
    }
  /** Compare-and-set by revision: succeeds when the key's modRevision equals `expectedRevision` (0 = must not exist). */
  | {
      readonly op: 'cas_rev';
      readonly key: string;
      readonly expectedRevision: number;
      readonly value: JsonValue;
      readonly lease?: number;
      readonly requestId?: string;
    }
  | LeaseCommand;

/**
 * Lease commands (etcd's lessor, through the log). Time is never read while
 * applying: `now` is the proposing leader's clock, stamped when it proposed,
 * so every replica records the same `refreshedAt`. A lease's id is the index
 * of the entry that granted it: unique, and the same on every replica.
 */
export type LeaseCommand =
  | { readonly op: 'lease_grant'; readonly ttlMs: number; readonly now: number; readonly requestId?: string }
  | { readonly op: 'lease_keepalive'; readonly id: number; readonly now: number; readonly requestId?: string }
  | { readonly op: 'lease_revoke'; readonly id: number; readonly requestId?: string }
  /**
   * The leader found the lease expired as of its keep-alive at `refreshedAt`:
   * applies only if no keep-alive was applied since (the leader's decision
   * raced with one), so a live lease is never expired by a stale decision.
   */
  | {
      readonly op: 'lease_expire';
      readonly id: number;
      readonly refreshedAt: number;
      readonly requestId?: string;
    };

export type LeaseOp = LeaseCommand['op'];
const LEASE_OPS: ReadonlySet<string> = new Set<LeaseOp>([
  'lease_grant',
  'lease_keepalive',
  'lease_revoke',
  'lease_expire',
]);

export function isLeaseCommand(cmd: KvCommand): cmd is LeaseCommand {
  return LEASE_OPS.has(cmd.op);
}

/** Longest lease: a day. Shortest: 1 s (shorter would expire between two keep-alives of a busy node). */
export const MAX_LEASE_TTL_MS = 86_400_000;
export const MIN_LEASE_TTL_MS = 1000;

export type KvOp = KvCommand['op'];

export interface KvRecord {
  readonly value: JsonValue;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

export type KvErrorCode = 'not_found' | 'mismatch' | 'bad_command' | 'lease_not_found';

/** A lease as a result reports it. */
export interface LeaseView {
  readonly id: number;
  readonly ttlMs: number;
  readonly refreshedAt: number;
  readonly keys: readonly string[];
}

/** `revision` is the store's global revision after the command. */
export type KvResult =
  | { readonly ok: true; readonly op: 'noop'; readonly index: number; readonly revision: number }
  | {
      readonly ok: true;
      readonly op: 'put' | 'delete' | 'cas' | 'cas_rev' | 'get';
      readonly index: number;
      readonly revision: number;
      /** The record after the command (null after a delete or a get of a missing key). */
      readonly record: KvRecord | null;
      /** The record before the command. */
      readonly prev: KvRecord | null;
      readonly requestId?: string;
    }
  | {
      readonly ok: true;
      readonly op: LeaseOp;
      readonly index: number;
      readonly revision: number;
      /** The lease after the command (null once revoked or expired). */
      readonly lease: LeaseView | null;
      /** Keys deleted because the lease ended, in the order their deletes took revisions. */
      readonly deleted: readonly string[];
      readonly requestId?: string;
    }
  | {
      readonly ok: false;
      readonly op: KvOp | 'unknown';
      readonly index: number;
      readonly revision: number;
      readonly error: KvErrorCode;
      readonly current: KvRecord | null;
      readonly requestId?: string;
      readonly message?: string;
    };

/**
 * One encoder for every command and snapshot value: msgpack's `encode()` builds a new Encoder, with a
 * fresh 2 KiB buffer, per call, which showed in the leader's profile at 64 clients (0.6% of its
 * time in the constructor alone). `Encoder.encode` returns a copy, and a re-entrant call clones.
 */
const sharedEncoder = new Encoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return sharedEncoder.encode(cmd);
}

/** Decode a command, or explain why the bytes are not one. */
export function decodeCommand(data: Uint8Array): KvCommand | { readonly error: string } {
  let v: unknown = readMsgpackValue(data);
  if (v === undefined) {
    try {
      v = decode(data);
    } catch (e) {
      return { error: `not msgpack: ${(e as Error).message}` };
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'command is not a map' };
  const o = v as Record<string, unknown>;
  if (o.requestId !== undefined && typeof o.requestId !== 'string')
    return { error: 'requestId must be a string' };
  if (typeof o.op === 'string' && LEASE_OPS.has(o.op)) return decodeLeaseCommand(o);
  if (typeof o.key !== 'string') return { error: 'key must be a string' };
  if (o.lease !== undefined && !isUint(o.lease)) return { error: 'lease must be a non-negative integer' };
  const lease = isUint(o.lease) && o.lease > 0 ? { lease: o.lease } : {};
  const base = { key: o.key, ...(typeof o.requestId === 'string' ? { requestId: o.requestId } : {}) };
  switch (o.op) {
    case 'get':
      return { op: 'get', ...base };
    case 'delete':
      return { op: 'delete', ...base };
    case 'put':
      if (!isJson(o.value)) return { error: 'value must be JSON' };
      return { op: 'put', ...base, value: o.value, ...lease };
    case 'cas':
      if (!isJson(o.value) || !isJson(o.expected)) return { error: 'value and expected must be JSON' };
      return {
        op: 'cas',
        ...base,
        expected: o.expected,
        value: o.value,
        createIfMissing: o.createIfMissing === true,
      };
    case 'cas_rev':
      if (!isJson(o.value)) return { error: 'value must be JSON' };
      if (
        typeof o.expectedRevision !== 'number' ||
        !Number.isInteger(o.expectedRevision) ||
        o.expectedRevision < 0
      ) {
        return { error: 'expectedRevision must be a non-negative integer' };
      }
      return { op: 'cas_rev', ...base, expectedRevision: o.expectedRevision, value: o.value, ...lease };
    default:
      return { error: `unknown op ${String(o.op)}` };
  }
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function decodeLeaseCommand(o: Record<string, unknown>): LeaseCommand | { readonly error: string } {
  const rid = typeof o.requestId === 'string' ? { requestId: o.requestId } : {};
  switch (o.op) {
    case 'lease_grant':
      if (!isUint(o.ttlMs) || o.ttlMs < MIN_LEASE_TTL_MS || o.ttlMs > MAX_LEASE_TTL_MS)
        return { error: `ttlMs must be an integer in ${MIN_LEASE_TTL_MS}..${MAX_LEASE_TTL_MS}` };
      if (!isUint(o.now)) return { error: 'now must be a non-negative integer' };
      return { op: 'lease_grant', ttlMs: o.ttlMs, now: o.now, ...rid };
    case 'lease_keepalive':
      if (!isUint(o.id) || !isUint(o.now)) return { error: 'id and now must be non-negative integers' };
      return { op: 'lease_keepalive', id: o.id, now: o.now, ...rid };
    case 'lease_revoke':
      if (!isUint(o.id)) return { error: 'id must be a non-negative integer' };
      return { op: 'lease_revoke', id: o.id, ...rid };
    default:
      if (!isUint(o.id) || !isUint(o.refreshedAt))
        return { error: 'id and refreshedAt must be non-negative integers' };
      return { op: 'lease_expire', id: o.id, refreshedAt: o.refreshedAt, ...rid };
  }
}

function isJson(v: unknown): v is JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJson);
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as unknown;
    return (proto === Object.prototype || proto === null) && Object.values(v as object).every(isJson);
  }
  return false;
}

/** Structural equality of JSON values; object key order does not matter. */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i] as JsonValue));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k] as JsonValue, b[k] as JsonValue));
}

/** A point-in-time view of the state (see KvStateMachine.capture). */
export interface KvSnapshotView {
  readonly appliedIndex: number;
  readonly revision: number;
  /** Sorted. */
  readonly keys: readonly string[];
  /** records[i] is the record of keys[i] (two arrays: no object per row stays alive while encoding). */
  readonly records: readonly KvRecord[];
  /** Live leases, by id; none (or empty) writes the version 1 image, byte for byte as before leases. */
  readonly leases?: readonly LeaseRow[];
}

/** A lease in a snapshot image: [id, ttlMs, refreshedAt, keys (sorted)]. */
export type LeaseRow = [number, number, number, string[]];

/** A msgpack array header for `n` elements, as @msgpack/msgpack writes it (fixarray, array16, array32). */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >> 8, n & 0xff);
  const b = new Uint8Array(5);
  b[0] = 0xdd;
  new DataView(b.buffer).setUint32(1, n);
  return b;
}

/**
 * The snapshot image of `view` in parts of at most `rowsPerPart` rows, whose
 * concatenation is byte for byte the msgpack encoding of the SnapshotImage: a
 * runtime encodes a part per event-loop turn instead of stalling for the whole
 * state (16,000 keys took 20-40 ms in one piece).
 */
export function* encodeSnapshotParts(view: KvSnapshotView, rowsPerPart = 1000): Generator<Uint8Array> {
  const leases = view.leases ?? [];
  // Version 2 only when there is something version 1 cannot say: images without leases stay what
  // older nodes (and the fast reader, kv-snapshot-reader.ts) read. `kvs` stays last (see below).
  const empty: SnapshotImage =
    leases.length === 0
      ? { v: 1, appliedIndex: view.appliedIndex, revision: view.revision, kvs: [] }
      : { v: 2, appliedIndex: view.appliedIndex, revision: view.revision, leases: [...leases], kvs: [] };
  const head = encode(empty);
  // The empty image ends with the empty kvs array (0x90); the real header takes its place.
  const n = view.keys.length;
  yield Buffer.concat([head.subarray(0, head.byteLength - 1), arrayHeader(n)]);
  for (let i = 0; i < n; i += rowsPerPart) yield encodeRows(view, i, Math.min(n, i + rowsPerPart));
}

/**
 * Rows [from, to) of a view, each a 5-element msgpack array, written the way
 * @msgpack/msgpack writes them (same bytes) but without its general encoder:
 * strings go through Buffer.write, and only values that are not strings,
 * numbers, booleans or null are handed to encode(). 16,000 rows of 64-byte
 * strings: 9-10 ms against 19-38 ms for encode() of the rows (this machine).
 */
function encodeRows(view: KvSnapshotView, from: number, to: number): Uint8Array {
  const w = new RowWriter(64 * 1024);
  for (let j = from; j < to; j++) {
    const r = view.records[j]!;
    w.byte(0x95);
    w.string(view.keys[j]!);
    w.value(r.value);
    w.number(r.createRevision);
    w.number(r.modRevision);
    w.number(r.version);
  }
  return w.done();
}

class RowWriter {
  private buf: Buffer;
  private off = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.off + n <= this.buf.byteLength) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.byteLength * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.off++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.byteLength);
    this.buf.set(b, this.off);
    this.off += b.byteLength;
  }

  string(str: string): void {
    const len = Buffer.byteLength(str, 'utf8');
    this.room(5 + len);
    if (len < 32) this.buf[this.off++] = 0xa0 | len;
    else if (len < 0x100) {
      this.buf[this.off++] = 0xd9;
      this.buf[this.off++] = len;
    } else if (len < 0x10000) {
      this.buf[this.off++] = 0xda;
      this.off = this.buf.writeUInt16BE(len, this.off);
    } else {
      this.buf[this.off++] = 0xdb;
      this.off = this.buf.writeUInt32BE(len, this.off);
    }
    this.off += this.buf.write(str, this.off, len, 'utf8');
  }

  /** Non-negative integers below 2^32 as @msgpack/msgpack writes them; anything else through encode(). */
  number(x: number): void {
    if (!Number.isInteger(x) || x < 0 || x >= 0x100000000) return this.bytes(sharedEncoder.encode(x));
    this.room(5);
    if (x < 0x80) this.buf[this.off++] = x;
    else if (x < 0x100) {
      this.buf[this.off++] = 0xcc;
      this.buf[this.off++] = x;
    } else if (x < 0x10000) {
      this.buf[this.off++] = 0xcd;
      this.off = this.buf.writeUInt16BE(x, this.off);
    } else {
      this.buf[this.off++] = 0xce;
      this.off = this.buf.writeUInt32BE(x, this.off);
    }
  }

  value(v: JsonValue): void {
    if (typeof v === 'string') this.string(v);
    else if (typeof v === 'number') this.number(v);
    else if (v === null) this.byte(0xc0);
    else if (v === true) this.byte(0xc3);
    else if (v === false) this.byte(0xc2);
    else this.bytes(sharedEncoder.encode(v));
  }

  done(): Uint8Array {
    return this.buf.subarray(0, this.off);
  }
}

interface SnapshotImage {
  /** 1: keys only; 2: keys and leases (written only when leases exist). */
  v: 1 | 2;
  appliedIndex: number;
  revision: number;
  /** Version 2: the live leases, by id. */
  leases?: LeaseRow[];
  /** [key, value, createRevision, modRevision, version], sorted by key so images are byte-identical. */
  kvs: [string, JsonValue, number, number, number][];
}

/** Bookkeeping a record costs beyond its key and value (revisions, map entry): counted by the quota. */
const RECORD_OVERHEAD_BYTES = 32;

/** A value's approximate encoded size; cheap for the common scalar and string values. */
function valueBytes(v: JsonValue): number {
  if (typeof v === 'string') return v.length + 5;
  if (typeof v === 'number') return 9;
  if (v === null || typeof v === 'boolean') return 1;
  return JSON.stringify(v).length;
}

/** A lease as the state machine holds it (LeaseRecord with a mutable key set). */
interface Lease {
  readonly id: number;
  readonly ttlMs: number;
  refreshedAt: number;
  readonly keys: Set<string>;
}

function leaseView(l: Lease): LeaseView {
  return { id: l.id, ttlMs: l.ttlMs, refreshedAt: l.refreshedAt, keys: [...l.keys].sort() };
}

export class KvStateMachine {
  private data = new Map<string, KvRecord>();
  /** Approximate bytes the store holds (see `bytes`). */
  private totalBytes = 0;
  private rev = 0;
  private appliedIdx = 0;
  private leaseTable = new Map<number, Lease>();
  /** key -> lease it is bound to (keys without a lease are absent). */
  private keyLease = new Map<string, number>();
  /** Receives every mutation as it is applied (the node's watch history); set by the applier. */
  private sink: ((ev: KvEvent) => void) | null = null;

  /** Global revision: the number of mutations applied so far. */
  get revision(): number {
    return this.rev;
  }

  /** Index of the last log entry applied (or restored from a snapshot). */
  get appliedIndex(): number {
    return this.appliedIdx;
  }

  get size(): number {
    return this.data.size;
  }

  /** Approximate bytes the store holds (keys, values, per-record overhead); for the store quota. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Where mutation events go (one call per revision, in order); null for none. */
  setEventSink(sink: ((ev: KvEvent) => void) | null): void {
    this.sink = sink;
  }

  /**
   * Keeps `bytes` current across one mutation of `key`. Estimated from the values, not stored per
   * key: a restart restores 100k keys without sizing each one (the quota only needs an estimate,
   * and only the leader checks it).
   */
  private account(key: string, before: KvRecord | null, after: KvRecord | null): void {
    if (before === after) return;
    const size = (r: KvRecord | null): number =>
      r === null ? 0 : Buffer.byteLength(key) + valueBytes(r.value) + RECORD_OVERHEAD_BYTES;
    this.totalBytes += size(after) - size(before);
  }

  /** Local read of the applied state; linearizable only behind a ReadIndex or a committed get. */
  get(key: string): KvRecord | null {
    return this.data.get(key) ?? null;
  }

  keys(): string[] {
    return [...this.data.keys()].sort();
  }

  /** Keys starting with `prefix`, sorted: only the matches are sorted (a lock's queue in a large store). */
  keysWithPrefix(prefix: string): string[] {
    if (prefix === '') return this.keys();
    const out: string[] = [];
    for (const k of this.data.keys()) if (k.startsWith(prefix)) out.push(k);
    return out.sort();
  }

  /** The lease `key` is bound to (0 = none). */
  leaseOf(key: string): number {
    return this.keyLease.get(key) ?? 0;
  }

  lease(id: number): LeaseRecord | null {
    return this.leaseTable.get(id) ?? null;
  }

  /** Every live lease (the leader's expiry bookkeeping walks them). */
  leases(): IterableIterator<LeaseRecord> {
    return this.leaseTable.values();
  }

  get leaseCount(): number {
    return this.leaseTable.size;
  }

  /** Apply one committed entry; entries must arrive in index order, each exactly once. */
  apply(entry: Entry): KvResult {
    if (entry.index <= this.appliedIdx) {
      throw new RaftError(
        'kv_reapply',
        `entry ${entry.index} is at or below applied index ${this.appliedIdx}`,
      );
    }
    this.appliedIdx = entry.index;
    if (entry.type !== EntryType.Normal || entry.data.length === 0) {
      return { ok: true, op: 'noop', index: entry.index, revision: this.rev };
    }
    const cmd = decodeCommand(entry.data);
    if ('error' in cmd) {
      return {
        ok: false,
        op: 'unknown',
        index: entry.index,
        revision: this.rev,
        error: 'bad_command',
        current: null,
        message: cmd.error,
      };
    }
    if (isLeaseCommand(cmd)) return this.executeLease(cmd, entry.index);
    return this.execute(cmd, entry.index);
  }

  private execute(cmd: Exclude<KvCommand, LeaseCommand>, index: number): KvResult {
    const prev = this.data.get(cmd.key) ?? null;
    const rid = cmd.requestId === undefined ? {} : { requestId: cmd.requestId };
    const fail = (error: KvErrorCode): KvResult => ({
      ok: false,
      op: cmd.op,
      index,
      revision: this.rev,
      error,
      current: prev,
      ...rid,
    });
    const ok = (record: KvRecord | null): KvResult => ({
      ok: true,
      op: cmd.op,
      index,
      revision: this.rev,
      record,
      prev,
      ...rid,
    });
    switch (cmd.op) {
      case 'get':
        return ok(prev);
      case 'put':
        if (cmd.lease !== undefined && !this.leaseTable.has(cmd.lease)) return fail('lease_not_found');
        return ok(this.write(cmd.key, cmd.value, prev, cmd.lease ?? 0));
      case 'delete':
        if (!prev) return ok(null);
        this.remove(cmd.key, prev);
        return ok(null);
      case 'cas':
        if (!prev) {
          if (!cmd.createIfMissing) return fail('not_found');
        } else if (!jsonEqual(prev.value, cmd.expected)) {
          return fail('mismatch');
        }
        return ok(this.write(cmd.key, cmd.value, prev, 0));
      case 'cas_rev': {
        const current = prev?.modRevision ?? 0;
        if (current !== cmd.expectedRevision)
          return fail(prev || cmd.expectedRevision === 0 ? 'mismatch' : 'not_found');
        if (cmd.lease !== undefined && !this.leaseTable.has(cmd.lease)) return fail('lease_not_found');
        return ok(this.write(cmd.key, cmd.value, prev, cmd.lease ?? 0));
      }
    }
  }

  private executeLease(cmd: LeaseCommand, index: number): KvResult {
    const rid = cmd.requestId === undefined ? {} : { requestId: cmd.requestId };
    const ok = (lease: Lease | null, deleted: readonly string[] = []): KvResult => ({
      ok: true,
      op: cmd.op,
      index,
      revision: this.rev,
      lease: lease === null ? null : leaseView(lease),
      deleted,
      ...rid,
    });
    if (cmd.op === 'lease_grant') {
      const lease: Lease = { id: index, ttlMs: cmd.ttlMs, refreshedAt: cmd.now, keys: new Set() };
      this.leaseTable.set(index, lease);
      return ok(lease);
    }
    const lease = this.leaseTable.get(cmd.id);
    if (lease === undefined) {
      return {
        ok: false,
        op: cmd.op,
        index,
        revision: this.rev,
        error: 'lease_not_found',
        current: null,
        ...rid,
      };
    }
    switch (cmd.op) {
      case 'lease_keepalive':
        // Never backwards: a keep-alive stamped by a leader whose clock is behind keeps the later time.
        lease.refreshedAt = Math.max(lease.refreshedAt, cmd.now);
        return ok(lease);
      case 'lease_expire':
        if (lease.refreshedAt !== cmd.refreshedAt) return ok(lease);
        return ok(null, this.endLease(lease));
      case 'lease_revoke':
        return ok(null, this.endLease(lease));
    }
  }

  /** Delete every key of the lease, each at its own revision, in key order; then forget the lease. */
  private endLease(lease: Lease): string[] {
    const keys = [...lease.keys].sort();
    for (const k of keys) {
      const prev = this.data.get(k);
      if (prev) this.remove(k, prev);
    }
    this.leaseTable.delete(lease.id);
    return keys;
  }

  private bind(key: string, lease: number): void {
    const old = this.keyLease.get(key) ?? 0;
    if (old === lease) return;
    if (old !== 0) this.leaseTable.get(old)?.keys.delete(key);
    if (lease === 0) this.keyLease.delete(key);
    else {
      this.keyLease.set(key, lease);
      this.leaseTable.get(lease)?.keys.add(key);
    }
  }

  private remove(key: string, prev: KvRecord): void {
    this.rev += 1;
    this.data.delete(key);
    this.account(key, prev, null);
    this.bind(key, 0);
    this.sink?.({
      type: 'delete',
      key,
      value: null,
      revision: this.rev,
      createRevision: prev.createRevision,
      lease: 0,
    });
  }

  private write(key: string, value: JsonValue, prev: KvRecord | null, lease: number): KvRecord {
    this.rev += 1;
    const rec: KvRecord = {
      value,
      createRevision: prev?.createRevision ?? this.rev,
      modRevision: this.rev,
      version: (prev?.version ?? 0) + 1,
    };
    this.data.set(key, rec);
    this.account(key, prev, rec);
    this.bind(key, lease);
    this.sink?.({ type: 'put', key, value, revision: this.rev, createRevision: rec.createRevision, lease });
    return rec;
  }

  /** A self-contained image of the state at `appliedIndex`. */
  snapshot(): Uint8Array {
    return Buffer.concat([...encodeSnapshotParts(this.capture(), Number.POSITIVE_INFINITY)]);
  }

  /**
   * The state as of now, for encodeSnapshotParts: cheap (records are immutable
   * and replaced on write, so the rows are a point-in-time view while applying
   * goes on), so a runtime can encode and write the image over later turns.
   * Leases are copied (they are few and mutable).
   */
  capture(): KvSnapshotView {
    const keys = this.keys();
    const leases: LeaseRow[] = [...this.leaseTable.values()]
      .sort((a, b) => a.id - b.id)
      .map((l) => [l.id, l.ttlMs, l.refreshedAt, [...l.keys].sort()]);
    return {
      appliedIndex: this.appliedIdx,
      revision: this.rev,
      keys,
      records: keys.map((k) => this.data.get(k) as KvRecord),
      ...(leases.length > 0 ? { leases } : {}),
    };
  }

  /** Replace the whole state with a snapshot image (version 1 or 2). */
  restore(data: Uint8Array): void {
    if (this.restoreFast(data)) return;
    let v: unknown;
    try {
      v = decode(data);
    } catch (e) {
      throw new RaftError('kv_bad_snapshot', `snapshot is not msgpack: ${(e as Error).message}`);
    }
    const img = v as Partial<SnapshotImage> | null;
    if (
      !img ||
      (img.v !== 1 && img.v !== 2) ||
      !Array.isArray(img.kvs) ||
      typeof img.revision !== 'number' ||
      typeof img.appliedIndex !== 'number' ||
      (img.v === 2 && !Array.isArray(img.leases))
    ) {
      throw new RaftError('kv_bad_snapshot', 'snapshot image has an unknown shape');
    }
    this.data.clear();
    for (const row of img.kvs) {
      const [k, value, createRevision, modRevision, version] = row;
      this.data.set(k, { value, createRevision, modRevision, version });
    }
    this.restoreLeases(img.leases ?? []);
    // The image is the store encoded: its size is the estimate, at no per-key cost.
    this.totalBytes = data.byteLength + img.kvs.length * RECORD_OVERHEAD_BYTES;
    this.rev = img.revision;
    this.appliedIdx = img.appliedIndex;
  }

  private restoreLeases(rows: readonly LeaseRow[]): void {
    this.leaseTable = new Map();
    this.keyLease = new Map();
    for (const row of rows) {
      if (!Array.isArray(row) || row.length !== 4 || !Array.isArray(row[3]))
        throw new RaftError('kv_bad_snapshot', 'snapshot lease row has an unknown shape');
      const [id, ttlMs, refreshedAt, keys] = row;
      this.leaseTable.set(id, { id, ttlMs, refreshedAt, keys: new Set(keys) });
      for (const k of keys) this.keyLease.set(k, id);
    }
  }

  /**
   * restore() on the common image (JSON values in msgpack's usual types),
   * without the general decoder: on a restart it is on the path to the first
   * read (kv-snapshot-reader.ts). False, the state untouched, when the image
   * is anything else (bin or ext values, say): restore() then decodes it in
   * full and reports a bad one. Version 2 images (leases) take this path too:
   * a store with one lease granted no longer pays the general decoder.
   */
  private restoreFast(data: Uint8Array): boolean {
    const rows = new Map<string, KvRecord>();
    const head = readSnapshotImage(data, (k, value, createRevision, modRevision, version) => {
      rows.set(k, { value, createRevision, modRevision, version });
    });
    if (
      head === null ||
      (head.v !== 1 && head.v !== 2) ||
      (head.v === 2 && !Array.isArray(head.leases)) ||
      head.rows < 0 ||
      typeof head.revision !== 'number' ||
      typeof head.appliedIndex !== 'number'
    )
      return false;
    // A bad lease row throws kv_bad_snapshot, as in restore().
    this.restoreLeases(head.v === 2 ? (head.leases as LeaseRow[]) : []);
    this.data = rows;
    this.totalBytes = data.byteLength + head.rows * RECORD_OVERHEAD_BYTES;
    this.rev = head.revision;
    this.appliedIdx = head.appliedIndex;
    return true;
  }
}
