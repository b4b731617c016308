/**
 * `swarm swarm dashboard` live, as a person sees it: the compiled binary in a
 * tmux pane (160x50, CI unset so ink redraws) against a real 3-node swarm
 * started by `swarm demo` (loopback, multicast off, temp dirs). A private tmux
 * socket keeps this test's server apart from anyone else's.
 * Set DASHBOARD_CAPTURE_FILE to keep the captured pane (the README's picture).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SWARM_BIN } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';
import { leaderResponse, membersResponse, three, withCounters } from '../cli/dashboard/fixtures.js';

const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
const ESC = String.fromCharCode(27);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SWARM_CONFIG: '' };
  delete env.CI;
  delete env.TMUX;
  delete env.NO_COLOR;
  return env;
}

describe.skipIf(!hasTmux)('swarm swarm dashboard under tmux', () => {
  it('shows the leader, members, sparklines and ratings of a live 3-node swarm, then quits on q (and Ctrl+C) with exit 0', async () => {
    const env = cleanEnv();
    const demo = spawn(process.execPath, [SWARM_BIN, 'demo', '--nodes', '3', '--duration', '120', '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const demoExit = new Promise<number | null>((r) => demo.on('close', (c) => r(c)));
    const sock = `swarm-dash-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
    const tmux = (...args: string[]): string =>
      spawnSync('tmux', ['-L', sock, ...args], { env, encoding: 'utf8' }).stdout ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'swarm-dash-'));
    const codeFile = join(dir, 'code');
    let nodes: { name: string; pid: number; api_url: string; role: string }[] = [];
    try {
      const until = Date.now() + 45_000;
      while (!err.includes('Swarm running') && demo.exitCode === null && Date.now() < until) await sleep(100);
      expect(err).toContain('Swarm running');
      nodes = (JSON.parse(out) as { nodes: typeof nodes }).nodes;
      const leader = nodes.find((n) => n.role === 'leader') ?? nodes[0]!;

      const cmd = `env -u CI ${JSON.stringify(process.execPath)} ${JSON.stringify(SWARM_BIN)} swarm dashboard --api ${leader.api_url} --interval 500; echo $? > ${JSON.stringify(codeFile)}; sleep 30`;
      tmux('new-session', '-d', '-s', 'dash', '-x', '160', '-y', '50', cmd);

      // A sparkline needs two polls per bar; wait for a few bars on both rate lines (bounded), require two.
      let pane = '';
      const seen = Date.now() + 20_000;
      while (Date.now() < seen) {
        pane = tmux('capture-pane', '-p', '-t', 'dash');
        if (/In .*pkt\/s [▁▂▃▄▅▆▇█]{6,}.*Out .*pkt\/s [▁▂▃▄▅▆▇█]{6,}/.test(pane)) break;
        await sleep(250);
      }
      if (process.env.DASHBOARD_CAPTURE_FILE) writeFileSync(process.env.DASHBOARD_CAPTURE_FILE, pane);
      expect(pane).toMatch(/^Swarm dashboard {2}http:\/\/127\.0\.0\.1:\d+ {2}every 500ms/);
      expect(pane).toMatch(
        new RegExp(`Members 3 \\(3 alive\\) +Leader ${leader.name} +Term \\d+ +Commit \\d+`),
      );
      expect(pane).toMatch(/In .*pkt\/s [▁▂▃▄▅▆▇█]{2,}.*Out .*pkt\/s [▁▂▃▄▅▆▇█]{2,}/);
      expect(pane).toMatch(/NAME +CLASS +STATUS +ROLE +ADDRESS +LAST HEARD +POWER +BATTERY +RATING/);
      for (const n of nodes)
        expect(pane).toMatch(
          new RegExp(
            `[ *]${n.name} +standard +alive +(leader|follower) +127\\.0\\.0\\.1:\\d+ +\\S+ ago +[\\d.]+ W +\\S+ +(A\\+|[A-F])\\s*$`,
            'm',
          ),
        );
      expect(pane).toMatch(new RegExp(`\\*${leader.name} +standard +alive +leader `));

      tmux('send-keys', '-t', 'dash', 'q');
      const quit = Date.now() + 10_000;
      while (!existsSync(codeFile) && Date.now() < quit) await sleep(100);
      expect(readFileSync(codeFile, 'utf8').trim()).toBe('0');

      // Ctrl+C quits just as cleanly.
      const codeFile2 = join(dir, 'code2');
      const cmd2 = cmd.replace(JSON.stringify(codeFile), JSON.stringify(codeFile2));
      tmux('new-session', '-d', '-s', 'dash2', '-x', '100', '-y', '30', cmd2);
      const drawn = Date.now() + 10_000;
      while (!tmux('capture-pane', '-p', '-t', 'dash2').includes('NAME') && Date.now() < drawn)
        await sleep(100);
      tmux('send-keys', '-t', 'dash2', 'C-c');
      const quit2 = Date.now() + 10_000;
      while (!existsSync(codeFile2) && Date.now() < quit2) await sleep(100);
      expect(readFileSync(codeFile2, 'utf8').trim()).toBe('0');
    } finally {
      tmux('kill-server');
      if (demo.exitCode === null) demo.kill('SIGINT');
      const killer = setTimeout(() => demo.kill('SIGKILL'), 30_000);
      await demoExit;
      clearTimeout(killer);
      // The demo stops its nodes; if it could not, stop those it started (by PID) so nothing leaks.
      for (const n of nodes) if (alive(n.pid)) process.kill(n.pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a node going away shows "reconnecting…" over the last data and recovers; NO_COLOR drops colours', async () => {
    // A fake node on 127.0.0.1 whose counters move with every request, closed and reopened on the same port.
    let packets = 0;
    const serve = (port: number): Promise<Server> =>
      new Promise((resolve, reject) => {
        const srv = createServer((req, res) => {
          packets += 7;
          const body =
            req.url === '/v1/members'
              ? withCounters(membersResponse(three()), packets, packets / 7)
              : leaderResponse();
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        });
        srv.once('error', reject);
        srv.listen(port, '127.0.0.1', () => resolve(srv));
      });
    const stop = (srv: Server): Promise<void> =>
      new Promise((r) => {
        srv.close(() => r());
        srv.closeAllConnections();
      });
    let server = await serve(0);
    const port = (server.address() as AddressInfo).port;
    const env = cleanEnv();
    const sock = `swarm-dash-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
    const tmux = (...args: string[]): string =>
      spawnSync('tmux', ['-L', sock, ...args], { env, encoding: 'utf8' }).stdout ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'swarm-dash-'));
    const waitPane = async (
      session: string,
      ok: (pane: string) => boolean,
      flags: string[] = [],
    ): Promise<string> => {
      let pane = '';
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        pane = tmux('capture-pane', '-p', ...flags, '-t', session);
        if (ok(pane)) break;
        await sleep(100);
      }
      return pane;
    };
    const start = (session: string, code: string, extraEnv: string, stdin = ''): void => {
      const cmd = `env -u CI ${extraEnv} ${JSON.stringify(process.execPath)} ${JSON.stringify(SWARM_BIN)} swarm dashboard --api http://127.0.0.1:${port} --interval 200 ${stdin}; echo $? > ${JSON.stringify(code)}; sleep 30`;
      tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
    };
    const quit = async (session: string, code: string): Promise<string> => {
      tmux('send-keys', '-t', session, 'q');
      const until = Date.now() + 10_000;
      while (!existsSync(code) && Date.now() < until) await sleep(100);
      return existsSync(code) ? readFileSync(code, 'utf8').trim() : 'no exit';
    };
    try {
      const code = join(dir, 'code');
      start('live', code, '');
      const coloured = await waitPane('live', (p) => p.includes('node-3'), ['-e']);
      expect(coloured).toMatch(new RegExp(`${ESC}\\[[0-9;]*3[1-6]m`));

      await stop(server);
      const away = await waitPane('live', (p) => p.includes('reconnecting…'));
      expect(away.split('\n')[0]).toMatch(/reconnecting… \(connection refused\)$/);
      expect(away).toMatch(/\*node-1 +standard +alive +leader/);
      expect(away).toContain('lost the node');

      server = await serve(port);
      const back = await waitPane('live', (p) => p.includes('node answers again'));
      expect(back).toContain('node answers again');
      expect(back.split('\n')[0]).not.toContain('reconnecting');

      // Narrower terminal: the least useful columns go, nothing wraps.
      tmux('resize-window', '-t', 'live', '-x', '60', '-y', '40');
      const narrow = await waitPane('live', (p) => /NAME +CLASS +STATUS/.test(p) && !p.includes('ADDRESS'));
      expect(narrow).not.toContain('ADDRESS');
      expect(narrow).toMatch(/\*node-1 +standard +alive +leader/);
      // One frame, no fragments of the wider one left above or wrapped.
      expect(narrow.match(/Swarm dashboard/g)).toHaveLength(1);
      for (const l of narrow.split('\n')) expect(Array.from(l).length).toBeLessThanOrEqual(60);
      expect(await quit('live', code)).toBe('0');

      const plainCode = join(dir, 'plain');
      start('plain', plainCode, 'NO_COLOR=1');
      const plain = await waitPane('plain', (p) => p.includes('node-3'), ['-e']);
      expect(plain).toContain('node-3');
      expect(plain).not.toMatch(new RegExp(`${ESC}\\[[0-9;]*3[0-7]m`));
      expect(await quit('plain', plainCode)).toBe('0');

      // stdin redirected (no raw mode, so no keys): the view still runs and Ctrl+C (SIGINT) exits 0.
      const noKeysCode = join(dir, 'nokeys');
      start('nokeys', noKeysCode, '', '< /dev/null');
      expect(await waitPane('nokeys', (p) => p.includes('node-3'))).not.toContain('Raw mode');
      tmux('send-keys', '-t', 'nokeys', 'C-c');
      const until = Date.now() + 10_000;
      while (!existsSync(noKeysCode) && Date.now() < until) await sleep(100);
      expect(readFileSync(noKeysCode, 'utf8').trim()).toBe('0');
    } finally {
      tmux('kill-server');
      await stop(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
