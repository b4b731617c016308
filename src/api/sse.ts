/**
 * Server-Sent Events over the node's own HTTP adapter (server.ts).
 *
 * Why not hono's streamSSE: it returns a web `ReadableStream` response, which
 * needs undici's classes (the daemon answers with light ones, light-fetch.ts)
 * and would be buffered whole by the adapter. Instead the adapter hands each
 * request's node:http objects to hono as `c.env` (`RawHttp`), a streaming route
 * writes the stream to them directly, and the adapter leaves a response whose
 * headers were already sent alone.
 *
 * Bounded: a client that stops reading is cut off once `MAX_BUFFERED_BYTES`
 * wait in its socket buffer (it reconnects with Last-Event-ID and replays
 * what the route still holds), and the server closes every open stream first
 * when it stops, so a connected watcher never delays a node's shutdown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { ApiError } from './app.js';

/** What server.ts passes as hono's env. */
export interface RawHttp {
  readonly incoming: IncomingMessage;
  readonly outgoing: ServerResponse;
  /** Closers of this server's open streams, run when it stops. */
  readonly streams: Set<() => void>;
}

/** A slow reader is cut off past this much unsent output. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** A comment line this often keeps proxies and NAT entries from timing the stream out. */
export const KEEPALIVE_MS = 15_000;

export interface SseStream {
  /** One event; false once the stream is closed (the caller unsubscribes). */
  send(data: string, opts?: { id?: string; event?: string }): boolean;
  comment(text: string): boolean;
  readonly closed: boolean;
  onClose(cb: () => void): void;
  close(): void;
}

function rawOf(c: Context): RawHttp | null {
  const env = c.env as Partial<RawHttp> | undefined;
  return env?.outgoing !== undefined && env.incoming !== undefined && env.streams !== undefined
    ? (env as RawHttp)
    : null;
}

/**
 * Start an SSE response on this request (status 200, `text/event-stream`).
 * The route then returns `streamed(c)`. 501 when the request did not come
 * through the node's adapter (hono's `app.request()` in tests).
 */
export function openSse(c: Context, opts: { retryMs?: number; keepaliveMs?: number } = {}): SseStream {
  const raw = rawOf(c);
  if (raw === null) throw new ApiError(501, 'streaming_unsupported', 'this server cannot stream responses');
  const res = raw.outgoing;
  const closers: (() => void)[] = [];
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    raw.streams.delete(close);
    if (!res.writableEnded) res.end();
    for (const cb of closers.splice(0)) {
      try {
        cb();
      } catch {
        // closing must finish for every subscriber
      }
    }
  };
  const write = (text: string): boolean => {
    if (closed) return false;
    res.write(text);
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      close();
      return false;
    }
    return true;
  };
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  // No Nagle delay: one event is one small write the client waits for.
  res.socket?.setNoDelay(true);
  raw.streams.add(close);
  raw.incoming.socket.once('close', close);
  res.once('close', close);
  const keepalive = setInterval(() => write(': keepalive\n\n'), opts.keepaliveMs ?? KEEPALIVE_MS);
  keepalive.unref();
  write(`retry: ${opts.retryMs ?? 2000}\n\n`);
  return {
    send(data, o = {}) {
      let text = '';
      if (o.event !== undefined) text += `event: ${o.event}\n`;
      if (o.id !== undefined) text += `id: ${o.id}\n`;
      // A data field cannot hold a newline: each line is its own `data:` (the client joins them with \n).
      for (const line of data.split('\n')) text += `data: ${line}\n`;
      return write(`${text}\n`);
    },
    comment(t) {
      return write(`: ${t.replace(/\n/g, ' ')}\n\n`);
    },
    get closed() {
      return closed;
    },
    onClose(cb) {
      if (closed) cb();
      else closers.push(cb);
    },
    close,
  };
}

/** What a streaming route returns: the adapter sees the headers already sent and writes nothing more. */
export function streamed(c: Context): Response {
  return c.body(null);
}
