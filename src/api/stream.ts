/**
 * The API's one way to stream an answer (Server-Sent Events): the HTTP
 * adapter (server.ts) otherwise writes whole bodies. A route returns
 * `sseResponse(c, start)`, an ordinary empty 200 whose request is marked with
 * a starter; once the headers are out the adapter hands the starter a sink
 * over the socket. Everything a long-lived answer needs lives here, once:
 *
 * - back-pressure: `write` resolves once the socket took the chunk, so a
 *   route that awaits it (a watch pulling from its cursor, the dashboard
 *   building snapshots) holds one chunk per slow client; a route fed by pushes
 *   (swarm events from gossip) need not await, and what it writes while the
 *   socket is full is queued, up to `maxQueuedBytes`: past that the client is
 *   too slow, so the queue is dropped and the stream closed with an
 *   `event: closed` that says why (it reconnects with Last-Event-ID and
 *   resumes), so a client that stops reading never grows the node's memory;
 * - heartbeats: a comment after `heartbeat.everyMs` without a write keeps
 *   proxies from timing an idle stream out, and a write is what lets TCP find
 *   a client that vanished without a FIN (its retransmissions time out);
 * - the end: the sink's signal aborts when the client leaves, when the server
 *   stops (`OpenStreams`), or when the stream was closed as too slow, with the
 *   reason; the stream also ends when the starter returns;
 * - no leak: a HEAD request, or an answer replaced on its way out (an error
 *   after the route), runs the starter with an already aborted sink, so what
 *   the route opened for the stream (a watch cursor, a slot) is released.
 *
 * Long polls are ordinary JSON answers; `waitSignal(c)` is what they wait on
 * (aborted when the client leaves or the server stops).
 */
import type { Http1Response } from './http1/response.js';
import type { Context } from 'hono';

export interface StreamSink {
  /**
   * Resolves once the chunk was handed to the socket, or at once when the
   * stream has ended (writes are then dropped). Need not be awaited: see the
   * queue bound above.
   */
  write(chunk: string): Promise<void>;
  /** Aborted when the stream ends early; `reason` is a StreamEnd. */
  readonly signal: AbortSignal;
}

export type StreamStarter = (sink: StreamSink) => Promise<void>;

/** Why a stream ended before its starter returned. */
export type StreamEnd = 'client_gone' | 'server_stopping' | 'slow_client' | 'not_streamed';

export interface StreamOptions {
  /** Text (UTF-16 units) queued behind a full socket before the client counts as too slow. */
  maxQueuedBytes?: number;
  /** A comment written after `everyMs` without any other write (`text` is the whole SSE comment). */
  heartbeat?: { everyMs: number; text: string };
}

/** Default queue bound per stream: a client this far behind reconnects and resumes instead. */
/** SSE comment after 15 s of quiet (watch, task streams): proxies and clients see the stream alive. */
export const PING_STREAM: StreamOptions = { heartbeat: { everyMs: 15_000, text: ': ping\n\n' } };
/** How long one wait for KV events lasts in a stream (the heartbeat covers the quiet). */
export const STREAM_WAIT_MS = 3_600_000;

export const MAX_QUEUED_BYTES = 1024 * 1024;
/** How long a stream closed as too slow may still hold its socket for the client to read why. */
export const CLOSE_GRACE_MS = 10_000;

/**
 * Long-lived answers in progress (streams and long polls), each with the
 * function that ends it: a stopping server ends them rather than waiting for
 * their clients to leave.
 */
export type OpenStreams = Set<() => void>;

export interface PendingStream {
  readonly start: StreamStarter;
  readonly opts: StreamOptions;
}

/** Keyed by the request object hono was given: hono re-wraps the response of a HEAD, not the request. */
const pending = new WeakMap<object, PendingStream>();

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/** A 200 text/event-stream answer whose body `start` writes. */
export function sseResponse(c: Context, start: StreamStarter, opts: StreamOptions = {}): Response {
  pending.set(c.req.raw, { start, opts });
  return c.body(null, 200, { ...SSE_HEADERS });
}

export function takeStream(req: object): PendingStream | undefined {
  const s = pending.get(req);
  if (s !== undefined) pending.delete(req);
  return s;
}

/**
 * One SSE message, the only place its fields are laid out: `id:`, `event:`, `data:`, the wire
 * format docs/api.md shows (EventSource reads the fields in any order; the bytes stay one).
 * `data` is JSON on one line, so it needs no multi-line framing. `event` null writes no
 * `event:` line, so a browser EventSource hands the message to `onmessage`.
 */
export function sseEvent(event: string | null, data: unknown, id?: number | string): string {
  const idLine = id === undefined ? '' : `id: ${id}\n`;
  return `${idLine}${event === null ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;
}

/** What a long poll waits on: aborted when its client leaves or the server stops. */
export function waitSignal(c: Context): AbortSignal | undefined {
  return (c.req.raw as { waitSignal?: AbortSignal }).waitSignal ?? c.req.raw.signal ?? undefined;
}

const DONE = Promise.resolve();

/** Run a starter whose answer is not streamed (HEAD, or a response replaced): it only cleans up. */
export async function cancelStream(p: PendingStream): Promise<void> {
  const ac = new AbortController();
  ac.abort('not_streamed' satisfies StreamEnd);
  await p.start({ signal: ac.signal, write: () => DONE }).catch(() => undefined);
}

/**
 * Write the headers, then run the starter over a sink on `res` until it
 * returns or the stream ends early. Registered in `open` meanwhile.
 */
export async function runStream(
  res: Http1Response,
  status: number,
  headers: Iterable<[string, string]>,
  p: PendingStream,
  open: OpenStreams,
): Promise<void> {
  const max = p.opts.maxQueuedBytes ?? MAX_QUEUED_BYTES;
  const ac = new AbortController();
  /** What the route wrote while the socket was full, sent on its next drain. */
  let queued = '';
  /** Pending while the socket has not taken the last write; what writers wait on. */
  let drained: Promise<void> | null = null;
  let release: (() => void) | null = null;
  let ended = false;
  let heartbeat: NodeJS.Timeout | null = null;

  const unblock = (): void => {
    const r = release;
    release = null;
    drained = null;
    r?.();
  };
  const onDrain = (): void => {
    if (drained === null) return;
    if (queued !== '') {
      const text = queued;
      queued = '';
      if (!res.write(text)) return;
    }
    unblock();
  };
  /** Ends the stream once; `last` is written after what is queued, unless the queue is dropped. */
  const finish = (reason: StreamEnd | null, opts: { drop?: boolean; last?: string } = {}): void => {
    if (ended) return;
    ended = true;
    open.delete(stopping);
    if (heartbeat !== null) clearTimeout(heartbeat);
    res.off('close', onClose);
    res.off('drain', onDrain);
    const rest = opts.drop === true ? '' : queued;
    queued = '';
    unblock();
    if (reason !== null) ac.abort(reason);
    if (res.destroyed) return;
    res.end(rest + (opts.last ?? ''));
  };
  const onClose = (): void => finish('client_gone', { drop: true });
  const stopping = (): void => finish('server_stopping');
  const overflow = (): void => {
    finish('slow_client', {
      drop: true,
      last: sseEvent('closed', {
        reason: 'slow_client',
        message: `more than ${max} bytes waited for this client to read: reconnect to resume`,
      }),
    });
    // A client that reads nothing would hold the socket (and what is in its buffers) for good.
    const socket = res.socket;
    if (!res.writableFinished) {
      const t = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
      t.unref();
      socket.once('close', () => clearTimeout(t));
    }
  };

  res.on('close', onClose);
  res.on('drain', onDrain);
  open.add(stopping);
  res.writeHead(status, Object.fromEntries(headers));
  // Headers go out at once: an event stream's client must see them before the first event.
  res.flushHeaders();

  const hb = p.opts.heartbeat;
  if (hb !== undefined) {
    const beat = (): void => {
      if (ended) return;
      // Bytes still waiting for the socket already probe the client.
      if (drained === null && !res.write(hb.text)) drained = new Promise<void>((r) => (release = r));
      heartbeat?.refresh();
    };
    heartbeat = setTimeout(beat, hb.everyMs);
    heartbeat.unref();
  }

  const sink: StreamSink = {
    signal: ac.signal,
    write(chunk) {
      if (ended || chunk === '') return DONE;
      heartbeat?.refresh();
      if (drained !== null) {
        if (queued.length + chunk.length > max) {
          overflow();
          return DONE;
        }
        queued += chunk;
        return drained;
      }
      if (res.write(chunk)) return DONE;
      drained = new Promise<void>((r) => (release = r));
      return drained;
    },
  };
  try {
    await p.start(sink);
  } catch (err) {
    // Headers are out: the client sees the stream cut, not an error body.
    finish(null, { drop: true });
    res.destroy();
    throw err;
  }
  finish(null);
}
