/**
 * Bounded input on the REST API (issue #14, items 6, 7, 9): bodies refused
 * from their Content-Length or as soon as a chunked stream passes the limit
 * (413), JSON too deep or with non-finite numbers (400, nothing proposed),
 * keys with bad percent escapes and bodies that are not UTF-8 (400).
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createApi, type ApiNode } from '../../src/api/app.js';
import {
  MAX_BODY_BYTES,
  MAX_VALUE_DEPTH,
  decodeUtf8,
  findNonFinite,
  jsonDepth,
  parseBoundedJson,
  strictPathKey,
} from '../../src/api/body-checks.js';
import { kvRoutes } from '../../src/api/routes/kv.js';
import { createServer, type Http1Server as Server } from '../../src/api/http1/server.js';
import { requestListener } from '../../src/api/server.js';
import type { WriteOp } from '../../src/node/raft-forward.js';
import type { RaftComponent } from '../../src/node/raft-component.js';

describe('body-checks limits', () => {
  it('counts nesting without parsing, ignoring brackets inside strings', () => {
    expect(jsonDepth('{"a":[1,[2]]}', 10)).toBe(3);
    expect(jsonDepth('{"a":"[[[[\\"[["}', 10)).toBe(1);
    expect(jsonDepth('['.repeat(5000) + ']'.repeat(5000), 64)).toBe(Infinity);
  });

  it('finds non-finite numbers with their path', () => {
    expect(findNonFinite(JSON.parse('{"value":{"a":[1,1e999]}}'), '')).toBe('value.a[1]');
    expect(findNonFinite({ value: [1, 2, { b: 'x' }] }, '')).toBeNull();
  });

  it('parses within the limits and refuses beyond them', () => {
    const deep = (n: number): string => `{"value":${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(parseBoundedJson(deep(MAX_VALUE_DEPTH))).toBeTruthy();
    expect(() => parseBoundedJson(deep(MAX_VALUE_DEPTH + 1))).toThrow(/deeper than 64/);
    expect(() => parseBoundedJson('{"value": -1e999}')).toThrow(/value: number out of range/);
    expect(() => parseBoundedJson('{"value": ')).toThrow(SyntaxError);
  });

  it('decodes keys and bodies strictly', () => {
    expect(strictPathKey('http://h/v1/kv/a%2Fb%20c?x=1', '/v1/kv/')).toBe('a/b c');
    expect(strictPathKey('http://h/v1/kv/a%zz', '/v1/kv/')).toBeNull();
    expect(strictPathKey('http://h/v1/kv/a%ff', '/v1/kv/')).toBeNull();
    expect(strictPathKey('http://h/v1/other', '/v1/kv/')).toBeUndefined();
    expect(decodeUtf8(Buffer.from('héllo'))).toBe('héllo');
    expect(decodeUtf8(Uint8Array.of(0x7b, 0xff, 0x7d))).toBeNull();
  });
});

/** A RaftComponent stand-in that records proposals: a refused request must propose nothing. */
function fakeRaft(): { raft: RaftComponent; puts: unknown[][]; deletes: string[] } {
  const puts: unknown[][] = [];
  const deletes: string[] = [];
  const fake = {
    selfId: 'n1',
    requestTimeoutMs: 1000,
    electionTimeoutMs: 1000,
    peers: new Map(),
    // Writes reach the cluster through the forwarder (src/node/raft-forward.ts): record what it is asked.
    forward: {
      write: (op: WriteOp) => {
        if (op.op === 'delete') {
          deletes.push(op.key);
          return Promise.resolve({ kind: 'delete', deleted: true, revision: 1 });
        }
        puts.push([op.key, op.value, op.prevRevision]);
        return Promise.resolve({ kind: 'put', revision: puts.length });
      },
      linearize: () => Promise.resolve(),
    },
    get: () => Promise.resolve(null),
  };
  return { raft: fake as unknown as RaftComponent, puts, deletes };
}

const node: ApiNode = {
  id: 'n1',
  state: 'running',
  status: () => ({}) as ReturnType<ApiNode['status']>,
  requestShutdown: () => {},
};

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      const closed = new Promise((r) => s.close(r));
      s.closeAllConnections();
      return closed;
    }),
  );
});

async function serve(app: Hono): Promise<number> {
  const s = createServer(requestListener(app.fetch));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request; `chunks` are written one by one (chunked unless a content-length header is given). */
function send(
  port: number,
  method: string,
  path: string,
  chunks: Iterable<Buffer | string>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    // The server may close while we still write a refused body: the answer is what counts.
    req.on('error', (e) => reject(e));
    const it = chunks[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        const n = it.next();
        if (n.done) {
          req.end();
          return;
        }
        if (req.destroyed) return;
        if (!req.write(n.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

function* repeat(chunk: Buffer, times: number): Generator<Buffer> {
  for (let i = 0; i < times; i++) yield chunk;
}

describe('the API refuses what it should not read, parse or store', () => {
  it('413 from Content-Length, before the body is read', async () => {
    let read = false;
    const app = new Hono();
    app.put('/x', async (c) => {
      read = true;
      return c.text(await c.req.text());
    });
    const port = await serve(app);
    // The header alone: the server must answer without waiting for the 20 MB.
    const r = await send(port, 'PUT', '/x', [], { 'content-length': String(20 * 1024 * 1024) });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'too_large' } });
    expect(read).toBe(false);
  });

  it('413 as soon as a chunked body passes the limit, without buffering it', async () => {
    const app = createApi(node, { routes: [kvRoutes(fakeRaft().raft)] });
    const port = await serve(app);
    // 64 KiB chunks, 3,200 of them = 200 MB at most; the answer comes after the first few.
    const r = await send(port, 'PUT', '/v1/kv/k', repeat(Buffer.alloc(64 * 1024, 0x20), 3200)).catch(
      (e: Error) => ({ status: -1, body: e.message, headers: {} }),
    );
    expect(r.status).toBe(413);
    expect(r.body).toContain(`exceeds ${MAX_BODY_BYTES} bytes`);
  });

  it('400 for non-finite numbers and deep nesting; nothing proposed', async () => {
    const f = fakeRaft();
    const port = await serve(createApi(node, { routes: [kvRoutes(f.raft)] }));
    for (const body of [
      '{"value": 1e999}',
      '{"value": {"a": [-1e400]}}',
      `{"value": ${'['.repeat(5000)}${']'.repeat(5000)}}`,
    ]) {
      const r = await send(port, 'PUT', '/v1/kv/k', [body], { 'content-type': 'application/json' });
      expect(r.status, body.slice(0, 30)).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'bad_request' } });
    }
    expect(f.puts).toEqual([]);
    const ok = await send(port, 'PUT', '/v1/kv/k', ['{"value": 1e300}']);
    expect(ok.status).toBe(200);
    expect(f.puts).toEqual([['k', 1e300, undefined]]);
  });

  it('400 for keys with bad escapes and bodies that are not UTF-8; good escapes decode', async () => {
    const f = fakeRaft();
    const port = await serve(createApi(node, { routes: [kvRoutes(f.raft)] }));
    for (const path of ['/v1/kv/a%zz', '/v1/kv/a%', '/v1/kv/%ff%fe']) {
      const r = await send(port, 'PUT', path, ['{"value":1}']);
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'bad_key' } });
      expect((await send(port, 'DELETE', path, [])).status).toBe(400);
      expect((await send(port, 'GET', path, [])).status).toBe(400);
    }
    const bad = await send(port, 'PUT', '/v1/kv/k', [
      Buffer.from([0x7b, 0x22, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    ]);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'bad_utf8' } });
    expect(f.puts).toEqual([]);
    const ok = await send(port, 'PUT', '/v1/kv/a%25zz%2F%C3%A9', ['{"value":"é"}']);
    expect(ok.status).toBe(200);
    expect(f.puts).toEqual([['a%zz/é', 'é', undefined]]);
  });
});
