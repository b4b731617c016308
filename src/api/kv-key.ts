/**
 * The key of a /v1/kv/<key> request, percent-decoded strictly from the raw
 * path. hono decodes route parameters leniently (a bad escape stays as it
 * is), so 'a%zz' would be stored as the key 'a%zz', the same key 'a%25zz'
 * names; and '%ff' (not UTF-8) would become U+FFFD.
 */
import type { Context } from 'hono';
import { ApiError } from './app.js';
import { strictPathKey } from './body-checks.js';

export const KV_PATH_PREFIX = '/v1/kv/';

export function badKey(): ApiError {
  return new ApiError(400, 'bad_key', 'key has a malformed percent escape or escapes that are not UTF-8');
}

export function kvKeyParam(c: Context): string {
  const key = strictPathKey(c.req.url, KV_PATH_PREFIX);
  if (key === null) throw badKey();
  // Not under the prefix (a route mounted elsewhere): hono's own parameter.
  return key ?? c.req.param('key') ?? '';
}
