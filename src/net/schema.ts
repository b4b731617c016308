/**
 * A tiny declarative schema for wire bodies: each message is a MessagePack
 * array whose positions follow the key order of its shape. One description
 * drives the encoder, the validating decoder and the field tables in
 * docs/protocol.md, so the three cannot drift apart.
 *
 * Decoding is strict: exact array lengths, integer ranges, byte lengths of
 * strings and binaries, known enum codes. A microcontroller peer can rely on
 * the same rules (they are printed in the docs).
 */

import type { Rng } from '../common/rng.js';

/** Thrown only inside the decoder; the codec turns it into a counted drop reason. */
export class FieldError extends Error {
  readonly path: string;
  constructor(path: string, rule: string) {
    super(`${path || 'body'}: ${rule}`);
    this.path = path;
  }
}

export interface Field<V> {
  /** The MessagePack type and limits, as printed in docs/protocol.md. */
  readonly doc: string;
  /** Nested layout rows for the docs (objects and unions only). */
  readonly rows?: readonly DocRow[];
  readonly encode: (v: V) => unknown;
  readonly decode: (raw: unknown, path: string) => V;
  /** A random valid value, edge cases favoured (property tests; small sizes to stay fast). */
  readonly arbitrary: (rng: Rng) => V;
}

export interface DocRow {
  /** Position inside the array, dotted for nested arrays ("3.1"). */
  readonly pos: string;
  readonly name: string;
  readonly doc: string;
}

/** Largest integer a double carries exactly; wire integers never exceed it. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(0, xs.length - 1)] as T;
}

function intField(min: number, max: number, doc: string): Field<number> {
  return {
    doc,
    arbitrary: (rng) =>
      rng.next() < 0.4
        ? pick(rng, [min, max, min + 1, Math.min(max, 127), Math.min(max, 128), Math.min(max, 65536)])
        : Math.min(max, min + Math.floor(rng.next() * Math.min(max - min + 1, 2 ** 32))),
    encode: (v) => {
      if (!Number.isSafeInteger(v) || v < min || v > max)
        throw new FieldError('', `integer ${v} outside ${min}..${max}`);
      return v;
    },
    decode: (raw, path) => {
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw))
        throw new FieldError(path, 'expected integer');
      if (raw < min || raw > max) throw new FieldError(path, `integer ${raw} outside ${min}..${max}`);
      return raw;
    },
  };
}

/** Non-negative integer (msgpack positive fixint / uint8..uint64, smallest form). */
export function uint(max: number = MAX_SAFE): Field<number> {
  return intField(0, max, max === MAX_SAFE ? 'uint (0..2^53-1)' : `uint (0..${max})`);
}

export function int(min: number, max: number): Field<number> {
  return intField(min, max, `int (${min}..${max})`);
}

/**
 * A finite number. The encoder writes integral values as msgpack ints and the
 * rest as float 64, so decoders must accept both.
 */
export function float(): Field<number> {
  return {
    doc: 'float 64 or int (finite)',
    arbitrary: (rng) => pick(rng, [0, 1, -1.5, 3.25, 71.5, 1e300, -1e-300, 2 ** 53 - 1, rng.next() * 1000]),
    encode: (v) => {
      if (!Number.isFinite(v)) throw new FieldError('', 'non-finite number');
      return v;
    },
    decode: (raw, path) => {
      if (typeof raw !== 'number' || !Number.isFinite(raw))
        throw new FieldError(path, 'expected finite number');
      return raw;
    },
  };
}

export function bool(): Field<boolean> {
  return {
    doc: 'bool',
    arbitrary: (rng) => rng.next() < 0.5,
    encode: (v) => v,
    decode: (raw, path) => {
      if (typeof raw !== 'boolean') throw new FieldError(path, 'expected bool');
      return raw;
    },
  };
}

/** UTF-8 length without allocating; short strings (3 bytes per UTF-16 unit at most) skip the count. */
function utf8Within(v: string, maxBytes: number): boolean {
  if (v.length > maxBytes) return false;
  if (v.length * 3 <= maxBytes) return true;
  return Buffer.byteLength(v, 'utf8') <= maxBytes;
}

/** UTF-8 string of at most `maxBytes` bytes. */
export function str(maxBytes: number): Field<string> {
  return {
    doc: `str (<= ${maxBytes} bytes UTF-8)`,
    arbitrary: (rng) => {
      // Characters of 1, 2, 3 and 4 UTF-8 bytes, up to the limit exactly at times.
      const target = rng.next() < 0.2 ? maxBytes : rng.int(0, Math.min(maxBytes, 40));
      let out = '';
      let bytes = 0;
      for (;;) {
        const c = pick(rng, ['a', 'Z', '-', '\u00e9', '\u20ac', '\ud83d\ude00']);
        const n = Buffer.byteLength(c);
        if (bytes + n > target) break;
        out += c;
        bytes += n;
      }
      return out;
    },
    encode: (v) => {
      if (typeof v !== 'string' || !utf8Within(v, maxBytes))
        throw new FieldError('', `string longer than ${maxBytes} bytes`);
      return v;
    },
    decode: (raw, path) => {
      if (typeof raw !== 'string') throw new FieldError(path, 'expected str');
      // Measured on the decoded form: the decoder has already replaced invalid UTF-8.
      if (!utf8Within(raw, maxBytes)) throw new FieldError(path, `str longer than ${maxBytes} bytes`);
      return raw;
    },
  };
}

/** Opaque bytes (msgpack bin 8/16/32) of at most `maxBytes`. */
export function bin(maxBytes: number): Field<Uint8Array> {
  return {
    doc: `bin (<= ${maxBytes} bytes)`,
    arbitrary: (rng) =>
      Uint8Array.from({ length: rng.int(0, Math.min(maxBytes, 16)) }, () => rng.int(0, 255)),
    encode: (v) => {
      if (v.length > maxBytes) throw new FieldError('', `bin longer than ${maxBytes} bytes`);
      return v;
    },
    decode: (raw, path) => {
      if (!(raw instanceof Uint8Array)) throw new FieldError(path, 'expected bin');
      if (raw.length > maxBytes) throw new FieldError(path, `bin longer than ${maxBytes} bytes`);
      // A plain view even when the packet came in a Buffer, so values compare and serialise alike.
      return raw.constructor === Uint8Array ? raw : new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
    },
  };
}

/** A string enum sent as its index (uint), which is smaller and easy to switch on in C. */
export function enumOf<const T extends string>(values: readonly T[]): Field<T> {
  return {
    doc: `uint enum (${values.map((v, i) => `${i}=${v}`).join(', ')})`,
    arbitrary: (rng) => pick(rng, values),
    encode: (v) => {
      const i = values.indexOf(v);
      if (i < 0) throw new FieldError('', `unknown enum value ${String(v)}`);
      return i;
    },
    decode: (raw, path) => {
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw >= values.length) {
        throw new FieldError(path, `expected enum code 0..${values.length - 1}`);
      }
      return values[raw] as T;
    },
  };
}

/** One of a few numeric codes (a const-object enum such as MemberStatus), sent as itself. */
export function oneOf<const T extends number>(values: readonly T[]): Field<T> {
  const allowed = new Set<number>(values);
  return {
    doc: `uint, one of ${values.join(', ')}`,
    arbitrary: (rng) => pick(rng, values),
    encode: (v) => {
      if (!allowed.has(v)) throw new FieldError('', `value ${v} not one of ${values.join(', ')}`);
      return v;
    },
    decode: (raw, path) => {
      if (typeof raw !== 'number' || !allowed.has(raw))
        throw new FieldError(path, `expected one of ${values.join(', ')}`);
      return raw as T;
    },
  };
}

/**
 * A small string-to-string map (msgpack map, str keys and values). Encoded
 * with sorted keys so equal maps give equal bytes.
 */
export function strMap(
  maxEntries: number,
  maxKeyBytes: number,
  maxValueBytes: number,
): Field<Readonly<Record<string, string>>> {
  const key = str(maxKeyBytes);
  const value = str(maxValueBytes);
  return {
    doc: `map (<= ${maxEntries}) of str (<= ${maxKeyBytes} bytes) -> str (<= ${maxValueBytes} bytes)`,
    arbitrary: (rng) => {
      const out: Record<string, string> = {};
      const n = rng.int(0, Math.min(maxEntries, 3));
      for (let i = 0; i < n; i++) out[key.arbitrary(rng)] = value.arbitrary(rng);
      return out;
    },
    encode: (v) => {
      const entries = Object.entries(v);
      if (entries.length > maxEntries) throw new FieldError('', `map larger than ${maxEntries}`);
      for (const [k, x] of entries) {
        key.encode(k);
        value.encode(x);
      }
      return v;
    },
    decode: (raw, path) => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
        throw new FieldError(path, 'expected map');
      }
      if (Object.getPrototypeOf(raw) !== Object.prototype) throw new FieldError(path, 'expected map');
      const entries = Object.entries(raw);
      if (entries.length > maxEntries) throw new FieldError(path, `map larger than ${maxEntries}`);
      const out: Record<string, string> = {};
      for (const [k, x] of entries) {
        key.decode(k, `${path}{key}`);
        out[k] = value.decode(x, `${path}.${k}`);
      }
      return out;
    },
  };
}

/** An optional property: absent (`undefined`) travels as nil. */
export function opt<V>(f: Field<V>): Field<V | undefined> {
  return {
    doc: `nil | ${f.doc}`,
    ...(f.rows ? { rows: f.rows } : {}),
    arbitrary: (rng) => (rng.next() < 0.5 ? undefined : f.arbitrary(rng)),
    encode: (v) => (v === undefined ? null : f.encode(v)),
    decode: (raw, path) => (raw === null ? undefined : f.decode(raw, path)),
  };
}

/** A nullable value: `null` travels as nil. */
export function nullable<V>(f: Field<V>): Field<V | null> {
  return {
    doc: `nil | ${f.doc}`,
    ...(f.rows ? { rows: f.rows } : {}),
    arbitrary: (rng) => (rng.next() < 0.5 ? null : f.arbitrary(rng)),
    encode: (v) => (v === null ? null : f.encode(v)),
    decode: (raw, path) => (raw === null ? null : f.decode(raw, path)),
  };
}

export function arr<V>(f: Field<V>, maxLen: number): Field<readonly V[]> {
  return {
    doc: `array (<= ${maxLen}) of ${f.rows ? `${f.doc}, element [i] below` : f.doc}`,
    arbitrary: (rng) => Array.from({ length: rng.int(0, Math.min(maxLen, 3)) }, () => f.arbitrary(rng)),
    ...(f.rows
      ? { rows: f.rows.map((r) => ({ pos: `[i].${r.pos}`, name: `[i].${r.name}`, doc: r.doc })) }
      : {}),
    encode: (v) => {
      if (v.length > maxLen) throw new FieldError('', `array longer than ${maxLen}`);
      return v.map((x) => f.encode(x));
    },
    decode: (raw, path) => {
      if (!Array.isArray(raw)) throw new FieldError(path, 'expected array');
      if (raw.length > maxLen) throw new FieldError(path, `array longer than ${maxLen}`);
      return raw.map((x: unknown, i) => f.decode(x, `${path}[${i}]`));
    },
  };
}

/** Mutable-array variant for message types that declare `T[]` rather than `readonly T[]`. */
export function list<V>(f: Field<V>, maxLen: number): Field<V[]> {
  const a = arr(f, maxLen);
  return { ...a, decode: (raw, path) => [...a.decode(raw, path)], arbitrary: (rng) => [...a.arbitrary(rng)] };
}

function join(parent: string, child: string): string {
  return child.startsWith('[') ? `${parent}${child}` : `${parent}.${child}`;
}

/** A row followed by its children, with positions and names made absolute. */
export function nestRows(row: DocRow, children: readonly DocRow[]): DocRow[] {
  return [
    row,
    ...children.map((r) => ({ pos: join(row.pos, r.pos), name: join(row.name, r.name), doc: r.doc })),
  ];
}

/**
 * Every property of T (optional ones included) must have a field; the
 * positional order on the wire is the key order of the shape literal.
 */
export type Shape<T> = { readonly [K in keyof Required<T>]: Field<T[K]> };

function shapeRows(shape: Readonly<Record<string, Field<unknown>>>, prefix: string): DocRow[] {
  const rows: DocRow[] = [];
  Object.keys(shape).forEach((name, i) => {
    const f = shape[name] as Field<unknown>;
    rows.push(...nestRows({ pos: `${prefix}${i}`, name, doc: f.doc }, f.rows ?? []));
  });
  return rows;
}

const fieldCache = new WeakMap<object, readonly (readonly [string, Field<unknown>])[]>();

/** Erase the value type so shape fields can be driven generically (cached: shapes are immutable). */
function fieldsOf<T>(shape: Shape<T>): readonly (readonly [string, Field<unknown>])[] {
  let f = fieldCache.get(shape);
  if (!f) {
    f = Object.entries(shape as Readonly<Record<string, Field<unknown>>>);
    fieldCache.set(shape, f);
  }
  return f;
}

const NO_EXTRA: readonly unknown[] = [];

export function encodeShape<T>(shape: Shape<T>, v: T, extra: readonly unknown[] = NO_EXTRA): unknown[] {
  const rec = v as Readonly<Record<string, unknown>>;
  const fields = fieldsOf(shape);
  // Sized once and filled by index: a spread then pushes regrew the array's backing store two or
  // three times per message (a Raft leader encodes one per follower per write, issue #16).
  const n = extra.length;
  const out = new Array<unknown>(n + fields.length);
  for (let i = 0; i < n; i++) out[i] = extra[i];
  for (let i = 0; i < fields.length; i++) {
    const [name, f] = fields[i] as readonly [string, Field<unknown>];
    try {
      out[n + i] = f.encode(rec[name]);
    } catch (e) {
      if (e instanceof FieldError) throw new FieldError(name, e.message);
      throw e;
    }
  }
  return out;
}

/** A random valid record of the shape; absent optionals left out, as the decoder leaves them. */
export function arbitraryShape<T>(shape: Shape<T>, rng: Rng): T {
  const out: Record<string, unknown> = {};
  for (const [name, f] of fieldsOf(shape)) {
    const v = f.arbitrary(rng);
    if (v !== undefined) out[name] = v;
  }
  return out as T;
}

/** Decodes `raw` into `out` (a fresh object unless given: the codec passes the message it builds). */
export function decodeShape<T>(
  shape: Shape<T>,
  raw: readonly unknown[],
  path: string,
  skip = 0,
  out: Record<string, unknown> = {},
): T {
  const fields = fieldsOf(shape);
  if (raw.length !== fields.length + skip) {
    throw new FieldError(path, `expected array of ${fields.length + skip}, got ${raw.length}`);
  }
  for (let i = 0; i < fields.length; i++) {
    const [name, f] = fields[i] as readonly [string, Field<unknown>];
    const value = f.decode(raw[i + skip], path ? `${path}.${name}` : name);
    // Absent optionals stay absent so decoded objects equal the ones that were encoded.
    if (value !== undefined) out[name] = value;
  }
  return out as T;
}

/** A nested record, sent as a positional array. */
export function obj<T>(shape: Shape<T>): Field<T> {
  const n = Object.keys(shape).length;
  return {
    doc: `array (${n})`,
    arbitrary: (rng) => arbitraryShape(shape, rng),
    rows: shapeRows(shape as Readonly<Record<string, Field<unknown>>>, ''),
    encode: (v) => encodeShape(shape, v),
    decode: (raw, path) => {
      if (!Array.isArray(raw)) throw new FieldError(path, 'expected array');
      return decodeShape(shape, raw, path);
    },
  };
}

/**
 * A tagged union of records, sent as `[tag, ...fields]` where the tag is a
 * small uint. `key` names the discriminant property in the TypeScript type.
 */
export function union<K extends string, U extends Record<K, string>>(
  key: K,
  variants: { readonly [V in U[K]]: readonly [number, Shape<Omit<Extract<U, Record<K, V>>, K>>] },
): Field<U> {
  const byTag = new Map<number, [string, Shape<unknown>]>();
  const entries = Object.entries(variants) as [string, readonly [number, Shape<unknown>]][];
  const tags = entries.map(([n, [t]]) => `${t}=${n}`).join(', ');
  const rows: DocRow[] = [{ pos: '0', name: key, doc: `uint tag (${tags})` }];
  for (const [name, [tag, shape]] of entries) {
    byTag.set(tag, [name, shape]);
    for (const r of shapeRows(shape as Readonly<Record<string, Field<unknown>>>, '')) {
      const [head, ...rest] = r.pos.split('.');
      const top = rest.length === 0;
      rows.push({
        pos: [String(Number(head) + 1), ...rest].join('.'),
        name: top ? `${r.name} (${key}=${tag} ${name})` : r.name,
        doc: r.doc,
      });
    }
  }
  return {
    doc: `array: [uint tag, ...fields] (${tags})`,
    arbitrary: (rng) => {
      const [name, [, shape]] = pick(rng, entries);
      return { [key]: name, ...(arbitraryShape(shape, rng) as Record<string, unknown>) } as U;
    },
    rows,
    encode: (v) => {
      const name = v[key];
      const variant = (variants as Readonly<Record<string, readonly [number, Shape<unknown>]>>)[name];
      if (!variant) throw new FieldError('', `unknown ${key} ${name}`);
      return encodeShape(variant[1], v, [variant[0]]);
    },
    decode: (raw, path) => {
      if (!Array.isArray(raw) || raw.length === 0) throw new FieldError(path, 'expected tagged array');
      const tag: unknown = raw[0];
      const variant = typeof tag === 'number' ? byTag.get(tag) : undefined;
      if (!variant) throw new FieldError(path, `unknown ${key} tag`);
      const body = decodeShape(variant[1], raw, path, 1) as Record<string, unknown>;
      return { [key]: variant[0], ...body } as U;
    },
  };
}
