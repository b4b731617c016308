/**
 * The real binary with stdout not a TTY: one plain snapshot (dashboard, green)
 * or plain repeated tables (status --watch), exit 0. The node is a fake HTTP
 * server on 127.0.0.1 (port from the OS) serving recorded JSON. Also: ink and
 * react load only for these commands.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSwarm, watchSwarm } from '../../helpers/run-swarm.js';
import {
  energyResponse,
  leaderResponse,
  member,
  membersResponse,
  statusResponse,
  swarmEnergyResponse,
  tasksResponse,
  three,
} from './fixtures.js';

const REPORT_REACT = fileURLToPath(new URL('./report-react.cjs', import.meta.url));

let server: Server;
let url = '';

beforeAll(async () => {
  const all = [...three(), member(4, { status: 'dead', energy: null })];
  const routes: Record<string, unknown> = {
    '/v1/members': membersResponse(all),
    '/v1/leader': leaderResponse(),
    '/v1/status': statusResponse(),
    '/v1/energy': energyResponse(),
    '/v1/energy/swarm': swarmEnergyResponse(all),
    '/v1/tasks': tasksResponse(),
  };
  server = createServer((req, res) => {
    const body = routes[req.url ?? ''];
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
    expect(r.stdout).toMatch(/NAME +CLASS +STATUS +ROLE +TASKS +ADDRESS/);
    expect(r.stdout).toMatch(/\*node-1 +standard +alive +leader +1 +127\.0\.0\.1:6001/);
    expect(r.stdout).toMatch(/ node-4 +standard +dead +follower +0 +127\.0\.0\.1:6004 +\S+ ago +- +- +-\n/);
    // Tasks per node (GET /v1/tasks), as in the live view.
    expect(r.stdout).toContain('\nTasks 2 (3 of 4 replicas running)\n');
    expect(r.stdout).toMatch(/\nweb +2\/2 +node-1\(running\) node-2\(running\)\n/);
    expect(r.stdout).toMatch(/\nsensor-logger +1\/2 +node-3\(running\) node-2\(pending\)\n/);
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

  it('swarm swarm green prints one plain snapshot: power, rating, every member', async () => {
    const r = await runSwarm(['swarm', 'green', '--api', url], {
      env: { SWARM_CONFIG: '', COLUMNS: '120', FORCE_COLOR: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.includes('\u001b')).toBe(false);
    expect(r.stdout.split('\n')[0]).toBe(`Swarm green  ${url}  every 1s`);
    expect(r.stdout).toMatch(/^Power +1\.494 W +▄ +modelled from CPU load$/m);
    expect(r.stdout).toMatch(/^Rating +C {2}score 0\.972 work\/J/m);
    expect(r.stdout).toMatch(/^Swarm +3\.810 W .* 3\/4 reporting, 0 on battery, average rating B$/m);
    expect(r.stdout).toMatch(/^ node-4 +dead +follower +standard +- +- +- +-$/m);
  });

  it('swarm swarm status --watch, piped: a hint on stderr, plain tables until SIGINT, exit 0', async () => {
    const w = watchSwarm(
      ['swarm', 'status', '--watch', '0.2', '--api', url],
      { SWARM_CONFIG: '', COLUMNS: '140' },
      25_000,
    );
    const until = Date.now() + 15_000;
    while ((w.out().match(/^Swarm status/gm) ?? []).length < 3 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    const out = w.out();
    expect(w.err()).toBe(
      'stdout is not a terminal: a plain table every 0.2s until Ctrl+C (--json for machine-readable output)\n',
    );
    expect(out.includes('\u001b')).toBe(false);
    expect(
      (out.match(/^Swarm status {2}http:\/\/127\.0\.0\.1:\d+ {2}every 200ms$/gm) ?? []).length,
    ).toBeGreaterThanOrEqual(3);
    expect(out).toMatch(/^ node-4 +0004aaaabbbbcccc +dead +standard +follower/m);
  });

  it('ink and react load for the live views only: not for `swarm version` or plain `swarm swarm status`', async () => {
    const env = { SWARM_CONFIG: '', NODE_OPTIONS: `--require ${REPORT_REACT}` };
    const version = await runSwarm(['version'], { env });
    expect(version.code).toBe(0);
    expect(version.stderr).toBe('react loaded: false\n');
    const status = await runSwarm(['swarm', 'status', '--api', url], { env });
    expect(status.code).toBe(0);
    expect(status.stderr).toBe('react loaded: false\n');
    // The probe does see react when a live view loads it.
    const green = await runSwarm(['swarm', 'green', '--api', url], { env });
    expect(green.code).toBe(0);
    expect(green.stderr).toBe('react loaded: true\n');
  });
});
