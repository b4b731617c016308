/**
 * The API server tells a route that its client went away (the connection closed before the answer was
 * written): `abandoned` (the flag a KV write's forwarder reads) and `signal`, whether the route
 * made the signal before or after the client left.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Http1Server as Server } from '../../src/api/http1/server.js';
import { requestListener } from '../../src/api/server.js';

let server: Server | null = null;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = null;
});

type Seen = { before: boolean; abandoned: boolean; early: boolean; late: boolean };

async function serve(): Promise<{ port: number; seen: Promise<Seen> }> {
  let done!: (s: Seen) => void;
  const seen = new Promise<Seen>((r) => (done = r));
  server = createServer(
    requestListener(async (req) => {
      const r = req as unknown as { abandoned: boolean; signal: AbortSignal };
      const before = r.abandoned;
      const early = req.url.endsWith('/early') ? r.signal : null;
      while (!r.abandoned) await new Promise((x) => setTimeout(x, 5));
      done({ before, abandoned: r.abandoned, early: early?.aborted ?? true, late: r.signal.aborted });
      return new Response('late') as never;
    }),
  );
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, seen };
}

describe('API server: a client that leaves', () => {
  for (const path of ['/early', '/late']) {
    it(`marks the request abandoned and aborts its signal (signal made ${path.slice(1)})`, async () => {
      const { port, seen } = await serve();
      const req = request({ host: '127.0.0.1', port, path, method: 'GET' });
      req.on('error', () => undefined);
      req.end();
      await new Promise((r) => setTimeout(r, 50));
      req.destroy();
      expect(await seen).toEqual({ before: false, abandoned: true, early: true, late: true });
    });
  }
});
