/**
 * HTTP for tests of the API layer: a raw node:http request, and apps served
 * as a daemon serves them: the light fetch globals installed
 * (src/api/light-fetch.ts) and the request adapter (src/api/server.ts) on the
 * API's own HTTP/1.1 server (src/api/http1/) on a loopback port.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach } from 'vitest';
import { createServer, type Http1Server as Server } from '../../src/api/http1/server.js';
import { installLightFetchGlobals } from '../../src/api/light-fetch.js';
import { requestListener, type OpenStreams } from '../../src/api/server.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to 127.0.0.1:`port`; the whole body as UTF-8 text. */
export function send(
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

type FetchApp = { fetch: Parameters<typeof requestListener>[0] };

export interface LightServer {
  /** Serve `app` (a hono app, or any fetch handler) on a fresh loopback port (one server per test); resolves with the port. */
  serve(app: FetchApp): Promise<number>;
  /** The streams open on the current server (src/api/stream.ts): a test ends them as a stopping server does. */
  readonly open: OpenStreams;
}

/**
 * Registers, in the calling describe block (or file), the hooks of a test
 * that serves apps as a daemon: the light globals before each test, and after
 * it the globals restored, every open stream ended and the server closed.
 */
export function useLightServer(): LightServer {
  const saved = ['Headers', 'Response'].map(
    (k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)] as const,
  );
  let server: Server | null = null;
  let open: OpenStreams = new Set();
  beforeEach(() => installLightFetchGlobals());
  afterEach(async () => {
    for (const [k, d] of saved) if (d) Object.defineProperty(globalThis, k, d);
    for (const end of [...open]) end();
    const s = server;
    server = null;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
  return {
    async serve(app: FetchApp): Promise<number> {
      open = new Set();
      const s = createServer(requestListener(app.fetch, { streams: open }));
      server = s;
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      return (s.address() as AddressInfo).port;
    },
    get open(): OpenStreams {
      return open;
    },
  };
}
