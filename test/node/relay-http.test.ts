/** The follower's relay client: answers, refusals, and a kept-alive socket the server closed under it. */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayError, relayHttp } from '../../src/api/relay-http.js';

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  // The relay's agent keeps its sockets alive: end them, or close() would wait for them.
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const OK = (body: string): string =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: keep-alive\r\n\r\n${body}`;

/**
 * A raw HTTP server: `onRequest(n, socket)` runs for the n-th request (counted over all connections)
 * once its headers and body have arrived, and decides what to do with the socket.
 */
async function rawServer(onRequest: (n: number, s: net.Socket, text: string) => void): Promise<number> {
  let n = 0;
  const srv = net.createServer((s) => {
    sockets.push(s);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      const text = buf.slice(0, end + 4 + len);
      buf = buf.slice(end + 4 + len);
      onRequest(++n, s, text);
    });
    s.on('error', () => undefined);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}

const put = (port: number) => ({
  url: `http://127.0.0.1:${port}/v1/kv/k`,
  method: 'PUT',
  headers: { 'content-type': 'application/json' },
  body: '{"value":1}',
  timeoutMs: 2000,
});

describe('relayHttp', () => {
  it('returns status, content type and body, with a content-length body', async () => {
    let seen = '';
    const port = await rawServer((_n, s, text) => {
      seen = text;
      s.write(OK('{"ok":true}'));
    });
    const r = await relayHttp(put(port));
    expect(r).toEqual({ status: 200, contentType: 'application/json', text: '{"ok":true}' });
    expect(seen).toMatch(/^PUT \/v1\/kv\/k HTTP\/1.1/);
    expect(seen).toMatch(/content-length: 11/i);
    expect(seen.endsWith('{"value":1}')).toBe(true);
  });

  it('a refused connection is ECONNREFUSED (never sent)', async () => {
    const port = await rawServer(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    await expect(relayHttp(put(port))).rejects.toMatchObject({ name: 'RelayError', code: 'ECONNREFUSED' });
  });

  it('a kept-alive socket reset under the next request is retried on a new connection', async () => {
    const port = await rawServer((n, s) => {
      if (n === 2) s.resetAndDestroy();
      else s.write(OK(`{"n":${n}}`));
    });
    expect((await relayHttp(put(port))).text).toBe('{"n":1}');
    // The second request goes out on the kept-alive socket, which the server resets: sent again, answered.
    expect((await relayHttp(put(port))).text).toBe('{"n":3}');
  });

  it('a reset followed by a refusal is an unknown outcome, not "never sent"', async () => {
    let srv: net.Server | undefined;
    const port = await rawServer((n, s) => {
      if (n === 1) {
        s.write(OK('{}'));
        return;
      }
      // The server dies with the request read: the client must not take this for a refusal.
      srv = servers.pop();
      srv!.close();
      s.resetAndDestroy();
    });
    await relayHttp(put(port));
    const err = await relayHttp(put(port)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('EUNKNOWN');
  });
});
