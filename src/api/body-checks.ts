/**
 * Checks of the JSON request bodies the server accepts, written by hand: a
 * node serves its API without loading zod (about 6 MB of private memory, see
 * docs/operations.md "Memory"). The zod schemas in types.ts stay for clients,
 * and test/api/body-checks.test.ts holds these to the very messages zod gives
 * for the same bodies, so the API answers exactly as when it used zod.
 */

/** A body that breaks its shape; `message` is the text of the 400 (`<key>: <rule>` or `<rule>`). */
export class BodyShapeError extends Error {}

/** Whether every own key of `obj` has a rule, without a key list (the usual case). */
function onlyKnownKeys(obj: Record<string, unknown>, rules: Record<string, FieldRule>): boolean {
  for (const k in obj) if (Object.hasOwn(obj, k) && !Object.hasOwn(rules, k)) return false;
  return true;
}

/** A check of one field's value: the zod message for it, or null when it passes. */
type FieldCheck = (value: unknown) => string | null;

interface FieldRule {
  readonly check: FieldCheck;
  readonly optional: boolean;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

const expected = (type: string, v: unknown): string =>
  `Invalid input: expected ${type}, received ${kindOf(v)}`;

/**
 * zod's strictObject: the first problem of the known fields in declaration
 * order, else the unknown keys, all named in one message.
 */
function strictObject<T>(rules: Record<string, FieldRule>): (body: unknown) => T {
  // Listed once: a KV write's body is checked per request, and its arrays were garbage per write.
  const ruleList = Object.entries(rules);
  return (body) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new BodyShapeError(expected('object', body));
    const obj = body as Record<string, unknown>;
    for (const [key, rule] of ruleList) {
      const v = obj[key];
      if (v === undefined) {
        if (rule.optional) continue;
        throw new BodyShapeError(`${key}: Invalid input`);
      }
      const problem = rule.check(v);
      if (problem !== null) throw new BodyShapeError(`${key}: ${problem}`);
    }
    if (onlyKnownKeys(obj, rules)) return obj as T;
    // onlyKnownKeys said no: at least one key is unknown.
    const unknown = Object.keys(obj).filter((k) => !Object.hasOwn(rules, k));
    const names = unknown.map((k) => JSON.stringify(k)).join(', ');
    throw new BodyShapeError(`Unrecognized key${unknown.length > 1 ? 's' : ''}: ${names}`);
  };
}

function stringUpTo(max: number): FieldCheck {
  return (v) => {
    if (typeof v !== 'string') return expected('string', v);
    // Counted in code points, as zod does: an emoji is one character, not two UTF-16 units.
    return [...v].length > max ? `Too big: expected string to have <=${max} characters` : null;
  };
}

/** A JSON number that is a safe, non-negative integer (zod: number().int().nonnegative()). */
const nonNegativeInt: FieldCheck = (v) => {
  if (typeof v !== 'number') return expected('number', v);
  if (!Number.isInteger(v)) return 'Invalid input: expected int, received number';
  if (v > Number.MAX_SAFE_INTEGER) return `Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`;
  if (v < -Number.MAX_SAFE_INTEGER) return `Too small: expected int to be >=${-Number.MAX_SAFE_INTEGER}`;
  return v < 0 ? 'Too small: expected number to be >=0' : null;
};

/** Any value parsed from JSON is JSON; only its absence is a problem. */
const anyJson: FieldCheck = () => null;

/** POST /v1/shutdown: `{ reason?: string of at most 200 characters }`. */
export const checkShutdownBody = strictObject<{ reason?: string }>({
  reason: { check: stringUpTo(200), optional: true },
});

/** PUT /v1/kv/<key>: `{ value: <any JSON>, prev_revision?: non-negative integer }`. */
export const checkPutBody = strictObject<{ value: unknown; prev_revision?: number; lease?: number }>({
  value: { check: anyJson, optional: false },
  prev_revision: { check: nonNegativeInt, optional: true },
  lease: { check: nonNegativeInt, optional: true },
});

/** A number of seconds in [min, max] (fractions allowed). */
function secondsIn(min: number, max: number): FieldCheck {
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return expected('number', v);
    return v < min || v > max ? `Invalid input: expected seconds between ${min} and ${max}` : null;
  };
}

/** POST /v1/lease: `{ ttl_s }`, 1 s .. 1 day. */
export const checkLeaseBody = strictObject<{ ttl_s: number }>({
  ttl_s: { check: secondsIn(1, 86_400), optional: false },
});

/** POST /v1/lock/{name}: `{ lease, wait_s?, owner? }`. */
export const checkLockBody = strictObject<{ lease: number; wait_s?: number; owner?: unknown }>({
  lease: { check: nonNegativeInt, optional: false },
  wait_s: { check: secondsIn(0, 3600), optional: true },
  owner: { check: anyJson, optional: true },
});

/** POST /v1/election/{name}/campaign: `{ lease, value, wait_s? }`. */
export const checkCampaignBody = strictObject<{ lease: number; value: unknown; wait_s?: number }>({
  lease: { check: nonNegativeInt, optional: false },
  value: { check: anyJson, optional: false },
  wait_s: { check: secondsIn(0, 3600), optional: true },
});

/** POST /v1/election/{name}/resign: `{ lease }`. */
export const checkResignBody = strictObject<{ lease: number }>({
  lease: { check: nonNegativeInt, optional: false },
});

/**
 * The largest request body the API reads: a KV value's 64 KiB plus 1 KiB of
 * envelope (`{"value": ..., "prev_revision": n}`). A larger body is refused
 * from its Content-Length before any of it is read, or, sent chunked, as soon
 * as the bytes that arrived pass it: memory per request stays bounded.
 */
export const MAX_BODY_BYTES = 64 * 1024 + 1024;

/**
 * How deeply a value's arrays and objects may nest. Deeper values would be
 * stored, then break a recursive encoder (MessagePack, JSON) on some node
 * later; refused before anything is proposed.
 */
export const MAX_VALUE_DEPTH = 64;

/** A JSON body the API refuses although it parses: too deep, or a number JSON cannot carry back. */
export class JsonLimitError extends Error {}

/**
 * The deepest nesting of arrays and objects in JSON text, counted without
 * parsing (so a hostile body cannot exhaust a recursive parser's stack), or
 * Infinity as soon as it passes `limit`.
 */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
      if (max > limit) return Infinity;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Whether a parsed value holds a non-finite number anywhere (no path strings made on the way). */
function hasNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasNonFinite(value[i])) return true;
    return false;
  }
  const o = value as Record<string, unknown>;
  for (const k in o) if (Object.hasOwn(o, k) && hasNonFinite(o[k])) return true;
  return false;
}

/** Where the first non-finite number is ('value.a[2]'), or null. JSON.parse turns 1e999 into Infinity. */
export function findNonFinite(value: unknown, path: string): string | null {
  // The usual body has none: looked for without the path strings first.
  return hasNonFinite(value) ? nonFinitePath(value, path) : null;
}

function nonFinitePath(value: unknown, path: string): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = nonFinitePath(value[i], `${path}[${i}]`);
      if (p !== null) return p;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const p = nonFinitePath(v, path === '' ? k : `${path}.${k}`);
      if (p !== null) return p;
    }
  }
  return null;
}

/**
 * Parse a request body's JSON within the API's limits: a SyntaxError for bad
 * JSON, a JsonLimitError for nesting deeper than MAX_VALUE_DEPTH below the
 * body's own object, or a number out of range (1e999).
 */
export function parseBoundedJson(text: string): unknown {
  // +1: the body's own envelope object holds the value.
  if (jsonDepth(text, MAX_VALUE_DEPTH + 1) > MAX_VALUE_DEPTH + 1)
    throw new JsonLimitError(`JSON nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const value: unknown = JSON.parse(text);
  const at = findNonFinite(value, '');
  if (at !== null)
    throw new JsonLimitError(`${at === '' ? 'body' : at}: number out of range (JSON numbers must be finite)`);
  return value;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text, or null when it is not valid UTF-8 (stored as U+FFFD otherwise). */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * A key from the raw request path after `prefix`, percent-decoded strictly:
 * null for a malformed escape ('%zz') or escapes that are not UTF-8 ('%ff').
 * Decoding leniently would store 'a%zz' literally, the same key as 'a%25zz'.
 */
export function strictPathKey(url: string, prefix: string): string | null | undefined {
  const start = url.indexOf('/', url.indexOf('://') + 3);
  if (start < 0) return undefined;
  let end = url.length;
  const q = url.indexOf('?', start);
  if (q >= 0) end = q;
  const h = url.indexOf('#', start);
  if (h >= 0 && h < end) end = h;
  const path = url.slice(start, end);
  if (!path.startsWith(prefix)) return undefined;
  try {
    return decodeURIComponent(path.slice(prefix.length));
  } catch {
    return null;
  }
}
