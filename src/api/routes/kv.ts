/**
 * Replicated KV and leader routes. Any node accepts any request: the leader
 * serves it, a follower relays it once to the leader's API (bounded timeout),
 * and without a leader the answer is 503 no_quorum after a bounded wait.
 */
import type { Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { JsonValue, KvResult } from '../../raft/kv.js';
import type { LeaderInfo, RaftComponent } from '../../node/raft-component.js';
import { NoQuorumError, NotLeaderError, QuotaExceededError } from '../../node/raft-component.js';
import { ApiError, checkedBody, errorBody, type ApiRoutes } from '../app.js';
import { checkPutBody } from '../body-checks.js';
import { RelayError, relayHttp } from '../relay-http.js';

/** Keys are UTF-8 strings of 1..512 bytes. */
export const MAX_KEY_BYTES = 512;
/** A value's JSON encoding may take at most 64 KiB. */
export const MAX_VALUE_BYTES = 64 * 1024;
/** Marks a relayed request with its hop count. */
export const FORWARDED_HEADER = 'x-swarm-forwarded';
/** Names the node a relayed request was sent to as the successor of a leader handing over. */
export const SUCCESSOR_HEADER = 'x-swarm-successor';
/** A request is relayed at most this many times (a stale view of the leader costs one extra hop). */
const MAX_HOPS = 2;

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

function checkKey(key: string): void {
  const n = Buffer.byteLength(key, 'utf8');
  if (n === 0) throw new ApiError(400, 'bad_request', 'key must not be empty');
  if (n > MAX_KEY_BYTES) throw new ApiError(413, 'too_large', `key of ${n} bytes exceeds ${MAX_KEY_BYTES}`);
}

export interface KvRoutesOptions {
  /** Token sent to the leader when relaying (the swarm shares one api_token). */
  readonly apiToken?: string;
  /** How long to wait for a leader to appear before 503 (default: the raft request timeout). */
  readonly leaderWaitMs?: number;
}

export function kvRoutes(raft: RaftComponent, opts: KvRoutesOptions = {}): ApiRoutes {
  const waitMs = (): number => opts.leaderWaitMs ?? raft.requestTimeoutMs;

  /** Run `local` here if leader, else relay to the leader; map Raft errors to HTTP. */
  async function serve(c: Context, body: string | null, local: () => Promise<Response>): Promise<Response> {
    // Hop count, so a relay through a node whose view of the leader is stale cannot loop.
    const hops = Number(c.req.header(FORWARDED_HEADER) ?? 0) || 0;
    const self = raft.selfId;
    // Sent by a leader handing over to this node: wait to lead rather than relay the request back.
    let heir = c.req.header(SUCCESSOR_HEADER) === self;
    const deadline = Date.now() + waitMs();
    const left = (): number => Math.max(0, deadline - Date.now());
    for (;;) {
      try {
        return await local();
      } catch (err) {
        if (err instanceof NoQuorumError) throw new ApiError(503, 'no_quorum', err.message);
        // 507 Insufficient Storage: the request is fine, the store is full (docs/api.md).
        if (err instanceof QuotaExceededError) throw new ApiError(507, 'quota_exceeded', err.message);
        if (!(err instanceof NotLeaderError)) throw err;
        if (heir && err.leader !== self) {
          heir = false;
          await raft.awaitLeadership(Math.min(left(), raft.electionTimeoutMs));
          continue;
        }
        // A leader handing over sends the request to its successor at once, which serves it as soon as
        // it leads: the hand-over costs the client one election, not also a round of learning the leader.
        if (err.successor !== null && err.successor !== self && hops < MAX_HOPS) {
          const res = await relay(c, err.successor, body, hops + 1, true);
          if (res !== null) return res;
        }
        const leader = err.leader ?? (await raft.awaitLeader(left()));
        if (leader !== null && leader !== self) {
          if (hops >= MAX_HOPS) throw new ApiError(503, 'no_quorum', `not the leader (leader is ${leader})`);
          const res = await relay(c, leader, body, hops + 1, false);
          if (res !== null) return res;
          // Refused: the request never reached the leader (it is gone or stopping); wait for its successor.
          if (Date.now() >= deadline)
            throw new ApiError(503, 'no_quorum', `leader ${leader} unreachable and no successor in time`);
          // Woken by the next leader change; the short cap re-reads the peer directory for a new API address.
          await raft.awaitLeaderChange(leader, Math.min(50, left()));
          continue;
        }
        if (Date.now() >= deadline) throw new ApiError(503, 'no_quorum', 'no leader elected');
        // No leader was known and this node has just become it: serve at once.
        if (leader === null || err.leader === null) continue;
        // Still leader but refusing proposals (hand-over in progress): wait until the successor is known.
        await raft.awaitLeaderChange(leader, Math.min(50, left()));
      }
    }
  }

  /** The leader's answer, or null when its API refused the connection (nothing was sent). */
  async function relay(
    c: Context,
    leader: string,
    body: string | null,
    hops: number,
    successor: boolean,
  ): Promise<Response | null> {
    const api = raft.peers.get(leader)?.apiAddr;
    if (!api) {
      // A successor without a known API is skipped: the caller falls back to the leader it knows.
      if (successor) return null;
      throw new ApiError(503, 'no_quorum', `leader ${leader} has no known API address`);
    }
    const url = new URL(c.req.url);
    const headers: Record<string, string> = { [FORWARDED_HEADER]: String(hops) };
    if (successor) headers[SUCCESSOR_HEADER] = leader;
    if (body !== null) headers['content-type'] = 'application/json';
    const auth = c.req.header('authorization') ?? (opts.apiToken ? `Bearer ${opts.apiToken}` : undefined);
    if (auth) headers.authorization = auth;
    try {
      const res = await relayHttp({
        url: `http://${api.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}${url.pathname}${url.search}`,
        method: c.req.method,
        headers,
        body,
        timeoutMs: raft.requestTimeoutMs + 1000,
      });
      return c.newResponse(res.text, res.status as ContentfulStatusCode, {
        'content-type': res.contentType ?? 'application/json',
      });
    } catch (err) {
      // Refused: nothing listens, so the request was never sent and may go to the successor.
      if (err instanceof RelayError && err.code === 'ECONNREFUSED') return null;
      const msg = err instanceof Error ? err.message : String(err);
      const code = err instanceof RelayError && err.code ? ` (${err.code})` : '';
      throw new ApiError(503, 'no_quorum', `relay to leader ${leader} failed: ${msg}${code}`);
    }
  }

  function writeResponse(c: Context, key: string, r: KvResult): Response {
    if (r.ok && r.op !== 'noop') {
      if (r.op === 'delete') {
        const out: KvDeleteResponse = { key, deleted: r.prev !== null, revision: r.revision };
        return c.json(out);
      }
      if (r.record) {
        const out: KvItem = { key, value: r.record.value, revision: r.record.modRevision };
        return c.json(out);
      }
    }
    if (!r.ok && (r.error === 'mismatch' || r.error === 'not_found')) {
      return c.json(
        {
          ...errorBody('revision_mismatch', 'prev_revision does not match the key'),
          current_revision: r.current?.modRevision ?? 0,
        },
        409,
      );
    }
    return c.json(errorBody('internal', `unexpected KV result ${r.op}`), 500);
  }

  return (app: Hono) => {
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
      return serve(c, null, async () => c.json((await raft.list(prefix)) satisfies KvListResponse));
    });

    app.get('/v1/kv/:key{.+}', async (c) => {
      const key = c.req.param('key');
      checkKey(key);
      const stale = c.req.query('consistency') === 'stale';
      const found = (e: KvItem | null): Response =>
        e === null ? c.json(errorBody('not_found', `no key ${key}`), 404) : c.json(e);
      if (stale) return found(await raft.get(key, true));
      return serve(c, null, async () => found(await raft.get(key)));
    });

    app.put('/v1/kv/:key{.+}', async (c) => {
      const key = c.req.param('key');
      checkKey(key);
      const text = await c.req.text();
      if (Buffer.byteLength(text) > MAX_VALUE_BYTES + 1024)
        throw new ApiError(413, 'too_large', `request body exceeds ${MAX_VALUE_BYTES} bytes`);
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new ApiError(400, 'bad_json', 'request body is not valid JSON');
      }
      const body = checkedBody(raw, checkPutBody);
      const value = body.value as JsonValue;
      const size = Buffer.byteLength(JSON.stringify(value));
      if (size > MAX_VALUE_BYTES)
        throw new ApiError(413, 'too_large', `value of ${size} bytes exceeds ${MAX_VALUE_BYTES}`);
      const prev = body.prev_revision;
      return serve(c, text, async () => writeResponse(c, key, await raft.put(key, value, prev)));
    });

    app.delete('/v1/kv/:key{.+}', async (c) => {
      const key = c.req.param('key');
      checkKey(key);
      return serve(c, null, async () => writeResponse(c, key, await raft.delete(key)));
    });
  };
}
