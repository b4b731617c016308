/**
 * Coordination routes: watch (SSE and long poll), leases, locks, elections.
 * Any node serves every route (src/node/coordination.ts): writes reach the
 * leader through the Raft channel, waits run on this node's applied history.
 */
import type { Context, Hono } from 'hono';
import type { JsonValue } from '../../raft/kv.js';
import type { KvEvent, WatchFilter } from '../../kv/types.js';
import { eventBytes } from '../../kv/history.js';
import {
  CandidacyLostError,
  ELECTION_PREFIX,
  LOCK_PREFIX,
  LeaseNotFoundError,
  WaitTimeoutError,
  type CoordinationComponent,
  type Holder,
} from '../../node/coordination.js';
import type { RaftComponent } from '../../node/raft-component.js';
import { NoQuorumError, NotLeaderError, QuotaExceededError } from '../../node/raft-component.js';
import { ForwardRefusedError } from '../../node/raft-forward.js';
import { CompactedError, TooManyWatchersError, type WatchCursor } from '../../node/watch-hub.js';
import { ApiError, errorBody, readJson, type ApiRoutes } from '../app.js';
import { checkCampaignBody, checkLeaseBody, checkLockBody, checkResignBody } from '../body-checks.js';
import {
  PING_STREAM,
  STREAM_WAIT_MS,
  sseEvent,
  sseResponse,
  waitSignal,
  type StreamSink,
} from '../stream.js';
import type { HolderBody, WatchEvent } from './coord-types.js';

/** Longest long poll, and the default of lock and campaign waits. */
export const MAX_WAIT_S = 300;
const DEFAULT_LOCK_WAIT_S = 30;
const NAME = /^[A-Za-z0-9._-]{1,128}$/;
const WRITE_CHUNK_BYTES = 64 * 1024;
const POLL_MAX_BYTES = 1024 * 1024;

export function eventBody(e: KvEvent): WatchEvent {
  return {
    type: e.type,
    key: e.key,
    value: e.value,
    revision: e.revision,
    create_revision: e.createRevision,
    lease: e.lease,
  };
}

function holderBody(h: Holder | null): HolderBody | null {
  return h === null ? null : { key: h.key, value: h.value, lease: h.lease, revision: h.revision };
}

/** `30s`, `500ms`, `2m`, or a bare number of seconds -> ms, within [0, MAX_WAIT_S]. */
export function parseWait(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m)
    throw new ApiError(
      400,
      'bad_request',
      `wait must look like 30s, 500ms or 2m, got ${JSON.stringify(text)}`,
    );
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms > MAX_WAIT_S * 1000) throw new ApiError(400, 'bad_request', `wait must be at most ${MAX_WAIT_S}s`);
  return Math.round(ms);
}

function uintParam(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new ApiError(400, 'bad_request', `${what} must be a non-negative integer`);
  return Number(v);
}

function checkName(name: string): string {
  if (!NAME.test(name))
    throw new ApiError(400, 'bad_request', 'name must be 1..128 characters of A-Z a-z 0-9 . _ -');
  return name;
}

async function mapped<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof NoQuorumError || err instanceof NotLeaderError)
      throw new ApiError(503, 'no_quorum', err.message);
    if (err instanceof QuotaExceededError) throw new ApiError(507, 'quota_exceeded', err.message);
    if (err instanceof ForwardRefusedError) throw new ApiError(err.status, err.code, err.message);
    if (err instanceof LeaseNotFoundError) throw new ApiError(404, 'lease_not_found', err.message);
    if (err instanceof WaitTimeoutError) throw new ApiError(408, 'timeout', err.message);
    if (err instanceof CandidacyLostError) throw new ApiError(409, 'lost', err.message);
    if (err instanceof TooManyWatchersError) throw new ApiError(429, 'too_many_watchers', err.message);
    throw err;
  }
}

/**
 * The next events of a watch stream ([] when none came for a long while or the
 * stream ended), null after telling the client its revision was compacted
 * away (the stream then ends).
 */
async function nextEvents(sink: StreamSink, cur: WatchCursor): Promise<KvEvent[] | null> {
  try {
    return await cur.next(STREAM_WAIT_MS, 256, sink.signal);
  } catch (err) {
    if (!(err instanceof CompactedError)) throw err;
    await sink.write(sseEvent('compacted', { oldest_revision: err.oldestRevision }));
    return null;
  }
}

export function coordRoutes(raft: RaftComponent, coord: CoordinationComponent): ApiRoutes {
  const compacted = (c: Context, err: CompactedError): Response =>
    c.json({ ...errorBody('compacted', err.message), oldest_revision: err.oldestRevision }, 410);

  /** Write events to an SSE sink until the client leaves (the sink's heartbeat keeps idle streams visible). */
  async function pump(sink: StreamSink, cur: WatchCursor): Promise<void> {
    try {
      await sink.write(`retry: 1000\n: watching from revision ${cur.position}\n\n`);
      while (!sink.signal.aborted) {
        const evs = await nextEvents(sink, cur);
        if (evs === null) return;
        if (evs.length === 0) continue;
        // Written in pieces of about WRITE_CHUNK_BYTES, each after the socket took the last: a watcher
        // holds one piece in memory, not a batch of 256 values of 64 KiB.
        let piece = '';
        for (const e of evs) {
          piece += sseEvent(e.type, eventBody(e), e.revision);
          if (piece.length >= WRITE_CHUNK_BYTES) {
            await sink.write(piece);
            piece = '';
          }
        }
        if (piece !== '') await sink.write(piece);
      }
    } finally {
      cur.close();
    }
  }

  return (app: Hono) => {
    app.get('/v1/watch', async (c) => {
      const key = c.req.query('key');
      const prefix = c.req.query('prefix');
      if ((key === undefined) === (prefix === undefined))
        throw new ApiError(400, 'bad_request', 'give exactly one of key or prefix');
      if (key === '') throw new ApiError(400, 'bad_request', 'key must not be empty');
      const filter: WatchFilter = key !== undefined ? { key } : { prefix: prefix ?? '' };
      let from = uintParam(c.req.query('from_revision'), 'from_revision');
      const lastId = c.req.header('last-event-id');
      // A reconnecting EventSource: resume right after the last event it received.
      if (lastId !== undefined && lastId !== '') from = (uintParam(lastId, 'Last-Event-ID') ?? 0) + 1;
      if (from === 0) from = 1;
      const waitText = c.req.query('wait');
      const waitMs = waitText === undefined ? null : parseWait(waitText);
      const limit = Math.min(uintParam(c.req.query('limit'), 'limit') ?? 1000, 10_000) || 1000;
      if (c.req.query('consistent') === 'true')
        await mapped(() => raft.forward.linearize(raft.requestTimeoutMs));
      let cur: WatchCursor;
      try {
        cur = await mapped(async () => coord.watch(filter, from));
      } catch (err) {
        if (err instanceof CompactedError) return compacted(c, err);
        throw err;
      }
      if (waitMs === null) return sseResponse(c, (sink) => pump(sink, cur), PING_STREAM);
      try {
        // A client that leaves, or a node that stops, ends the wait: its cursor is freed at once.
        const events = await cur.next(waitMs, limit, waitSignal(c));
        // One answer holds at most about POLL_MAX_BYTES of events (at least one): the next poll goes on.
        let bytes = 0;
        let kept = events.length;
        for (let i = 0; i < events.length; i++) {
          bytes += eventBytes(events[i]!);
          if (bytes > POLL_MAX_BYTES && i > 0) {
            kept = i;
            break;
          }
        }
        const next = kept < events.length ? events[kept]!.revision : cur.position;
        return c.json({
          events: events.slice(0, kept).map(eventBody),
          revision: coord.revision,
          next_revision: next,
        });
      } catch (err) {
        if (err instanceof CompactedError) return compacted(c, err);
        throw err;
      } finally {
        cur.close();
      }
    });

    // ---------------------------------------------------------------- leases

    app.post('/v1/lease', async (c) => {
      const body = await readJson(c, checkLeaseBody);
      const l = await mapped(() => coord.leaseGrant(Math.round(body.ttl_s * 1000)));
      return c.json({ id: l.id, ttl_s: l.ttl_ms / 1000 });
    });

    const leaseId = (c: Context): number => {
      const id = uintParam(c.req.param('id'), 'lease id');
      if (id === undefined || id === 0)
        throw new ApiError(400, 'bad_request', 'lease id must be a positive integer');
      return id;
    };

    app.post('/v1/lease/:id/keepalive', async (c) => {
      const l = await mapped(() => coord.leaseKeepAlive(leaseId(c)));
      return c.json({ id: l.id, ttl_s: l.ttl_ms / 1000 });
    });

    app.delete('/v1/lease/:id', async (c) => {
      const id = leaseId(c);
      const r = await mapped(() => coord.leaseRevoke(id));
      return c.json({ id, revoked: true, deleted: r.deleted });
    });

    app.get('/v1/lease/:id', (c) => {
      const id = leaseId(c);
      const l = coord.lease(id);
      if (l === null) return c.json(errorBody('lease_not_found', `no lease ${id} on this node`), 404);
      return c.json({ id: l.id, ttl_s: l.ttl_ms / 1000, keys: l.keys });
    });

    // ---------------------------------------------------------------- locks

    app.post('/v1/lock/:name', async (c) => {
      const name = checkName(c.req.param('name'));
      const body = await readJson(c, checkLockBody);
      const owner = (body.owner ?? `lease-${body.lease}`) as JsonValue;
      const waitMs = Math.round((body.wait_s ?? DEFAULT_LOCK_WAIT_S) * 1000);
      const h = await mapped(() =>
        coord.lock(name, body.lease, owner, waitMs, c.req.raw.signal as AbortSignal | undefined),
      );
      return c.json({ name, owner: h.value, lease: h.lease, key: h.key, revision: h.revision });
    });

    app.get('/v1/lock/:name', async (c) => {
      const name = checkName(c.req.param('name'));
      const r = await mapped(() =>
        coord.holder(`${LOCK_PREFIX}${name}/`, { consistent: c.req.query('consistency') !== 'stale' }),
      );
      return c.json({ name, holder: holderBody(r.holder), waiting: r.waiting, revision: r.revision });
    });

    app.delete('/v1/lock/:name', async (c) => {
      const name = checkName(c.req.param('name'));
      const lease = uintParam(c.req.query('lease'), 'lease');
      if (lease === undefined) throw new ApiError(400, 'bad_request', 'lease query parameter required');
      const r = await mapped(() => coord.unlock(name, lease));
      return c.json({ name, released: r.deleted, revision: r.revision });
    });

    // ---------------------------------------------------------------- elections

    app.post('/v1/election/:name/campaign', async (c) => {
      const name = checkName(c.req.param('name'));
      const body = await readJson(c, checkCampaignBody);
      const waitMs = Math.round((body.wait_s ?? MAX_WAIT_S) * 1000);
      const h = await mapped(() =>
        coord.campaign(
          name,
          body.lease,
          body.value as JsonValue,
          waitMs,
          c.req.raw.signal as AbortSignal | undefined,
        ),
      );
      return c.json({ name, leader: holderBody(h) });
    });

    app.post('/v1/election/:name/resign', async (c) => {
      const name = checkName(c.req.param('name'));
      const body = await readJson(c, checkResignBody);
      const r = await mapped(() => coord.resign(name, body.lease));
      return c.json({ name, resigned: r.deleted, revision: r.revision });
    });

    app.get('/v1/election/:name', async (c) => {
      const name = checkName(c.req.param('name'));
      const prefix = `${ELECTION_PREFIX}${name}/`;
      const consistent = c.req.query('consistency') !== 'stale';
      const first = await mapped(() => coord.holder(prefix, { consistent }));
      if (c.req.query('watch') !== 'true')
        return c.json({ name, leader: holderBody(first.holder), revision: first.revision });
      const cur = await mapped(async () => coord.watch({ prefix }, first.revision + 1));
      return sseResponse(
        c,
        async (sink) => {
          try {
            let last = JSON.stringify(holderBody(first.holder));
            await sink.write(
              `retry: 1000\n${sseEvent('leader', { name, leader: holderBody(first.holder) }, first.revision)}`,
            );
            while (!sink.signal.aborted) {
              const evs = await nextEvents(sink, cur);
              if (evs === null) return;
              if (evs.length === 0) continue;
              // The local state has applied at least these events: its holder is the leader as of then.
              const now = await coord.holder(prefix, { consistent: false });
              const body = holderBody(now.holder);
              const text = JSON.stringify(body);
              if (text === last) continue;
              last = text;
              await sink.write(sseEvent('leader', { name, leader: body }, evs[evs.length - 1]!.revision));
            }
          } finally {
            cur.close();
          }
        },
        PING_STREAM,
      );
    });
  };
}
