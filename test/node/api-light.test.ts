/**
 * The API served without undici: the light Headers/Response a node daemon
 * installs, the node:http adapter, and a real daemon that answers its API
 * without ever loading undici; a detached daemon that does not load zod,
 * prom-client nor commander until /metrics is scraped.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApi, type ApiNode } from '../../src/api/app.js';
import { installLightFetchGlobals, LightHeaders, LightResponse } from '../../src/api/light-fetch.js';
import { createServer, type Http1Server as Server } from '../../src/api/http1/server.js';
import { requestListener } from '../../src/api/server.js';
import { runSwarm, SWARM_BIN } from '../helpers/run-swarm.js';
import { moduleTraceNodeOptions } from '../helpers/module-trace.js';

describe('LightHeaders', () => {
  it('is case-insensitive, combines repeated names, keeps set-cookie apart, iterates sorted', () => {
    const h = new LightHeaders({ 'X-B': '1', 'set-cookie': ['a=1', 'b=2'] });
    h.append('x-b', '2');
    h.set('Content-Type', 'application/json');
    expect(h.get('x-B')).toBe('1, 2');
    expect(h.has('CONTENT-TYPE')).toBe(true);
    expect(h.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect([...h]).toEqual([
      ['content-type', 'application/json'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['x-b', '1, 2'],
    ]);
    h.delete('X-B');
    expect(h.get('x-b')).toBeNull();
    expect(new LightHeaders(h).get('content-type')).toBe('application/json');
  });
});

describe('LightResponse', () => {
  it('holds text or bytes, defaults a text content type, and reads its body once', async () => {
    const r = new LightResponse('héllo', { status: 201, headers: { 'x-a': '1' } });
    expect(r.status).toBe(201);
    expect(r.ok).toBe(true);
    expect(r.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(await r.clone().text()).toBe('héllo');
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(new Uint8Array(Buffer.from('héllo')));
    await expect(r.text()).rejects.toThrow(/already used/);
    expect(await new LightResponse(new Uint8Array([123, 125])).json()).toEqual({});
    expect(new LightResponse(null, { status: 404 }).ok).toBe(false);
    expect(() => new LightResponse('x', { status: 99 })).toThrow(RangeError);
    expect(() => new LightResponse(new Blob(['x']))).toThrow(/unsupported response body/);
  });
});

function fakeNode(): ApiNode & { shutdowns: string[] } {
  const shutdowns: string[] = [];
  return {
    id: 'n1',
    state: 'running',
    status: () => {
      throw new Error('not used');
    },
    requestShutdown: (r) => shutdowns.push(r),
    shutdowns,
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
) {
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

describe('API over node:http with the light globals installed', () => {
  const saved = ['Headers', 'Response'].map(
    (k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)] as const,
  );
  let server: Server | null = null;

  beforeEach(() => installLightFetchGlobals());
  afterEach(async () => {
    for (const [k, d] of saved) if (d) Object.defineProperty(globalThis, k, d);
    const s = server;
    server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  });

  async function serve(app: Hono): Promise<number> {
    const s = createServer(requestListener(app.fetch));
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return (s.address() as AddressInfo).port;
  }

  it('hono answers with light responses that the adapter writes: status, headers, body, HEAD', async () => {
    const node = fakeNode();
    const app = createApi(node, {
      apiToken: 't0ken',
      routes: [
        (a) => {
          a.get('/echo/:name', (c) =>
            c.json({ name: c.req.param('name'), q: c.req.query('q'), ua: c.req.header('x-agent') }, 200, {
              'set-cookie': ['a=1', 'b=2'],
            }),
          );
          a.get('/plain', (c) => c.text('plain text'));
        },
      ],
    });
    expect(await app.fetch(new LightRequestStub('/plain') as unknown as Request)).toBeInstanceOf(
      LightResponse,
    );
    const port = await serve(app);

    const echo = await send(port, 'GET', '/echo/x%20y?q=1', undefined, { 'X-Agent': 'test' });
    expect(echo.status).toBe(200);
    expect(echo.headers['content-type']).toBe('application/json');
    expect(echo.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(JSON.parse(echo.body)).toEqual({ name: 'x y', q: '1', ua: 'test' });
    expect(Number(echo.headers['content-length'])).toBe(Buffer.byteLength(echo.body));

    const plain = await send(port, 'GET', '/plain');
    expect(plain.headers['content-type']).toMatch(/^text\/plain/);
    expect(plain.body).toBe('plain text');

    const head = await send(port, 'HEAD', '/echo/h');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');

    const missing = await send(port, 'GET', '/nope');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ error: { code: 'not_found', message: 'no route GET /nope' } });

    const noToken = await send(port, 'POST', '/v1/shutdown', '{}');
    expect(noToken.status).toBe(401);
    expect(noToken.headers['www-authenticate']).toBe('Bearer');

    const bad = await send(port, 'POST', '/v1/shutdown', '{nope', { authorization: 'Bearer t0ken' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'bad_json' } });

    const ok = await send(port, 'POST', '/v1/shutdown', '{"reason":"test"}', {
      authorization: 'Bearer t0ken',
    });
    expect(ok.status).toBe(202);
    await new Promise((r) => setImmediate(r));
    expect(node.shutdowns).toEqual(['test']);
  });

  it('a handler that fails outside hono still gets a JSON 500', async () => {
    const s = createServer(
      requestListener(() => {
        throw new Error('boom');
      }),
    );
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const res = await send((s.address() as AddressInfo).port, 'GET', '/');
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'internal', message: 'boom' } });
  });
});

/** The least a hono app reads from a request, for calling app.fetch directly. */
class LightRequestStub {
  readonly method = 'GET';
  readonly headers = new LightHeaders();
  readonly url: string;
  constructor(path: string) {
    this.url = `http://localhost${path}`;
  }
}

describe('a node daemon', () => {
  it('serves its API without loading undici', async () => {
    const root = mkdtempSync(join(tmpdir(), 'swarm-light-'));
    const report = join(root, 'modules.txt');
    const config = join(root, 'config.toml');
    writeFileSync(
      config,
      '[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n',
    );
    // Preloaded into the daemon: at exit, the list of the Node internals it loaded.
    const preload = `data:text/javascript,${encodeURIComponent(
      `import { writeFileSync } from 'node:fs'; process.on('exit', () => writeFileSync(${JSON.stringify(report)}, process.moduleLoadList.join('\\n')));`,
    )}`;
    const dataDir = join(root, 'd');
    const child = spawn(
      process.execPath,
      [
        '--import',
        preload,
        SWARM_BIN,
        '--config',
        config,
        'node',
        'start',
        '--foreground',
        '--data-dir',
        dataDir,
      ],
      { stdio: 'ignore', env: { ...process.env, SWARM_CONFIG: '' } },
    );
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let api = '';
      for (let i = 0; i < 300 && api === ''; i++) {
        try {
          api = (JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8')) as { api_url: string }).api_url;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const port = Number(new URL(api).port);
      let status: Reply | null = null;
      for (let i = 0; i < 100 && status?.status !== 200; i++) {
        status = await send(port, 'GET', '/v1/status').catch(() => null);
        if (status?.status !== 200) await new Promise((r) => setTimeout(r, 50));
      }
      expect(status?.status).toBe(200);
      expect((await send(port, 'GET', '/v1/members')).status).toBe(200);
      expect((await send(port, 'GET', '/v1/energy')).status).toBe(200);
      const metrics = await send(port, 'GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain('swarm_gossip_members');
      expect((await send(port, 'GET', '/v1/nope')).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    try {
      const modules = readFileSync(report, 'utf8').split('\n');
      expect(modules).toContain('NativeModule http');
      expect(modules.filter((m) => m.includes('undici'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('a detached node daemon', () => {
  it('runs without zod, prom-client or commander; the first /metrics scrape loads prom-client', async () => {
    const root = mkdtempSync(join(tmpdir(), 'swarm-lean-'));
    const config = join(root, 'config.toml');
    writeFileSync(
      config,
      '[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n\n[security]\napi_token = "t0ken"\n',
    );
    // A resolve hook in every process of the test's tree: each appends the URLs it loads to modules.<pid>.
    const dataDir = join(root, 'd');
    const env = {
      SWARM_CONFIG: '',
      NODE_OPTIONS: moduleTraceNodeOptions(`${JSON.stringify(join(root, 'modules.'))} + process.pid`),
    };
    const packages = (pid: number): string[] => {
      const urls = readFileSync(join(root, `modules.${pid}`), 'utf8').split('\n');
      const names = urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]);
      return [...new Set(names.filter((n): n is string => n !== undefined))].sort();
    };
    let pid = 0;
    try {
      const started = await runSwarm(['--config', config, 'node', 'start', '--json', '--data-dir', dataDir], {
        env,
      });
      expect(started.stderr).toBe('');
      expect(started.code).toBe(0);
      const rt = JSON.parse(started.stdout) as { pid: number; api_url: string };
      pid = rt.pid;
      // The config the daemon runs with is handed over, secrets included, readable by its owner only.
      const handed = join(dataDir, 'config.resolved.json');
      expect(statSync(handed).mode & 0o777).toBe(0o600);
      expect(readFileSync(handed, 'utf8')).toContain('"t0ken"');
      const port = Number(new URL(rt.api_url).port);
      expect((await send(port, 'GET', '/v1/members')).status).toBe(200);
      const put = await send(port, 'PUT', '/v1/kv/a', '{"value":1,"x":2}', { authorization: 'Bearer t0ken' });
      expect(put.status).toBe(400);
      expect(JSON.parse(put.body)).toEqual({
        error: { code: 'bad_request', message: 'Unrecognized key: "x"' },
      });

      const idle = packages(pid);
      // hono is in the bundle a built tree spawns (dist/daemon.cjs), else resolved from node_modules.
      const bundled = readFileSync(join(root, `modules.${pid}`), 'utf8').includes('/dist/daemon.cjs');
      if (!bundled) expect(idle).toContain('hono');
      expect(idle.filter((p) => ['zod', 'prom-client', 'commander', 'smol-toml'].includes(p))).toEqual([]);

      const metrics = await send(port, 'GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(metrics.body).toMatch(/^swarm_raft_fsync_seconds_bucket\{le="\+Inf"\} \d+$/m);
      expect(metrics.body).toContain('swarm_gossip_members');
      expect(metrics.body).toContain('swarm_energy_');
      expect(packages(pid)).toContain('prom-client');
      expect(packages(pid)).not.toContain('zod');

      const stopped = await runSwarm(['--config', config, 'node', 'stop', '--data-dir', dataDir], { env });
      expect(stopped.code).toBe(0);
      pid = 0;
    } finally {
      if (pid !== 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      rmSync(root, { recursive: true, force: true });
    }
  });
});
