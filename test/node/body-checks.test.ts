/**
 * The server's hand-written request checks give the same verdict and the same
 * message as the zod schemas they replace, for every shape of body.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BodyShapeError, checkPutBody, checkShutdownBody } from '../../src/api/body-checks.js';
import { shutdownRequestSchema } from '../../src/api/types.js';

/** What the API used to answer with zod: the first issue, `<path>: <message>`. */
function zodVerdict(schema: z.ZodType, body: unknown): string {
  const r = schema.safeParse(body);
  if (r.success) return 'ok';
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue?.message ?? ''}`;
}

function ourVerdict(check: (b: unknown) => unknown, body: unknown): string {
  try {
    check(body);
    return 'ok';
  } catch (err) {
    if (err instanceof BodyShapeError) return err.message;
    throw err;
  }
}

const putSchema = z.strictObject({
  value: z.json(),
  prev_revision: z.number().int().nonnegative().optional(),
});

const NOT_OBJECTS = [[], 5, null, 'x', true];

describe('request body checks', () => {
  it('shutdown: same verdicts and messages as its zod schema', () => {
    const bodies: unknown[] = [
      ...NOT_OBJECTS,
      {},
      { reason: 'test' },
      { reason: 5 },
      { reason: null },
      { reason: {} },
      { reason: [] },
      { reason: 'x'.repeat(200) },
      { reason: 'x'.repeat(201) },
      { reason: '😀'.repeat(150) },
      { reason: '😀'.repeat(201) },
      { reason: 'ok', foo: 1 },
      { reason: 'ok', foo: 1, bar: 2 },
      { foo: 1, reason: 5 },
      { constructor: 1 },
      JSON.parse('{"__proto__": 1}'),
    ];
    for (const b of bodies)
      expect(ourVerdict(checkShutdownBody, b), JSON.stringify(b)).toBe(zodVerdict(shutdownRequestSchema, b));
    expect(checkShutdownBody({ reason: 'r' })).toEqual({ reason: 'r' });
  });

  it('KV put: same verdicts and messages as the zod schema it replaces', () => {
    const bodies: unknown[] = [
      ...NOT_OBJECTS,
      {},
      { value: 1 },
      { value: null },
      { value: { a: [1, { b: null }] } },
      { value: 'x', prev_revision: 0 },
      { value: 'x', prev_revision: 7 },
      { value: 1, prev_revision: -1 },
      { value: 1, prev_revision: 1.5 },
      { value: 1, prev_revision: -1.5 },
      { value: 1, prev_revision: '1' },
      { value: 1, prev_revision: null },
      { value: 1, prev_revision: true },
      { value: 1, prev_revision: {} },
      { value: 1, prev_revision: 2 ** 53 },
      { value: 1, prev_revision: 1e300 },
      { value: 1, prev_revision: -(2 ** 60) },
      { value: 1, x: 2 },
      { value: 1, x: 2, y: 3 },
      { x: 2 },
      { prev_revision: -1 },
      { value: 1, toString: 2 },
    ];
    for (const b of bodies)
      expect(ourVerdict(checkPutBody, b), JSON.stringify(b)).toBe(zodVerdict(putSchema, b));
  });
});
