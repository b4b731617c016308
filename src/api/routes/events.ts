/**
 * Swarm events: `POST /v1/events` originates one (gossip broadcast to every
 * node, best effort, delivered once per node), `GET /v1/events` streams the
 * events this node delivers as Server-Sent Events, `GET /v1/events/recent`
 * answers the same as one JSON list. Semantics in docs/api.md "Swarm events".
 */
import type { Context, Hono } from 'hono';
import type { DeliveredEvent, SwarmEvents } from '../../node/swarm-events.js';
import { EVENT_NAME_RE, MAX_EVENT_NAME_CHARS, MAX_EVENT_PAYLOAD_BYTES } from '../../node/swarm-events.js';
import { ApiError, parseJsonBody, type ApiRoutes } from '../app.js';
import { sseEvent, sseResponse, type StreamSink } from '../stream.js';
import type { EventJson, EventSendResponse, EventsRecentResponse } from './events-types.js';
import { isoUtc } from '../../common/utc-time.js';

export interface EventsRoutesOptions {
  /** A member's name by id (gossip), for `origin_name`. */
  readonly nameOf?: (id: string) => string | null;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function bad(message: string): ApiError {
  return new ApiError(400, 'bad_request', message);
}

/** The body of POST /v1/events as name and payload bytes, or a 400/413 that says what is wrong. */
export function parseSendBody(body: unknown): { name: string; payload: Uint8Array } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('body must be a JSON object {"name", "payload"}');
  const o = body as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== 'name' && k !== 'payload' && k !== 'payload_base64');
  if (unknown.length > 0) throw bad(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  const name = o['name'];
  if (typeof name !== 'string') throw bad('name: a string is required');
  if (name.length > MAX_EVENT_NAME_CHARS)
    throw bad(`name: at most ${MAX_EVENT_NAME_CHARS} characters, got ${name.length}`);
  if (!EVENT_NAME_RE.test(name))
    throw bad('name: 1..64 of A-Z a-z 0-9 . _ : / - and not starting with "_" (reserved)');
  const text = o['payload'];
  const b64 = o['payload_base64'];
  if (text !== undefined && b64 !== undefined) throw bad('give payload or payload_base64, not both');
  let payload: Uint8Array;
  if (b64 !== undefined) {
    if (typeof b64 !== 'string' || !BASE64_RE.test(b64))
      throw bad('payload_base64: must be a base64 string (RFC 4648, padded)');
    payload = Buffer.from(b64, 'base64');
  } else if (text === undefined) {
    payload = new Uint8Array(0);
  } else if (typeof text === 'string') {
    payload = Buffer.from(text, 'utf8');
  } else {
    throw bad('payload: must be a string (send JSON as its text, binary as payload_base64)');
  }
  if (payload.byteLength > MAX_EVENT_PAYLOAD_BYTES)
    throw new ApiError(
      413,
      'too_large',
      `event payload of ${payload.byteLength} bytes exceeds ${MAX_EVENT_PAYLOAD_BYTES}`,
    );
  return { name, payload };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One delivered event on the wire of the API. */
export function eventJson(d: DeliveredEvent, nameOf: (id: string) => string | null): EventJson {
  const e = d.event;
  let payload: string;
  let binary = false;
  try {
    payload = utf8.decode(e.payload);
  } catch {
    payload = Buffer.from(e.payload).toString('utf8');
    binary = true;
  }
  return {
    cursor: d.cursor,
    id: `${e.origin}:${e.seq}`,
    origin: e.origin,
    origin_name: nameOf(e.origin),
    seq: e.seq,
    name: e.name,
    payload,
    ...(binary ? { payload_base64: Buffer.from(e.payload).toString('base64') } : {}),
    received_at: isoUtc(d.receivedAtMs),
  };
}

function nameFilter(c: Context): string | null {
  const name = c.req.query('name');
  if (name === undefined || name === '') return null;
  if (name.length > MAX_EVENT_NAME_CHARS)
    throw bad(`name: at most ${MAX_EVENT_NAME_CHARS} characters, got ${name.length}`);
  return name;
}

/**
 * Where a stream or list starts: `since` (query) or `Last-Event-ID` (header,
 * sent by a reconnecting EventSource; the query wins). Absent: only new events.
 * "0": everything the ring still holds. A cursor of this node's life: what
 * came after it. A cursor of an earlier life (the node restarted): the whole
 * ring, reported as a restart.
 */
function startOf(c: Context, events: SwarmEvents): { after: number | null; restarted: boolean } {
  const since = c.req.query('since') ?? c.req.header('last-event-id');
  if (since === undefined || since === '') return { after: null, restarted: false };
  if (since === '0') return { after: 0, restarted: false };
  const p = events.parseCursor(since);
  if (p.kind === 'bad') throw bad('since: a cursor from an event (as "id:" in the stream), or 0');
  if (p.kind === 'other_boot') return { after: 0, restarted: true };
  return { after: p.after, restarted: false };
}

export function eventsRoutes(events: SwarmEvents, opts: EventsRoutesOptions = {}): ApiRoutes {
  const nameOf = opts.nameOf ?? ((): string | null => null);
  return (app: Hono) => {
    app.post('/v1/events', async (c) => {
      const { name, payload } = parseSendBody(parseJsonBody(await c.req.text()));
      const e = events.send(name, payload);
      const body: EventSendResponse = {
        id: `${e.origin}:${e.seq}`,
        origin: e.origin,
        seq: e.seq,
        name: e.name,
        bytes: e.payload.byteLength,
      };
      return c.json(body, 202);
    });

    app.get('/v1/events/recent', (c) => {
      const name = nameFilter(c);
      const { after } = startOf(c, events);
      const { events: list, missed } = events.replay(after ?? 0);
      const body: EventsRecentResponse = {
        events: list.filter((d) => name === null || d.event.name === name).map((d) => eventJson(d, nameOf)),
        missed,
        cursor: events.lastCursor,
      };
      return c.json(body);
    });

    app.get('/v1/events', (c) => {
      const name = nameFilter(c);
      const { after, restarted } = startOf(c, events);
      // The sink's default bound (MAX_QUEUED_BYTES, src/api/stream.ts) cuts off a client that
      // stops reading; it reconnects and replays.
      return sseResponse(c, (sink) => streamEvents(events, sink, { name, after, restarted, nameOf }), {
        heartbeat: { everyMs: KEEPALIVE_MS, text: ': keepalive\n\n' },
      });
    });
  };
}

/** A comment after this long without an event keeps proxies and NAT entries from timing the stream out. */
export const KEEPALIVE_MS = 15_000;

/**
 * The body of one stream: the replay, `ready`, then live deliveries until the
 * client goes, the node stops, or the client falls MAX_QUEUED_BYTES behind.
 * Deliveries arrive synchronously from gossip and are written without
 * waiting: the sink queues them while the socket is full, and closes the
 * stream past the bound (src/api/stream.ts), so a slow client never blocks
 * the node nor grows its memory.
 */
async function streamEvents(
  events: SwarmEvents,
  sink: StreamSink,
  o: { name: string | null; after: number | null; restarted: boolean; nameOf: (id: string) => string | null },
): Promise<void> {
  const push = (text: string): void => void sink.write(text);
  // Deliveries carry no `event:` line, so EventSource's onmessage gets them.
  const emit = (d: DeliveredEvent): void => {
    if (o.name === null || d.event.name === o.name) push(sseEvent(null, eventJson(d, o.nameOf), d.cursor));
  };
  push('retry: 2000\n\n');
  if (o.after !== null) {
    const { events: list, missed } = events.replay(o.after);
    if (missed > 0 || o.restarted)
      push(sseEvent('lost', { missed: o.restarted ? null : missed, restarted: o.restarted }));
    for (const d of list) emit(d);
  }
  // An id after the replay, so a client reconnecting before any new event resumes from here, not "now".
  push(sseEvent('ready', { cursor: events.lastCursor }, events.lastCursor));
  if (sink.signal.aborted) return;
  // Synchronous since the replay: no delivery can fall between the two.
  const unsubscribe = events.subscribe(emit);
  let unStop = (): void => {};
  try {
    await new Promise<void>((resolve) => {
      unStop = events.onStopping(resolve);
      sink.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    unsubscribe();
    unStop();
  }
}
