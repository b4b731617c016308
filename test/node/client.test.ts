import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/client.js';
import { ApiRequestError, BadResponseError, NodeUnreachableError } from '../../src/client/errors.js';

let server: Server | null = null;
afterEach(async () => {
  const s = server;
  server = null;
  if (s) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A raw HTTP server on a free loopback port answering every request with `handler`. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
}

describe('SwarmClient failures are typed', () => {
  it('connection refused is NodeUnreachableError', async () => {
    const url = await serve((_q, r) => r.end());
    await new Promise((r) => server?.close(r));
    server = null;
    const err = await new SwarmClient({ baseUrl: url, timeoutMs: 2000 }).health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeUnreachableError);
    expect((err as Error).message).toBe(`no node answers at ${url} (connection refused)`);
  });

  it('a node that never answers times out as NodeUnreachableError', async () => {
    const url = await serve(() => undefined);
    const err = await new SwarmClient({ baseUrl: url, timeoutMs: 200 }).status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeUnreachableError);
    expect((err as Error).message).toContain('(timed out)');
  });

  it('a non-JSON or wrongly shaped answer is BadResponseError', async () => {
    const url = await serve((q, r) => {
      r.setHeader('content-type', 'application/json');
      r.end(q.url === '/v1/health' ? '{"status":"ok"}' : 'not json');
    });
    const c = new SwarmClient({ baseUrl: url });
    await expect(c.health()).rejects.toThrow(BadResponseError);
    await expect(c.health()).rejects.toThrow(/unexpected response from .*\/v1\/health: id /);
    await expect(c.status()).rejects.toThrow(/without a JSON body/);
  });

  it('an error body becomes ApiRequestError with status and code', async () => {
    const url = await serve((_q, r) => {
      r.statusCode = 409;
      r.setHeader('content-type', 'application/json');
      r.end('{"error":{"code":"conflict","message":"already there"}}');
    });
    const err = await new SwarmClient({ baseUrl: `${url}/` }).status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiRequestError);
    expect(err).toMatchObject({ status: 409, apiCode: 'conflict', message: 'already there' });
  });
});
