import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApi, type ApiNode } from '../../src/api/app.js';
import { ApiServer } from '../../src/api/server.js';
import { SwarmClient } from '../../src/client/client.js';
import { NodeUnreachableError, UnauthorizedError } from '../../src/client/errors.js';
import { defaultConfig, type SwarmConfig } from '../../src/config/index.js';
import { SwarmNode, type NodeStatus } from '../../src/node/node.js';

function fakeNode(): ApiNode & { shutdowns: string[] } {
  const shutdowns: string[] = [];
  const status: NodeStatus = {
    id: 'abcdef0123456789',
    name: 'n1',
    device_class: 'standard',
    role: 'standalone',
    term: 0,
    leader: null,
    commit_index: 0,
    applied_index: 0,
    voters: [],
    learners: [],
    cluster: null,
    waiting: null,
    merge: null,
    addresses: { gossip: null, api: '127.0.0.1:1', raft: null },
    uptime_s: 3,
    version: '0.0.0',
    pid: 1,
    data_dir: '/d',
    security: { gossip_encrypted: false, note: 'gossip unencrypted', refused_peers: [] },
  };
  return {
    id: status.id,
    state: 'running',
    status: () => status,
    requestShutdown: (r) => shutdowns.push(r),
    shutdowns,
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('REST API (in-process)', () => {
  it('GET /v1/status returns the node status, with the unencrypted-gossip note', async () => {
    const res = await createApi(fakeNode()).request('/v1/status');
    expect(res.status).toBe(200);
    const body = (await res.json()) as NodeStatus;
    expect(body.id).toBe('abcdef0123456789');
    expect(body.security).toEqual({ gossip_encrypted: false, note: 'gossip unencrypted', refused_peers: [] });
  });

  it('GET /v1/health answers ok', async () => {
    const res = await createApi(fakeNode()).request('/v1/health');
    expect(await res.json()).toEqual({ status: 'ok', id: 'abcdef0123456789', state: 'running' });
  });

  it('unknown routes are 404 with a JSON error', async () => {
    const res = await createApi(fakeNode()).request('/v1/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /v1/nope' } });
  });

  it('bad input is a 400 with a JSON error and does not shut down', async () => {
    const node = fakeNode();
    const app = createApi(node);
    const badJson = await app.request('/v1/shutdown', { method: 'POST', body: '{nope' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { code: string } }).error.code).toBe('bad_json');
    const badShape = await app.request('/v1/shutdown', { method: 'POST', body: '{"reason": 5}' });
    expect(badShape.status).toBe(400);
    expect(((await badShape.json()) as { error: { message: string } }).error.message).toMatch(/^reason: /);
    const extra = await app.request('/v1/shutdown', { method: 'POST', body: '{"force": true}' });
    expect(extra.status).toBe(400);
    await tick();
    expect(node.shutdowns).toEqual([]);
  });

  it('POST /v1/shutdown accepts and then asks the node to stop', async () => {
    const node = fakeNode();
    const res = await createApi(node).request('/v1/shutdown', { method: 'POST', body: '{"reason":"test"}' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: 'stopping', id: 'abcdef0123456789' });
    await tick();
    expect(node.shutdowns).toEqual(['test']);
  });

  it('with api_token set, mutating requests need the bearer token (GETs do not)', async () => {
    const node = fakeNode();
    const app = createApi(node, { apiToken: 's3cret' });
    expect((await app.request('/v1/status')).status).toBe(200);
    const none = await app.request('/v1/shutdown', { method: 'POST' });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const wrong = await app.request('/v1/shutdown', {
      method: 'POST',
      headers: { Authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    // Unknown mutating routes are refused before routing, so they reveal nothing without the token.
    expect((await app.request('/v1/anything', { method: 'DELETE' })).status).toBe(401);
    await tick();
    expect(node.shutdowns).toEqual([]);
    const ok = await app.request('/v1/shutdown', {
      method: 'POST',
      headers: { Authorization: 'Bearer s3cret' },
    });
    expect(ok.status).toBe(202);
    await tick();
    expect(node.shutdowns).toEqual(['api']);
  });
});

describe('ApiServer + SwarmClient over loopback', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function config(token = ''): SwarmConfig {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-api-test-'));
    dirs.push(dir);
    const c = defaultConfig();
    c.node.data_dir = dir;
    c.node.name = 'loop';
    c.api.port = 0;
    c.security.api_token = token;
    return c;
  }

  it('client reads status and health, shutdown emits the event, and a stopped node is unreachable', async () => {
    const node = new SwarmNode(config('tok'));
    node.register(new ApiServer());
    await node.start();
    const api = node.status().addresses.api;
    expect(api).toMatch(/^127\.0\.0\.1:\d+$/);
    const client = new SwarmClient({ baseUrl: `http://${api}`, token: 'tok', timeoutMs: 2000 });
    const s = await client.status();
    expect(s.name).toBe('loop');
    expect(s.id).toMatch(/^[0-9a-f]{16}$/);
    expect((await client.health()).status).toBe('ok');

    const noToken = new SwarmClient({ baseUrl: `http://${api}`, timeoutMs: 2000 });
    await expect(noToken.shutdown()).rejects.toBeInstanceOf(UnauthorizedError);

    const asked = new Promise<string>((r) => node.once('shutdown', r));
    await client.shutdown('bye');
    expect(await asked).toBe('bye');
    await node.stop();
    await expect(client.status()).rejects.toBeInstanceOf(NodeUnreachableError);
  });

  it('a port in use is a clear start error and releases the data dir', async () => {
    const a = new SwarmNode(config());
    a.register(new ApiServer());
    await a.start();
    const port = Number(a.status().addresses.api?.split(':')[1]);
    const cb = config();
    cb.api.port = port;
    const b = new SwarmNode(cb);
    b.register(new ApiServer());
    await expect(b.start()).rejects.toThrow(`api port 127.0.0.1:${port} is in use`);
    expect(b.state).toBe('stopped');
    // The failed node released its lock: a fresh node on the same data dir starts.
    cb.api.port = 0;
    const c = new SwarmNode(cb);
    c.register(new ApiServer());
    await c.start();
    await c.stop();
    await a.stop();
  });
});
