/**
 * The plaintext envelope: [version byte][message-type byte][MessagePack body].
 *
 * A codec owns one range of type numbers (gossip 0x01-0x3F, raft 0x40-0x7F)
 * and maps each TypeScript message (discriminated by its `type` string) to a
 * positional body described by a Shape. `decode` never throws: every failure
 * comes back as a reason the transports count.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Rng } from '../common/rng.js';
import { EncodeError } from './errors.js';
import {
  FieldError,
  arbitraryShape,
  decodeShape,
  encodeShape,
  nestRows,
  type DocRow,
  type Field,
  type Shape,
} from './schema.js';

/** First byte of every plaintext packet (and of the plaintext inside an encrypted one). */
export const PROTOCOL_VERSION = 0x01;
/** First byte of an encrypted packet; also the AES-GCM additional data. */
export const ENCRYPTED_VERSION = 0x81;

export const GOSSIP_TYPES = { min: 0x01, max: 0x3f } as const;
export const RAFT_TYPES = { min: 0x40, max: 0x7f } as const;

/** Why a packet was dropped. Stable strings: they are metric labels. */
export const DROP_REASONS = [
  'empty',
  'bad_version',
  'unknown_type',
  'bad_msgpack',
  'invalid_field',
  'unauthenticated',
  'plaintext_rejected',
  'encrypted_rejected',
  'oversize',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Reasons that mean "not from a peer holding our key" rather than "garbled". */
export const UNAUTHENTICATED_REASONS: ReadonlySet<DropReason> = new Set([
  'unauthenticated',
  'plaintext_rejected',
  'encrypted_rejected',
]);

export type DecodeResult<M> = { ok: true; msg: M } | { ok: false; reason: DropReason; detail?: string };

export interface WireMessage {
  readonly type: string;
}

/** One message type: its number and its body layout (every property but `type`). */
export interface MessageSpec<T extends WireMessage> {
  readonly code: number;
  readonly summary: string;
  readonly shape: Shape<Omit<T, 'type'>>;
}

export function message<T extends WireMessage>(
  code: number,
  summary: string,
  shape: Shape<Omit<T, 'type'>>,
): MessageSpec<T> {
  return { code, summary, shape };
}

/** Type-checked completeness: one spec per member of the union, keyed by its `type`. */
export type SpecTable<M extends WireMessage> = {
  readonly [K in M['type']]: MessageSpec<Extract<M, { type: K }>>;
};

interface ErasedSpec {
  readonly type: string;
  readonly code: number;
  readonly summary: string;
  readonly shape: Shape<unknown>;
}

/** What docs/protocol.md prints for each message type. */
export interface MessageDoc {
  readonly type: string;
  readonly code: number;
  readonly summary: string;
  readonly rows: readonly DocRow[];
}

// Hard caps far above any legal body so hostile length prefixes cannot make the decoder allocate.
const DECODER_LIMITS = {
  maxStrLength: 1 << 16,
  maxBinLength: 1 << 25,
  maxArrayLength: 1 << 20,
  maxMapLength: 256,
  maxExtLength: 0,
  // Numeric keys would silently become property names; a map key must be a str on the wire.
  mapKeyConverter: (key: unknown): string => {
    if (typeof key !== 'string') throw new FieldError('', 'map key is not a str');
    return key;
  },
} as const;

/** Strings up to this many UTF-8 bytes are looked up in a decoder's StrCache (node and cluster ids). */
const STR_CACHE_MAX_BYTES = 64;
/** Strings kept per byte length: a swarm's ids, not the keys of forwarded requests. */
const STR_CACHE_PER_LENGTH = 8;

/**
 * The short str values a codec has decoded before, as strings, so that the ids every Raft message
 * carries (from, to, cluster) are not decoded into fresh strings per message: about 1 KB of garbage
 * per write on a leader, which takes two answers per write (issue #16). Filled once and never
 * evicted: a full length's strings decode as before (no copy, no churn), so a peer sending random
 * strings neither grows it past 64 x 8 entries nor makes a miss dearer than the plain decode.
 */
class StrCache {
  private readonly byLength: { readonly bytes: Uint8Array; readonly str: string }[][] = [];

  constructor() {
    for (let i = 0; i <= STR_CACHE_MAX_BYTES; i++) this.byLength.push([]);
  }

  find(bytes: Uint8Array, at: number, n: number): string | undefined {
    const records = this.byLength[n]!;
    next: for (let r = 0; r < records.length; r++) {
      const rec = records[r]!;
      const b = rec.bytes;
      for (let j = 0; j < n; j++) if (b[j] !== bytes[at + j]) continue next;
      return rec.str;
    }
    return undefined;
  }

  /** Keeps `str` as the decoding of bytes[at, at + n) while its length has room. */
  store(bytes: Uint8Array, at: number, n: number, str: string): void {
    const records = this.byLength[n]!;
    if (records.length < STR_CACHE_PER_LENGTH) records.push({ bytes: bytes.slice(at, at + n), str });
  }
}

/** The parts of @msgpack/msgpack's Decoder (3.x) the str cache hooks into; checked at start-up. */
interface DecoderStrPath {
  bytes: Uint8Array;
  pos: number;
  decodeUtf8String(byteLength: number, headerOffset: number): string;
  stateIsMapKey(): boolean;
}

/**
 * A decoder whose str values up to STR_CACHE_MAX_BYTES come from a StrCache. A miss, a map key (the
 * library caches those itself) and anything the cache cannot hold take the library's own path, so
 * limits, truncation errors and the decoding of malformed UTF-8 stay exactly the library's.
 */
export function cachingDecoder(limits: typeof DECODER_LIMITS): Decoder {
  const decoder = new Decoder(limits);
  const d = decoder as unknown as DecoderStrPath;
  const plain = d.decodeUtf8String;
  // A library upgrade that renamed these internals leaves the plain decoder rather than a broken one.
  if (typeof plain !== 'function' || typeof d.stateIsMapKey !== 'function') return decoder;
  const cache = new StrCache();
  d.decodeUtf8String = function (this: DecoderStrPath, byteLength: number, headerOffset: number): string {
    const at = this.pos + headerOffset;
    if (
      byteLength === 0 ||
      byteLength > STR_CACHE_MAX_BYTES ||
      this.bytes.byteLength < at + byteLength ||
      this.stateIsMapKey()
    ) {
      return plain.call(this, byteLength, headerOffset);
    }
    const hit = cache.find(this.bytes, at, byteLength);
    if (hit !== undefined) {
      this.pos = at + byteLength;
      return hit;
    }
    const str = plain.call(this, byteLength, headerOffset);
    cache.store(this.bytes, at, byteLength, str);
    return str;
  };
  return decoder;
}

export class MessageCodec<M extends WireMessage> {
  readonly name: string;
  private readonly byType = new Map<string, ErasedSpec>();
  private readonly byCode = new Map<number, ErasedSpec>();
  private readonly encoder = new Encoder({ ignoreUndefined: false, sortKeys: true });
  private readonly decoder = cachingDecoder(DECODER_LIMITS);

  constructor(name: string, range: { readonly min: number; readonly max: number }, specs: SpecTable<M>) {
    this.name = name;
    const table = specs as Readonly<Record<string, MessageSpec<WireMessage>>>;
    for (const [type, spec] of Object.entries(table)) {
      if (spec.code < range.min || spec.code > range.max) {
        throw new EncodeError(`${name}: type ${type} code ${spec.code} outside ${range.min}..${range.max}`);
      }
      if (this.byCode.has(spec.code)) throw new EncodeError(`${name}: duplicate type code ${spec.code}`);
      const erased: ErasedSpec = {
        type,
        code: spec.code,
        summary: spec.summary,
        shape: spec.shape as Shape<unknown>,
      };
      this.byType.set(type, erased);
      this.byCode.set(spec.code, erased);
    }
  }

  /** Plaintext packet bytes. Throws EncodeError when `msg` breaks its own schema (a local bug). */
  encode(msg: M): Uint8Array {
    const spec = this.byType.get(msg.type);
    if (!spec) throw new EncodeError(`${this.name}: no codec for message type ${msg.type}`);
    let body: Uint8Array;
    try {
      // A view of the encoder's own buffer, copied once below behind the envelope's two bytes (encode()
      // would copy it out first: a second buffer per message, and a Raft leader sends one per
      // follower per write).
      body = this.encoder.encodeSharedRef(encodeShape(spec.shape, msg));
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      throw new EncodeError(`${this.name}: cannot encode ${msg.type}: ${detail}`, { type: msg.type });
    }
    const out = new Uint8Array(2 + body.length);
    out[0] = PROTOCOL_VERSION;
    out[1] = spec.code;
    out.set(body, 2);
    return out;
  }

  decode(bytes: Uint8Array): DecodeResult<M> {
    if (bytes.length === 0) return { ok: false, reason: 'empty' };
    if (bytes[0] !== PROTOCOL_VERSION) return { ok: false, reason: 'bad_version' };
    if (bytes.length < 3) return { ok: false, reason: 'empty' };
    const spec = this.byCode.get(bytes[1] as number);
    if (!spec) return { ok: false, reason: 'unknown_type' };
    let raw: unknown;
    try {
      raw = this.decoder.decode(bytes.subarray(2));
    } catch (e) {
      return { ok: false, reason: 'bad_msgpack', detail: e instanceof Error ? e.message : String(e) };
    }
    if (!Array.isArray(raw)) return { ok: false, reason: 'invalid_field', detail: 'body is not an array' };
    try {
      // Decoded straight into the message (type first, as a spread would order it), not into a body
      // object copied by a spread: one object per received message instead of two.
      const msg: Record<string, unknown> = { type: spec.type };
      decodeShape(spec.shape, raw, '', 0, msg);
      return { ok: true, msg: msg as unknown as M };
    } catch (e) {
      if (e instanceof FieldError) return { ok: false, reason: 'invalid_field', detail: e.message };
      // A validator bug must not crash the receive loop either; it still counts.
      return { ok: false, reason: 'invalid_field', detail: e instanceof Error ? e.message : String(e) };
    }
  }

  /** A random valid message of any type (property tests). */
  arbitrary(rng: Rng): M {
    const specs = [...this.byType.values()];
    const spec = specs[rng.int(0, specs.length - 1)] as ErasedSpec;
    return {
      type: spec.type,
      ...(arbitraryShape(spec.shape, rng) as Record<string, unknown>),
    } as unknown as M;
  }

  /** Type code of a message type name, for docs and tests. */
  codeOf(type: M['type']): number {
    const spec = this.byType.get(type);
    if (!spec) throw new EncodeError(`${this.name}: unknown message type ${type}`);
    return spec.code;
  }

  types(): readonly M['type'][] {
    return [...this.byType.keys()] as M['type'][];
  }

  describe(): readonly MessageDoc[] {
    return [...this.byCode.values()]
      .sort((a, b) => a.code - b.code)
      .map((s) => {
        const rows: DocRow[] = [];
        Object.entries(s.shape as Readonly<Record<string, Field<unknown>>>).forEach(([name, f], i) => {
          rows.push(...nestRows({ pos: String(i), name, doc: f.doc }, f.rows ?? []));
        });
        return { type: s.type, code: s.code, summary: s.summary, rows };
      });
  }
}
