/**
 * `GET /v1/dashboard/stream`: the web dashboard's one live connection, as
 * server-sent events. Each `snapshot` event holds what the page draws (this
 * node's status, the gossip view, its energy, the tasks when this node serves
 * them) plus the power-history points the page has not seen yet.
 *
 * The snapshot is built from the node's own GET routes, answered in process
 * (no socket): the page sees exactly what the REST API says, and a route that
 * is absent or failing (tasks on an older node, energy disabled) is just
 * null in the event. Nothing runs while nobody watches: the next snapshot is
 * built only once the socket took the last one (src/api/stream.ts), at most
 * one per `interval_ms` per connection, and the connection count is capped.
 */
import type { Hono } from 'hono';
import { ApiError } from '../app.js';
import { LightHeaders } from '../light-fetch.js';
import { sseEvent, sseResponse } from '../stream.js';
import { sleep } from '../../common/sleep.js';
import type { PowerSeries } from '../../node/power-history.js';
import { isoUtc } from '../../common/utc-time.js';

export interface DashboardHistorySource {
  /** Record every member's power now (keeps the newest point current while a page watches). */
  sample(): void;
  since(after: number): PowerSeries[];
}

export interface DashboardStreamOptions {
  history?: DashboardHistorySource;
  /** Default period between snapshots, ms. */
  intervalMs?: number;
  /** Concurrent streams at most; more get 503. */
  maxStreams?: number;
  clock?: () => number;
}

export const STREAM_DEFAULTS = { intervalMs: 2000, minIntervalMs: 250, maxIntervalMs: 60_000, maxStreams: 8 };

/** The routes a snapshot is made of, by field name. */
export const SNAPSHOT_ROUTES = {
  status: '/v1/status',
  members: '/v1/members',
  energy: '/v1/energy',
  tasks: '/v1/tasks',
} as const;

export type SnapshotField = keyof typeof SNAPSHOT_ROUTES;

export interface DashboardSnapshot {
  at: string;
  interval_ms: number;
  /** Each route's JSON body, null when it did not answer 200. */
  status: unknown;
  members: unknown;
  energy: unknown;
  tasks: unknown;
  /** Why a field is null: the route's error code (`not_found` for a route this node does not have). */
  unavailable: Partial<Record<SnapshotField, string>>;
  history: PowerSeries[];
}

function intervalOf(raw: string | undefined): number {
  if (raw === undefined || raw === '') return STREAM_DEFAULTS.intervalMs;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < STREAM_DEFAULTS.minIntervalMs || n > STREAM_DEFAULTS.maxIntervalMs)
    throw new ApiError(
      400,
      'bad_request',
      `interval_ms must be an integer from ${STREAM_DEFAULTS.minIntervalMs} to ${STREAM_DEFAULTS.maxIntervalMs}`,
    );
  return n;
}

/** GET a route of this app in process, with the caller's Authorization header, as parsed JSON. */
async function getLocal(
  app: Hono,
  path: string,
  auth: string | undefined,
): Promise<{ ok: true; body: unknown } | { ok: false; code: string }> {
  const headers = new LightHeaders();
  if (auth !== undefined) headers.set('authorization', auth);
  // The same minimal request shape the server's adapter hands hono (server.ts NodeRequest).
  const req = { url: `http://local${path}`, method: 'GET', headers };
  try {
    const r = await app.fetch(req as unknown as Request);
    const text = await r.text();
    if (r.status === 200) return { ok: true, body: JSON.parse(text) as unknown };
    const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    return { ok: false, code: typeof code === 'string' ? code : `http_${r.status}` };
  } catch (err) {
    return { ok: false, code: err instanceof Error ? err.message : 'failed' };
  }
}

export function mountDashboardStream(app: Hono, opts: DashboardStreamOptions = {}): void {
  const clock = opts.clock ?? Date.now;
  const maxStreams = opts.maxStreams ?? STREAM_DEFAULTS.maxStreams;
  let open = 0;

  const snapshot = async (
    intervalMs: number,
    auth: string | undefined,
    after: number,
  ): Promise<DashboardSnapshot> => {
    opts.history?.sample();
    const fields = Object.keys(SNAPSHOT_ROUTES) as SnapshotField[];
    const answers = await Promise.all(fields.map((f) => getLocal(app, SNAPSHOT_ROUTES[f], auth)));
    const snap: DashboardSnapshot = {
      at: isoUtc(clock()),
      interval_ms: intervalMs,
      status: null,
      members: null,
      energy: null,
      tasks: null,
      unavailable: {},
      history: opts.history?.since(after) ?? [],
    };
    fields.forEach((f, i) => {
      const a = answers[i];
      if (a === undefined) return;
      if (a.ok) snap[f] = a.body;
      else snap.unavailable[f] = a.code;
    });
    return snap;
  };

  app.get('/v1/dashboard/stream', (c) => {
    const intervalMs = intervalOf(c.req.query('interval_ms'));
    if (open >= maxStreams)
      throw new ApiError(503, 'too_many_streams', `this node serves at most ${maxStreams} dashboard streams`);
    // Taken here, so a burst of connections cannot pass the cap; the stream's end gives it back
    // (a HEAD or a replaced answer runs the starter too, already ended: see stream.ts).
    open++;
    const auth = c.req.header('authorization');
    return sseResponse(c, async (sink) => {
      try {
        let after = 0;
        for (let first = true; !sink.signal.aborted; first = false) {
          // The wait starts once the socket took the last snapshot: nothing is built ahead of a slow client.
          if (!first && !(await sleep(intervalMs, sink.signal))) return;
          const snap = await snapshot(intervalMs, auth, after);
          if (sink.signal.aborted) return;
          for (const s of snap.history) for (const p of s.points) after = Math.max(after, p[0]);
          // `retry` tells EventSource-style clients how long to wait before reconnecting.
          const head = first ? `retry: 3000\n` : '';
          await sink.write(`${head}${sseEvent('snapshot', snap)}`);
        }
      } finally {
        open--;
      }
    });
  });
}
