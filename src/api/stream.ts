/**
 * Streamed answers (Server-Sent Events) through the API's own node:http
 * adapter (server.ts), which otherwise writes whole bodies: a route returns
 * an ordinary empty response marked with a starter, and the adapter hands
 * the starter a sink over the socket once the headers are out. A stream ends
 * when its starter returns, or when the client goes away (the sink's signal).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';

export interface StreamSink {
  /** Resolves once the chunk is handed to the socket (waits for drain under back-pressure). */
  write(chunk: string): Promise<void>;
  /** Aborted when the client disconnects or the server stops. */
  readonly signal: AbortSignal;
}

export type StreamStarter = (sink: StreamSink) => Promise<void>;

const starters = new WeakMap<object, StreamStarter>();

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/** A 200 text/event-stream answer whose body `start` writes. */
export function sseResponse(c: Context, start: StreamStarter): Response {
  const r = c.body(null, 200, { ...SSE_HEADERS });
  starters.set(r, start);
  return r;
}

export function takeStream(r: object): StreamStarter | undefined {
  const s = starters.get(r);
  if (s !== undefined) starters.delete(r);
  return s;
}

/** One SSE event; `data` is JSON on one line, so it needs no multi-line framing. */
export function sseEvent(event: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export async function runStream(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Iterable<[string, string]>,
  start: StreamStarter,
): Promise<void> {
  const ac = new AbortController();
  const abort = (): void => ac.abort();
  res.once('close', abort);
  req.socket.setTimeout(0);
  res.writeHead(status, Object.fromEntries(headers));
  res.flushHeaders();
  const sink: StreamSink = {
    signal: ac.signal,
    write: (chunk) =>
      new Promise<void>((resolve) => {
        if (ac.signal.aborted || res.writableEnded) return resolve();
        if (res.write(chunk)) return resolve();
        const done = (): void => {
          res.off('drain', done);
          ac.signal.removeEventListener('abort', done);
          resolve();
        };
        res.once('drain', done);
        ac.signal.addEventListener('abort', done, { once: true });
      }),
  };
  try {
    await start(sink);
  } finally {
    res.off('close', abort);
    if (!res.writableEnded) res.end();
  }
}
