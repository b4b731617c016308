/**
 * The API's one streaming mechanism (src/api/stream.ts) over the real
 * node:http adapter with the light globals, as in a daemon: a client that
 * stops reading never grows the node's memory (a pushing route is cut off
 * past the queue bound with a reason; an awaiting route just waits), idle
 * streams carry heartbeats, and a stream or long poll ends when its client
 * leaves or the server stops; a HEAD still releases what the route opened.
 */
import { request } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installLightFetchGlobals } from '../../src/api/light-fetch.js';
import { createServer, type Http1Server as Server } from '../../src/api/http1/server.js';
import { requestListener } from '../../src/api/server.js';
import {
  MAX_QUEUED_BYTES,
  sseResponse,
  waitSignal,
  type OpenStreams,
  type StreamOptions,
  type StreamSink,
} from '../../src/api/stream.js';

const CHUNK = 'x'.repeat(64 * 1024 - 1) + '\n';
/** Far more than loopback socket buffers and the queue bound hold together (64 MiB). */
const MAX_CHUNKS = 1024;

const saved = ['Headers', 'Response'].map(
  (k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)] as const,
);
let server: Server | null = null;
let open: OpenStreams = new Set();
const sockets: Socket[] = [];

beforeEach(() => installLightFetchGlobals());
afterEach(async () => {
  for (const [k, d] of saved) if (d) Object.defineProperty(globalThis, k, d);
  for (const s of sockets.splice(0)) s.destroy();
  for (const end of [...open]) end();
  const s = server;
  server = null;
  if (s) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(app: Hono): Promise<number> {
  open = new Set();
  const s = createServer(requestListener(app.fetch, { streams: open }));
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

/** A raw client that sends the request and reads nothing until told to. */
function stalledClient(port: number, path: string): { socket: Socket; readAll: () => Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.pause();
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: local\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`,
  );
  const readAll = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      socket.on('data', (d: Buffer) => parts.push(d));
      socket.once('end', () => resolve(Buffer.concat(parts).toString('latin1')));
      socket.once('error', reject);
      socket.resume();
    });
  return { socket, readAll };
}

async function until(what: string, f: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Seen {
  written: number;
  reason: unknown;
  done: boolean;
}

function streamRoute(
  app: Hono,
  path: string,
  body: (sink: StreamSink, seen: Seen) => Promise<void>,
  opts?: StreamOptions,
): Seen {
  const seen: Seen = { written: 0, reason: undefined, done: false };
  app.get(path, (c) =>
    sseResponse(
      c,
      async (sink) => {
        try {
          await body(sink, seen);
        } finally {
          seen.reason = sink.signal.aborted ? (sink.signal.reason as unknown) : null;
          seen.done = true;
        }
      },
      opts,
    ),
  );
  return seen;
}

/** The whole body of a GET, however long the server keeps it open. */
function getText(port: number, path: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (t += d));
      res.on('end', () => resolve(t));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('one streaming mechanism (src/api/stream.ts)', () => {
  it('a pushing route and a client that stops reading: bounded queue, then closed with a reason', async () => {
    const app = new Hono();
    // Writes without awaiting, as swarm events do for deliveries coming from gossip.
    const seen = streamRoute(app, '/push', async (sink, s) => {
      while (!sink.signal.aborted && s.written < MAX_CHUNKS) {
        void sink.write(CHUNK);
        s.written++;
        await tick();
      }
    });
    const port = await serve(app);
    const client = stalledClient(port, '/push');
    await until('the producer to stop', () => seen.done, 60_000);
    // Without the bound the producer runs to its cap (the queue holds everything it wrote).
    expect(seen.reason).toBe('slow_client');
    expect(seen.written).toBeLessThan(MAX_CHUNKS);
    console.log(
      `api-stream: a stalled client was cut off after ${seen.written} chunks of 64 KiB (queue bound ${MAX_QUEUED_BYTES} + socket buffers)`,
    );
    expect(open.size).toBe(0);
    // The client, reading at last, gets what the socket held, then why it was closed, then the end.
    const text = await client.readAll();
    expect(text.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(text).toMatch(/content-type: text\/event-stream; charset=utf-8\r\n/i);
    expect(text).toMatch(
      /event: closed\ndata: \{"reason":"slow_client","message":"more than 1048576 bytes waited for this client to read: reconnect to resume"\}\n\n\r\n0\r\n\r\n$/,
    );
  }, 90_000);

  it('an awaiting route and a client that stops reading: the route waits, nothing is dropped', async () => {
    const app = new Hono();
    const total = 320; // 20 MiB: more than the socket buffers hold.
    const seen = streamRoute(app, '/pull', async (sink, s) => {
      for (let i = 0; i < total && !sink.signal.aborted; i++) {
        await sink.write(CHUNK);
        s.written++;
      }
    });
    const port = await serve(app);
    const client = stalledClient(port, '/pull');
    // The writer stalls once the buffers are full, and stays there.
    let last = -1;
    await until(
      'the writer to stall',
      () => {
        const stalled = seen.written === last;
        last = seen.written;
        return stalled && seen.written > 0;
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.written).toBeLessThan(total);
    expect(seen.done).toBe(false);
    const text = await client.readAll();
    await until('the writer to finish', () => seen.done);
    expect(seen.reason).toBeNull();
    expect(seen.written).toBe(total);
    expect(text.split('x\n').length - 1).toBe(total);
    expect(text).not.toContain('event: closed');
  }, 90_000);

  it('idle streams carry heartbeat comments; the route ends the stream when it returns', async () => {
    const app = new Hono();
    streamRoute(
      app,
      '/idle',
      async (sink) => {
        await sink.write('retry: 1000\n\n');
        await new Promise((r) => setTimeout(r, 400));
        await sink.write('data: done\n\n');
      },
      { heartbeat: { everyMs: 50, text: ': hb\n\n' } },
    );
    const port = await serve(app);
    const body = await getText(port, '/idle');
    expect(body.startsWith('retry: 1000\n\n: hb\n\n')).toBe(true);
    expect(body.endsWith('data: done\n\n')).toBe(true);
    expect(body.replace(/(: hb\n\n)+/, '')).toBe('retry: 1000\n\ndata: done\n\n');
  });

  it('ends on client leave and on server stop (with the reason), and releases on HEAD', async () => {
    const app = new Hono();
    const forever = async (sink: StreamSink): Promise<void> => {
      await sink.write(': open\n\n');
      if (sink.signal.aborted) return;
      await new Promise<void>((r) => sink.signal.addEventListener('abort', () => r(), { once: true }));
    };
    const a = streamRoute(app, '/a', forever);
    let polled: AbortSignal | undefined;
    app.get('/poll', async (c) => {
      polled = waitSignal(c);
      await new Promise<void>((r) => polled?.addEventListener('abort', () => r(), { once: true }));
      return c.json({ events: [] });
    });
    const port = await serve(app);

    // The client leaves.
    const left = stalledClient(port, '/a');
    await until('the stream to be open', () => open.size === 1);
    left.socket.destroy();
    await until('the stream to end', () => a.done);
    expect(a.reason).toBe('client_gone');
    expect(open.size).toBe(0);

    // HEAD: headers only, and the route's starter ran, already ended, to release what it holds.
    a.done = false;
    const head = await new Promise<{ status: number; type: string | undefined }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/a', method: 'HEAD' }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(head).toEqual({ status: 200, type: 'text/event-stream; charset=utf-8' });
    await until('the HEAD starter to run', () => a.done);
    expect(a.reason).toBe('not_streamed');

    // The server stops: the stream ends at once (the client sees the end), so does a long poll.
    a.done = false;
    const staying = stalledClient(port, '/a');
    const poll = getText(port, '/poll');
    await until('a stream and a long poll open', () => open.size === 2 && polled !== undefined);
    for (const end of [...open]) end();
    expect(await poll).toBe('{"events":[]}');
    const text = await staying.readAll();
    expect(text).toMatch(/: open\n\n\r\n0\r\n\r\n$/);
    await until('the stream to end', () => a.done);
    expect(a.reason).toBe('server_stopping');
    expect(open.size).toBe(0);
  });
});
