/**
 * `swarm task stop` (waits) and `swarm task logs -f` (the compiled binary,
 * `npm run build` first) against fake nodes on loopback: a node with the task
 * streams (it sends the view that never stops: the wait ends at its deadline,
 * kill_timeout_s + 15 s, exit 1), and a node older than them (plain JSON for
 * `?watch=true` and `?follow=true`): the CLI falls back to reading the plain
 * routes again, as before the streams.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskLogsResponse, TaskStatusResponse } from '../../src/api/routes/tasks-types.js';
import { runSwarm, watchSwarm } from '../helpers/run-swarm.js';

let root: string;
const servers: Server[] = [];
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-task-wait-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const env = (): NodeJS.ProcessEnv => ({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), SWARM_CONFIG: '' });

function view(state: 'running' | 'stopped', killTimeoutS = 0): TaskStatusResponse {
  return {
    name: 'x',
    desired: 'stop',
    spec: {
      name: 'x',
      command: ['sleep', '100'],
      env: {},
      count: 1,
      constraints: { labels: [], device_classes: [] },
      restart: 'never',
      backoff_ms: 1000,
      backoff_max_ms: 60000,
      max_restarts: 10,
      energy: 'any',
      power_w: 0,
      kill_timeout_s: killTimeoutS,
    },
    submitted: '2026-12-07T07:00:00.000Z',
    running: state === 'running' ? 1 : 0,
    allocations: [
      {
        id: 'x.0',
        node: 'n1',
        node_name: 'n1',
        desired: 'stop',
        reason: 'stopped by request',
        replaces: null,
        state,
        pid: state === 'running' ? 4242 : null,
        exit_code: null,
        signal: null,
        restarts: 0,
        message: '',
        since: '2026-12-07T07:00:00.000Z',
      },
    ],
    explanation: null,
  };
}

async function fakeNode(
  handle: (req: IncomingMessage, res: ServerResponse, url: URL) => void,
): Promise<string> {
  const s = createServer((req, res) => handle(req, res, new URL(req.url ?? '/', 'http://x')));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const json = (res: ServerResponse, body: unknown): void => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('swarm task stop (waits)', () => {
  it('an older node (no watch stream): reads the view again until stopped', async () => {
    let reads = 0;
    let watchAsked = false;
    const api = await fakeNode((req, res, url) => {
      if (req.method === 'POST') return json(res, view('running'));
      if (url.searchParams.get('watch') === 'true') watchAsked = true;
      reads++;
      json(res, view(reads >= 3 ? 'stopped' : 'running'));
    });
    const r = await runSwarm(['task', 'stop', 'x', '--api', api], { env: env(), timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('task x stopped (1 allocation)\n');
    expect(watchAsked).toBe(true);
    expect(reads).toBeGreaterThanOrEqual(3);
  }, 90_000);

  it('a stream that never shows the replicas stopped: exit 1 at kill_timeout_s + 15 s, naming them', async () => {
    let plainReads = 0;
    const api = await fakeNode((req, res, url) => {
      if (req.method === 'POST') return json(res, view('running'));
      if (url.searchParams.get('watch') !== 'true') {
        plainReads++;
        return json(res, view('running'));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: task\ndata: ${JSON.stringify(view('running'))}\n\n`);
    });
    const t0 = Date.now();
    const r = await runSwarm(['task', 'stop', 'x', '--api', api], { env: env(), timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 allocation\(s\) not confirmed stopped yet/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(14_000);
    // The stream was the whole wait: no plain read in a loop.
    expect(plainReads).toBe(0);
  }, 90_000);
});

describe('swarm task logs -f', () => {
  it('an older node (no follow stream): reads on from next_offset until Ctrl+C', async () => {
    const lines = ['one\n', 'two\n', 'three\n'];
    let followAsked = false;
    const api = await fakeNode((_req, res, url) => {
      if (url.searchParams.get('follow') === 'true') followAsked = true;
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const i = Math.min(Math.floor(offset / 10), lines.length);
      const body: TaskLogsResponse = {
        task: 'x',
        alloc: 'x.0',
        node: 'n1',
        node_name: 'n1',
        data: lines[i] ?? '',
        next_offset: i < lines.length ? (i + 1) * 10 : offset,
        size: lines.length * 10,
      };
      json(res, body);
    });
    const w = watchSwarm(['task', 'logs', 'x', '-f', '--api', api], env());
    const end = Date.now() + 30_000;
    while (!w.out().includes('three') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    expect(w.err()).toBe('');
    expect(w.out()).toBe('one\ntwo\nthree\n');
    expect(followAsked).toBe(true);
  }, 90_000);
});
