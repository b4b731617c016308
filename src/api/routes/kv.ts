/**
 * Replicated KV and leader routes. Any node accepts any request: the leader
 * serves it, a follower forwards a write to the leader over the Raft channel
 * and serves a linearizable read itself after the leader's ReadIndex
 * (src/node/raft-forward.ts); without a leader the answer is 503 no_quorum
 * after a bounded wait. No node calls another node's API.
 */
import type { Context, Hono } from 'hono';
import { getPath, getQueryParam } from 'hono/utils/url';
import type { JSONValue } from 'hono/utils/types';
import type { JsonValue } from '../../raft/kv.js';
import type { LeaderInfo, RaftComponent } from '../../node/raft-component.js';
import { NoQuorumError, NotLeaderError, QuotaExceededError } from '../../node/raft-component.js';
import { RequestAbandonedError } from '../../node/raft-errors.js';
import {
  ApiError,
  checkedBody,
  errorBody,
  parseJsonBody,
  type ApiRoutes,
  type DirectRoute,
  type JsonAnswer,
} from '../app.js';
import { checkPutBody, strictPathKey } from '../body-checks.js';
import { KV_PATH_PREFIX, badKey, kvKeyParam } from '../kv-key.js';
import {
  ForwardRefusedError,
  type CallerGone,
  type WriteOp,
  type WriteOutcome,
} from '../../node/raft-forward.js';

/** Keys are UTF-8 strings of 1..512 bytes. */
export const MAX_KEY_BYTES = 512;
/** A value's JSON encoding may take at most 64 KiB. */
export const MAX_VALUE_BYTES = 64 * 1024;

export interface KvItem {
  key: string;
  value: JsonValue;
  revision: number;
}
export interface KvDeleteResponse {
  key: string;
  deleted: boolean;
  revision: number;
}
export interface KvListResponse {
  items: KvItem[];
  revision: number;
}
export interface LeaderResponse extends LeaderInfo {
  leader_api: string | null;
}

/**
 * Whether the client has gone, as the forwarder asks it (CallerGone): the API server's cheap flag
 * (server.ts NodeRequest.abandoned), else the request's signal.
 */
function callerGone(c: Context): CallerGone {
  const raw = c.req.raw as unknown as { readonly abandoned?: boolean };
  return typeof raw.abandoned === 'boolean'
    ? goneFlag(raw as { readonly abandoned: boolean })
    : c.req.raw.signal;
}

/** The server's flag as a CallerGone, read when the forwarder asks (not copied now). */
function goneFlag(req: { readonly abandoned: boolean }): CallerGone {
  return {
    get aborted() {
      return req.abandoned;
    },
  };
}

function checkKey(key: string): void {
  const n = Buffer.byteLength(key, 'utf8');
  if (n === 0) throw new ApiError(400, 'bad_request', 'key must not be empty');
  if (n > MAX_KEY_BYTES) throw new ApiError(413, 'too_large', `key of ${n} bytes exceeds ${MAX_KEY_BYTES}`);
}

/** The paths (as hono's getPath gives them) hono routes to `/v1/kv/:key{.+}`: its pattern, as its RegExpRouter matches it. */
const KV_KEY_ROUTE = /^\/v1\/kv\/.+$/;

/** Raft and forwarding errors as the HTTP errors clients know (503 no_quorum, 400, ...); others as they are. */
function mappedError(err: unknown): unknown {
  if (err instanceof NoQuorumError) return new ApiError(503, 'no_quorum', err.message);
  // 507 Insufficient Storage: the request is fine, the store is full (docs/api.md).
  if (err instanceof QuotaExceededError) return new ApiError(507, 'quota_exceeded', err.message);
  if (err instanceof ForwardRefusedError) return new ApiError(err.status, err.code, err.message);
  if (err instanceof NotLeaderError) return new ApiError(503, 'no_quorum', err.message);
  // The client left first: nobody reads this answer, but it is not a server fault.
  if (err instanceof RequestAbandonedError) return new ApiError(408, 'abandoned', err.message);
  return err;
}

function rethrowMapped(err: unknown): never {
  throw mappedError(err);
}

export interface KvRoutesOptions {
  /** How long to wait for a leader to appear before 503 (default: the raft request timeout). */
  readonly leaderWaitMs?: number;
}

export function kvRoutes(raft: RaftComponent, opts: KvRoutesOptions = {}): ApiRoutes {
  const waitMs = (): number => opts.leaderWaitMs ?? raft.requestTimeoutMs;

  /** Raft and forwarding errors as the HTTP answers clients know (503 no_quorum, 400, ...). */
  function mapped<T>(run: () => Promise<T>): Promise<T> {
    // A reaction on the write's promise rather than an async frame around it: a KV write's garbage.
    try {
      return run().catch(rethrowMapped);
    } catch (err) {
      return Promise.reject(mappedError(err));
    }
  }

  /** A linearizable read on any node: the leader's ReadIndex, applied here, then local state. */
  function linearized<T>(read: () => Promise<T>): Promise<T> {
    return mapped(async () => {
      await raft.forward.linearize(waitMs());
      return read();
    });
  }

  function writeAnswer(key: string, value: JsonValue | null, r: WriteOutcome): JsonAnswer {
    if (r.kind === 'delete') {
      const out: KvDeleteResponse = { key, deleted: r.deleted, revision: r.revision };
      return { status: 200, body: out };
    }
    if (r.kind === 'put') {
      const out: KvItem = { key, value: value as JsonValue, revision: r.revision };
      return { status: 200, body: out };
    }
    return {
      status: 409,
      body: {
        ...errorBody('revision_mismatch', 'prev_revision does not match the key'),
        current_revision: r.current,
      },
    };
  }

  /** GET /v1/kv/<key>, for hono's route and the direct one alike. */
  async function getKey(key: string, stale: boolean): Promise<JsonAnswer> {
    checkKey(key);
    const e = stale ? await raft.get(key, true) : await linearized(() => raft.get(key, true));
    return e === null
      ? { status: 404, body: errorBody('not_found', `no key ${key}`) }
      : { status: 200, body: e };
  }

  /** PUT /v1/kv/<key>, for hono's route and the direct one alike. */
  async function putKey(
    key: string,
    req: { text(): Promise<string> },
    gone: CallerGone,
  ): Promise<JsonAnswer> {
    checkKey(key);
    const text = await req.text();
    if (Buffer.byteLength(text) > MAX_VALUE_BYTES + 1024)
      throw new ApiError(413, 'too_large', `request body exceeds ${MAX_VALUE_BYTES} bytes`);
    const body = checkedBody(parseJsonBody(text), checkPutBody);
    const value = body.value as JsonValue;
    const valueJson = JSON.stringify(value);
    const size = Buffer.byteLength(valueJson);
    if (size > MAX_VALUE_BYTES)
      throw new ApiError(413, 'too_large', `value of ${size} bytes exceeds ${MAX_VALUE_BYTES}`);
    const prev = body.prev_revision;
    if (body.lease !== undefined && body.lease > 0) {
      // A key bound to a lease: deleted through the log when the lease ends (src/node/coord-ops.ts).
      const lease = body.lease;
      const out = await mapped(() =>
        raft.forward.coord(
          { op: 'put', key, value, lease, ...(prev === undefined ? {} : { prev_revision: prev }) },
          waitMs(),
          gone,
        ),
      );
      if (out.code === 'lease_not_found')
        throw new ApiError(404, 'lease_not_found', `no lease ${lease} (expired, revoked or never granted)`);
      if (out.code === 'mismatch') return writeAnswer(key, value, { kind: 'mismatch', current: out.current });
      return writeAnswer(key, value, { kind: 'put', revision: out.revision });
    }
    // The value's JSON text goes along: a forwarded put sends it rather than stringifying the value again.
    const op: WriteOp =
      prev === undefined
        ? { op: 'put', key, value, valueJson }
        : { op: 'put', key, value, prevRevision: prev, valueJson };
    return writeAnswer(key, value, await mapped(() => raft.forward.write(op, waitMs(), gone)));
  }

  const json = (c: Context, a: JsonAnswer): Response => c.json(a.body as JSONValue, a.status);

  /**
   * PUT and GET /v1/kv/<key> before hono (app.ts DirectRoute): the requests
   * hono would route to the two handlers below, with the key as kvKeyParam
   * reads it; anything else (HEAD, a path hono decodes into this one, a Host
   * that moves hono's path) is left to hono.
   */
  const direct: DirectRoute = (req) => {
    const method = req.method;
    if (method !== 'PUT' && method !== 'GET') return null;
    if (!KV_KEY_ROUTE.test(getPath(req as unknown as Request))) return null;
    const key = strictPathKey(req.url, KV_PATH_PREFIX);
    if (key === undefined) return null;
    if (key === null) return Promise.reject(badKey());
    if (method === 'GET') return getKey(key, getQueryParam(req.url, 'consistency') === 'stale');
    return putKey(key, req, goneFlag(req));
  };

  const mount = (app: Hono): void => {
    app.get('/v1/leader', (c) => {
      const info = raft.info();
      const body: LeaderResponse = {
        ...info,
        leader_api: info.leader === null ? null : (raft.peers.get(info.leader)?.apiAddr ?? null),
      };
      return c.json(body);
    });

    app.get('/v1/kv', async (c) => {
      const prefix = c.req.query('prefix') ?? '';
      const stale = c.req.query('consistency') === 'stale';
      if (stale) return c.json((await raft.list(prefix, true)) satisfies KvListResponse);
      return c.json((await linearized(() => raft.list(prefix, true))) satisfies KvListResponse);
    });

    app.get('/v1/kv/:key{.+}', async (c) =>
      json(c, await getKey(kvKeyParam(c), c.req.query('consistency') === 'stale')),
    );

    app.put('/v1/kv/:key{.+}', async (c) => json(c, await putKey(kvKeyParam(c), c.req, callerGone(c))));

    app.delete('/v1/kv/:key{.+}', async (c) => {
      const key = kvKeyParam(c);
      checkKey(key);
      return json(
        c,
        writeAnswer(
          key,
          null,
          await mapped(() => raft.forward.write({ op: 'delete', key }, waitMs(), callerGone(c))),
        ),
      );
    });
  };
  return Object.assign(mount, { direct });
}
