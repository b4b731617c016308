/**
 * The live views as a person sees them: the compiled binary in tmux panes
 * (CI unset so ink redraws) against one real 3-node swarm started by
 * `swarm demo` (loopback, multicast off, temp dirs): `swarm swarm dashboard`,
 * `swarm swarm green`, `swarm swarm status --watch`, and a fourth node joining
 * with `swarm node start --foreground`. A private tmux socket keeps this
 * test's server apart from anyone else's.
 * DASHBOARD_CAPTURE_DIR=dir keeps the captured panes (dashboard.txt, green.txt,
 * status.txt); DASHBOARD_UPDATE_README=1 also puts them into README.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SWARM_BIN } from '../helpers/run-swarm.js';
import { SwarmClient } from '../../src/client/client.js';
import { alive } from '../node/proc.js';
import { leaderResponse, membersResponse, three, withCounters } from '../cli/dashboard/fixtures.js';

const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
const ESC = String.fromCharCode(27);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** Keep a captured pane (trailing blanks dropped) for the README when asked to. */
function keepPane(name: 'dashboard' | 'green' | 'status', pane: string): void {
  const text = `${pane
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trimEnd()}\n`;
  const dir = process.env.DASHBOARD_CAPTURE_DIR;
  if (dir) writeFileSync(join(dir, `${name}.txt`), text);
  if (process.env.DASHBOARD_UPDATE_README === '1') {
    const readme = readFileSync(README, 'utf8');
    const block = new RegExp(
      `(<!-- pane:${name} -->\\s*\`\`\`text\n)[\\s\\S]*?(\`\`\`\\s*<!-- /pane:${name} -->)`,
    );
    if (!block.test(readme)) throw new Error(`README.md has no <!-- pane:${name} --> block`);
    writeFileSync(
      README,
      readme.replace(block, (_m, a: string, b: string) => `${a}${text}${b}`),
    );
  }
}

const BAR = '[▁▂▃▄▅▆▇█]';

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SWARM_CONFIG: '' };
  delete env.CI;
  delete env.TMUX;
  delete env.NO_COLOR;
  return env;
}

describe.skipIf(!hasTmux)('live views under tmux', () => {
  it('dashboard, green, status --watch and a foreground node against a live 3-node swarm; q (and Ctrl+C) exit 0', async () => {
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
    let nodes: { name: string; id: string; pid: number; api_url: string; role: string; gossip: string }[] =
      [];
    try {
      const until = Date.now() + 45_000;
      while (!err.includes('Swarm running') && demo.exitCode === null && Date.now() < until) await sleep(100);
      expect(err).toContain('Swarm running');
      nodes = (JSON.parse(out) as { nodes: typeof nodes }).nodes;
      const leader = nodes.find((n) => n.role === 'leader') ?? nodes[0]!;
      // A task with two replicas, so the dashboard has tasks per node to show (the demo ends them with its nodes).
      await new SwarmClient({ baseUrl: leader.api_url, timeoutMs: 8000 }).taskRun({
        name: 'idler',
        command: ['sleep', '300'],
        count: 2,
      });

      const cmd = `env -u CI ${JSON.stringify(process.execPath)} ${JSON.stringify(SWARM_BIN)} swarm dashboard --api ${leader.api_url} --interval 500; echo $? > ${JSON.stringify(codeFile)}; sleep 30`;
      tmux('new-session', '-d', '-s', 'dash', '-x', '160', '-y', '50', cmd);

      // A sparkline needs two polls per bar; wait for a few bars on both rate lines (bounded), require two.
      let pane = '';
      const seen = Date.now() + 20_000;
      while (Date.now() < seen) {
        pane = tmux('capture-pane', '-p', '-t', 'dash');
        if (
          /In .*pkt\/s [▁▂▃▄▅▆▇█]{6,}.*Out .*pkt\/s [▁▂▃▄▅▆▇█]{6,}/.test(pane) &&
          /^idler +2\/2 /m.test(pane)
        )
          break;
        await sleep(250);
      }
      keepPane('dashboard', pane);
      expect(pane).toMatch(/^Swarm dashboard {2}http:\/\/127\.0\.0\.1:\d+ {2}every 500ms/);
      expect(pane).toMatch(
        new RegExp(`Members 3 \\(3 alive\\) +Leader ${leader.name} +Term \\d+ +Commit \\d+`),
      );
      expect(pane).toMatch(/In .*pkt\/s [▁▂▃▄▅▆▇█]{2,}.*Out .*pkt\/s [▁▂▃▄▅▆▇█]{2,}/);
      expect(pane).toMatch(/NAME +CLASS +STATUS +ROLE +TASKS +ADDRESS +LAST HEARD +POWER +BATTERY +RATING/);
      let replicas = 0;
      for (const n of nodes) {
        const row = new RegExp(
          `[ *]${n.name} +standard +alive +(leader|follower) +([01]) +127\\.0\\.0\\.1:\\d+ +\\S+ ago +[\\d.]+ W +\\S+ +(A\\+|[A-F]|idle)\\s*$`,
          'm',
        );
        expect(pane).toMatch(row);
        replicas += Number(row.exec(pane)?.[2]);
      }
      // Tasks per node: the two replicas on two of the three members, and the panel naming them.
      expect(replicas).toBe(2);
      expect(pane).toMatch(/^Tasks 1 \(2 of 2 replicas running\)/m);
      expect(pane).toMatch(/^idler +2\/2 +node-\d\(running\) node-\d\(running\)/m);
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

      const waitPane = async (session: string, ok: (pane: string) => boolean): Promise<string> => {
        let p = '';
        const until = Date.now() + 15_000;
        while (Date.now() < until) {
          p = tmux('capture-pane', '-p', '-t', session);
          if (ok(p)) break;
          await sleep(200);
        }
        return p;
      };
      const quitWith = async (session: string, code: string): Promise<string> => {
        tmux('send-keys', '-t', session, 'q');
        const until = Date.now() + 15_000;
        while (!existsSync(code) && Date.now() < until) await sleep(100);
        return existsSync(code) ? readFileSync(code, 'utf8').trim() : 'no exit';
      };
      const live = (session: string, args: string, code: string, width = 160): void =>
        void tmux(
          'new-session',
          '-d',
          '-s',
          session,
          '-x',
          String(width),
          '-y',
          '50',
          `env -u CI ${JSON.stringify(process.execPath)} ${JSON.stringify(SWARM_BIN)} ${args}; echo $? > ${JSON.stringify(code)}; sleep 30`,
        );

      // Green: this node's power sparkline grows by one bar per energy sample (1 s); wait for three.
      const greenCode = join(dir, 'green');
      live('green', `swarm green --api ${leader.api_url} --interval 500`, greenCode);
      const green = await waitPane('green', (p) => new RegExp(`^Power +[\\d.]+ W +${BAR}{3,}`, 'm').test(p));
      keepPane('green', green);
      expect(green).toMatch(/^Swarm green {2}http:\/\/127\.0\.0\.1:\d+ {2}every 500ms/);
      expect(green).toMatch(new RegExp(`^This node +${leader.name} \\(standard\\)`, 'm'));
      expect(green).toMatch(new RegExp(`^Power +[\\d.]+ W +${BAR}{3,} +(modelled|measured)`, 'm'));
      expect(green).toMatch(/^Energy +[\d.]+ Wh/m);
      expect(green).toMatch(/^Carbon +[\d.]+ g CO2 at [\d.]+ g\/kWh/m);
      expect(green).toMatch(/^Rating +(A\+|[A-F]) {2}score [\d.]+ work\/J/m);
      expect(green).toMatch(
        /^Gossip +(normal|conservative|emergency|aggressive)\S*, interval \d+ ms, fanout \d+/m,
      );
      expect(green).toMatch(/^ {2}why +\S/m);
      expect(green).toMatch(
        new RegExp(
          `^Swarm +[\\d.]+ W +${BAR}+ +3/3 reporting, 0 on battery, average rating (A\\+|[A-F]|idle)`,
          'm',
        ),
      );
      for (const n of nodes)
        expect(green).toMatch(
          new RegExp(
            `^[ *]${n.name} +alive +${n.role} +standard +[\\d.]+ W +\\S+ +mains +(A\\+|[A-F]|idle)$`,
            'm',
          ),
        );
      expect(green).toMatch(new RegExp(`^\\*${leader.name} +alive +leader `, 'm'));
      expect(await quitWith('green', greenCode)).toBe('0');

      // status --watch: the status table redrawn in place.
      const statusCode = join(dir, 'status');
      live('status', `swarm status --watch 0.5 --api ${leader.api_url}`, statusCode);
      const status = await waitPane('status', (p) => nodes.every((n) => p.includes(n.name)));
      keepPane('status', status);
      expect(status).toMatch(/^Swarm status {2}http:\/\/127\.0\.0\.1:\d+ {2}every 500ms/);
      expect(status).toMatch(new RegExp(`^leader: +${leader.name} \\(${leader.id}\\)$`, 'm'));
      expect(status).toMatch(/^members: +3 \(3 alive\)$/m);
      expect(status).toMatch(/ NAME +ID +STATUS +CLASS +RAFT +LABELS +GOSSIP +API +BATTERY +CHANGED/);
      for (const n of nodes)
        expect(status).toMatch(
          new RegExp(`^[ *]${n.name} +${n.id} +alive +standard +(leader|follower) `, 'm'),
        );
      expect(status).toMatch(new RegExp(`^\\*${leader.name} +${leader.id} +alive +standard +leader `, 'm'));
      expect(status.match(/Swarm status/g)).toHaveLength(1);
      expect(await quitWith('status', statusCode)).toBe('0');

      // On a terminal, a foreground start that fails (a demo node holds that data dir) is one line and exit 1.
      const dataRoot = (JSON.parse(out) as { data_root: string }).data_root;
      // The demo's config: loopback binds, multicast off.
      const demoConfig = join(dataRoot, 'config.toml');
      const lockedCode = join(dir, 'locked');
      live(
        'locked',
        `--config ${JSON.stringify(demoConfig)} node start --foreground --data-dir ${JSON.stringify(join(dataRoot, nodes[0]!.name))}`,
        lockedCode,
      );
      const lockedUntil = Date.now() + 15_000;
      while (!existsSync(lockedCode) && Date.now() < lockedUntil) await sleep(100);
      expect(readFileSync(lockedCode, 'utf8').trim()).toBe('1');
      expect(tmux('capture-pane', '-p', '-t', 'locked').trim()).toMatch(
        /^swarm: data dir \S+ is in use by another node \(PID \d+\); stop it first$/,
      );

      // A fourth node in the foreground on a terminal: its dashboard, its logs in its data dir, q stops it.
      const fgDir = join(dir, 'fg');
      const fgCode = join(dir, 'fgcode');
      live(
        'fg',
        `--config ${JSON.stringify(demoConfig)} node start --foreground --name fg-4 --data-dir ${JSON.stringify(fgDir)} --join ${nodes[0]!.gossip} --gossip-port 0 --api-port 0 --raft-port 0`,
        fgCode,
      );
      const fg = await waitPane(
        'fg',
        (p) => /Members 4 \(4 alive\)/.test(p) && nodes.every((n) => p.includes(n.name)),
      );
      expect(fg).toMatch(/^Swarm dashboard {2}http:\/\/127\.0\.0\.1:\d+ {2}every 1s/);
      expect(fg).toMatch(new RegExp(`Members 4 \\(4 alive\\) +Leader ${leader.name} `));
      expect(fg).toMatch(/^\*fg-4 +standard +alive /m);
      expect(fg).not.toContain('"level"');
      expect(await quitWith('fg', fgCode)).toBe('0');
      const after = tmux('capture-pane', '-p', '-t', 'fg');
      expect(after).toContain('Stopped node fg-4');
      const log = readFileSync(join(fgDir, 'node.log'), 'utf8');
      expect(log).toContain('"msg":"shutdown requested","reason":"dashboard"');
      expect(log).toContain('"msg":"node stopped"');
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
          // No /v1/tasks here, as on a node older than tasks: the dashboard shows no tasks section.
          if (req.url === '/v1/tasks') {
            res.writeHead(404, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: { code: 'not_found', message: 'no route GET /v1/tasks' } }));
            return;
          }
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
      // A poll in flight as the server closes may first report the reset; the next polls meet a refusal.
      const away = await waitPane('live', (p) => /reconnecting… \(connection refused\)$/m.test(p));
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
