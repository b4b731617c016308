/**
 * Node daemon lifecycle through the real `swarm` binary: start detached, status,
 * refusal of a second node on the same data dir, stop, SIGKILL leftovers,
 * foreground signals, and start failures that must read as one line.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWARM_BIN, runSwarm, type RunResult } from '../helpers/run-swarm.js';
import { alive } from './proc.js';

let root: string;
let env: NodeJS.ProcessEnv;
const started = new Set<number>();

async function waitDead(pid: number, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

function swarm(args: string[], dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return runSwarm(['--config', join(root, 'config.toml'), ...args, '--data-dir', dataDir], {
    env: { ...env, ...extraEnv },
  });
}

interface StartJson {
  pid: number;
  id: string;
  name: string;
  api_url: string;
}

async function startNode(dataDir: string, extra: string[] = []): Promise<StartJson> {
  const r = await swarm(['node', 'start', '--json', '--name', 'lc', ...extra], dataDir);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const info = JSON.parse(r.stdout) as StartJson;
  started.add(info.pid);
  return info;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-lifecycle-test-'));
  env = { HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), SWARM_CONFIG: '' };
  // Port 0 everywhere: the OS picks free ports, so parallel test runs never collide.
  writeFileSync(
    join(root, 'config.toml'),
    '[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n',
  );
});

afterAll(() => {
  for (const pid of started) {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(root, { recursive: true, force: true });
});

describe('node lifecycle (real processes)', () => {
  it('start, status, second start refused, stop, and "no node" afterwards', async () => {
    const dataDir = join(root, 'd1');
    const before = await swarm(['node', 'status'], dataDir);
    expect(before.code).toBe(1);
    expect(before.stderr).toBe(`swarm: No node is running (data dir ${dataDir})\n`);

    const info = await startNode(dataDir);
    expect(info.api_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(alive(info.pid)).toBe(true);
    expect(readFileSync(join(dataDir, 'node.pid'), 'utf8').trim()).toBe(String(info.pid));

    const st = await swarm(['node', 'status', '--json'], dataDir);
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      id: info.id,
      name: 'lc',
      device_class: 'standard',
      // Without --bootstrap a node waits to be added to a cluster: a follower of no leader at term 0.
      role: 'follower',
      term: 0,
      leader: null,
      pid: info.pid,
      security: { gossip_encrypted: false, note: 'gossip unencrypted' },
    });
    expect((status.addresses as { api: string }).api).toBe(info.api_url.slice('http://'.length));
    expect(typeof status.uptime_s).toBe('number');

    const text = await swarm(['node', 'status'], dataDir);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^id: +[0-9a-f]{16}$/m);
    expect(text.stdout).toMatch(/^security: +gossip unencrypted$/m);

    const second = await swarm(['node', 'start'], dataDir);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(
      `swarm: a node is already running in ${dataDir} (PID ${info.pid} at ${info.api_url})\n`,
    );

    // A foreground start bypasses the CLI pre-check; the lock itself must refuse it.
    const fg = await swarm(['node', 'start', '--foreground'], dataDir);
    expect(fg.code).toBe(1);
    expect(fg.stderr).toContain(`swarm: data dir ${dataDir} is in use by another node (PID ${info.pid})`);

    const stop = await swarm(['node', 'stop'], dataDir);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe(`Stopped node lc (PID ${info.pid})\n`);
    expect(alive(info.pid)).toBe(false);
    for (const f of ['node.pid', 'node.lock', 'node.json']) expect(existsSync(join(dataDir, f))).toBe(false);
    const log = readFileSync(join(dataDir, 'node.log'), 'utf8').trim().split('\n');
    const msgs = log.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toEqual(expect.arrayContaining(['node started', 'shutdown requested', 'node stopped']));

    const again = await swarm(['node', 'stop'], dataDir);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`swarm: No node is running (data dir ${dataDir})\n`);

    // The id survives restarts.
    const restarted = await startNode(dataDir);
    expect(restarted.id).toBe(info.id);
    expect((await swarm(['node', 'stop'], dataDir)).code).toBe(0);
  });

  it('SIGKILL leaves a stale pidfile and lock that status and the next start handle', async () => {
    const dataDir = join(root, 'd2');
    const info = await startNode(dataDir);
    process.kill(info.pid, 'SIGKILL');
    expect(await waitDead(info.pid)).toBe(true);
    expect(existsSync(join(dataDir, 'node.pid'))).toBe(true);
    expect(existsSync(join(dataDir, 'node.lock'))).toBe(true);

    const st = await swarm(['node', 'status'], dataDir);
    expect(st.code).toBe(1);
    expect(st.stderr).toBe(
      `swarm: No node is running (data dir ${dataDir}; removed stale pidfile and lock of dead PID ${info.pid})\n`,
    );
    expect(existsSync(join(dataDir, 'node.pid'))).toBe(false);

    // Kill again and let `start` find the leftovers itself.
    const second = await startNode(dataDir);
    process.kill(second.pid, 'SIGKILL');
    expect(await waitDead(second.pid)).toBe(true);
    const r = await swarm(['node', 'start', '--json'], dataDir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`removed stale pidfile and lock of dead PID ${second.pid}\n`);
    const third = JSON.parse(r.stdout) as StartJson;
    started.add(third.pid);
    expect(third.id).toBe(info.id);
    expect((await swarm(['node', 'stop'], dataDir)).code).toBe(0);
  });

  it('foreground node logs JSON to stderr and stops cleanly on SIGTERM, SIGINT and SIGHUP', async () => {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const dataDir = join(root, `fg-${signal}`);
      const child = spawn(
        process.execPath,
        [
          SWARM_BIN,
          '--config',
          join(root, 'config.toml'),
          'node',
          'start',
          '--foreground',
          '--data-dir',
          dataDir,
        ],
        { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      started.add(child.pid ?? 0);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      const end = Date.now() + 15_000;
      while (!stderr.includes('"node started"') && Date.now() < end)
        await new Promise((r) => setTimeout(r, 50));
      expect(stderr).toContain('"node started"');
      child.kill(signal);
      expect(await exited).toBe(0);
      const recs = stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { level: string; component: string; msg: string; reason?: string });
      expect(recs.find((r) => r.msg === 'shutdown requested')?.reason).toBe(signal);
      expect(recs.at(-1)).toMatchObject({ level: 'info', component: 'node', msg: 'node stopped' });
      expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);
    }
  });

  it('with an api_token, shutdown over HTTP needs it and `node stop` sends it', async () => {
    const dataDir = join(root, 'tok');
    const tokenEnv = { SWARM_SECURITY__API_TOKEN: 'tok-123' };
    const r = await swarm(['node', 'start', '--json'], dataDir, tokenEnv);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as StartJson;
    started.add(info.pid);
    const denied = await fetch(`${info.api_url}/v1/shutdown`, { method: 'POST' });
    expect(denied.status).toBe(401);
    expect(alive(info.pid)).toBe(true);
    const stop = await swarm(['node', 'stop'], dataDir, tokenEnv);
    expect(stop.code).toBe(0);
    const recs = readFileSync(join(dataDir, 'node.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; reason?: string });
    // Stopped through the API (reason "cli"), not by the SIGTERM fallback.
    expect(recs.find((x) => x.msg === 'shutdown requested')?.reason).toBe('cli');
  });

  it('a port in use fails the start with one line and leaves no process behind', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const dataDir = join(root, 'd3');
      const r = await swarm(['node', 'start', '--api-port', String(port)], dataDir);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `swarm: node failed to start: api port 127.0.0.1:${port} is in use (log: ${join(dataDir, 'node.log')})\n`,
      );
      expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('bad config or flags exit 2 with one line and no stack trace', async () => {
    const dataDir = join(root, 'd4');
    const flag = await swarm(['node', 'start', '--api-port', '70000'], dataDir);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe('swarm: --api-port: api.port = 70000: must be an integer between 0 and 65535\n');

    const envBad = await swarm(['node', 'start'], dataDir, { SWARM_GOSSIP__FANOUT: 'lots' });
    expect(envBad.code).toBe(2);
    expect(envBad.stderr).toBe('swarm: SWARM_GOSSIP__FANOUT: gossip.fanout = "lots": must be an integer\n');

    const join_ = await swarm(['node', 'start', '--join', 'nohostport'], dataDir);
    expect(join_.code).toBe(2);
    expect(join_.stderr).toMatch(/^swarm: --join: network\.join = \["nohostport"\]: must be "host:port"/);
    expect(existsSync(join(dataDir, 'node.log'))).toBe(false);
  });
});
