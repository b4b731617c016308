/**
 * The real binary with stdout not a TTY: one plain snapshot, exit 0. The node is
 * a fake HTTP server on 127.0.0.1 (port from the OS) serving recorded JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSwarm } from '../../helpers/run-swarm.js';
import { leaderResponse, member, membersResponse, three } from './fixtures.js';

let server: Server;
let url = '';

beforeAll(async () => {
  const members = membersResponse([...three(), member(4, { status: 'dead', energy: null })]);
  server = createServer((req, res) => {
    const body =
      req.url === '/v1/members' ? members : req.url === '/v1/leader' ? leaderResponse() : undefined;
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: { code: 'not_found', message: 'no route' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('swarm swarm dashboard (stdout not a TTY)', () => {
  it('prints one plain snapshot and exits 0', async () => {
    const r = await runSwarm(['swarm', 'dashboard', '--api', url], {
      env: { SWARM_CONFIG: '', COLUMNS: '120', FORCE_COLOR: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.includes('\u001b')).toBe(false);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`Swarm dashboard  ${url}  every 1s`);
    expect(lines[1]).toBe('Members 4 (3 alive, 1 dead)   Leader node-1   Term 4   Commit 42');
    expect(r.stdout).toMatch(/\*node-1 +standard +alive +leader +127\.0\.0\.1:6001/);
    expect(r.stdout).toMatch(/ node-4 +standard +dead +follower +127\.0\.0\.1:6004 +\S+ ago +- +- +-\n/);
    for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(120);
  });

  it('exits 1 with one line when nothing answers or no node runs on the data dir, 2 on a bad --interval', async () => {
    const dead = await runSwarm(['swarm', 'dashboard', '--api', 'http://127.0.0.1:1'], {
      env: { SWARM_CONFIG: '' },
    });
    expect(dead.code).toBe(1);
    expect(dead.stderr).toMatch(/^swarm: no node answers at http:\/\/127\.0\.0\.1:1 \([^()]+\)\n$/);
    const bad = await runSwarm(['swarm', 'dashboard', '--api', url, '--interval', 'fast'], {
      env: { SWARM_CONFIG: '' },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--interval');
    const dir = mkdtempSync(join(tmpdir(), 'swarm-dash-none-'));
    try {
      const none = await runSwarm(['swarm', 'dashboard', '--data-dir', dir], { env: { SWARM_CONFIG: '' } });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^swarm: No node is running/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
