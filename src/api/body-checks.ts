/**
 * Checks of the JSON request bodies the server accepts, written by hand: a
 * node serves its API without loading zod (about 6 MB of private memory, see
 * docs/operations.md "Memory"). The zod schemas in types.ts stay for clients,
 * and test/api/body-checks.test.ts holds these to the very messages zod gives
 * for the same bodies, so the API answers exactly as when it used zod.
 */

/** A body that breaks its shape; `message` is the text of the 400 (`<key>: <rule>` or `<rule>`). */
export class BodyShapeError extends Error {}

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
  return (body) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new BodyShapeError(expected('object', body));
    const obj = body as Record<string, unknown>;
    for (const [key, rule] of Object.entries(rules)) {
      const v = obj[key];
      if (v === undefined) {
        if (rule.optional) continue;
        throw new BodyShapeError(`${key}: Invalid input`);
      }
      const problem = rule.check(v);
      if (problem !== null) throw new BodyShapeError(`${key}: ${problem}`);
    }
    const unknown = Object.keys(obj).filter((k) => !Object.hasOwn(rules, k));
    if (unknown.length > 0) {
      const names = unknown.map((k) => JSON.stringify(k)).join(', ');
      throw new BodyShapeError(`Unrecognized key${unknown.length > 1 ? 's' : ''}: ${names}`);
    }
    return obj as T;
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
export const checkPutBody = strictObject<{ value: unknown; prev_revision?: number }>({
  value: { check: anyJson, optional: false },
  prev_revision: { check: nonNegativeInt, optional: true },
});
