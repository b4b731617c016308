/**
 * `swarm logs` (the compiled binary) over a node.log written the way the
 * node's logger writes it: readable lines, level and component filters, the
 * last N lines, stdin, and `--follow` through appends and a truncation.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentMatches, formatRecord, parseLogLine, passes } from '../../src/cli/log-format.js';
import { createLogger } from '../../src/node/log.js';
import { SWARM_BIN, runSwarm } from '../helpers/run-swarm.js';

let root: string;
let dataDir: string;

/** Lines from the real logger, so the test follows its format. */
function logLines(): string {
  let text = '';
  let t = Date.parse('2026-12-07T07:00:00.000Z');
  const log = createLogger({
    sink: { write: (l: string) => (text += l) },
    level: 'debug',
    clock: () => (t += 1000),
  });
  log.info('node started', { id: 'abc', name: 'pi kitchen', pid: 42 });
  log.info('raft role', { role: 'leader', term: 3 });
  log.child('energy').warn('energy sample failed', { error: new Error('EIO: i/o error') });
  log.child('gossip').debug('probe', { target: '10.0.0.2:5555' });
  log.error('raft log stopped', { reason: 'disk full' });
  return `${text}swarm: node failed to start: api port 127.0.0.1:5557 is in use\n`;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-logs-'));
  dataDir = join(root, 'data');
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'node.log'), logLines());
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const env = (): NodeJS.ProcessEnv => ({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), SWARM_CONFIG: '' });
const logs = (args: string[], input?: string) =>
  runSwarm(['logs', '--data-dir', dataDir, ...args], {
    env: env(),
    ...(input !== undefined ? { input } : {}),
  });

describe('log lines', () => {
  it('parse, filter and render', () => {
    const rec = parseLogLine(
      '{"ts":"2026-12-07T07:00:01.000Z","level":"warn","component":"node.energy","msg":"m","a":"x y","n":1}',
    );
    expect(rec).not.toBeNull();
    expect(formatRecord(rec!)).toBe('2026-12-07 07:00:01.000Z  WARN   node.energy  m  a="x y" n=1');
    expect(formatRecord(rec!, { color: true })).toBe(`\x1b[33m${formatRecord(rec!)}\x1b[39m`);
    expect(parseLogLine('not json')).toBeNull();
    expect(parseLogLine('{"level":"loud","ts":"x","msg":"m"}')).toBeNull();
    expect(componentMatches('node.energy.sensors', 'energy')).toBe(true);
    expect(componentMatches('node.energy', 'node')).toBe(true);
    expect(componentMatches('node.energyx', 'energy')).toBe(false);
    expect(passes(rec, { level: 'error' })).toBe(false);
    expect(passes(null, { level: 'error' })).toBe(true);
    expect(passes(null, { component: 'energy' })).toBe(false);
  });
});

describe('swarm logs', () => {
  it('renders every line readably, raw lines as they are', async () => {
    const r = await logs([]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      '2026-12-07 07:00:01.000Z  INFO   node  node started  id=abc name="pi kitchen" pid=42',
      '2026-12-07 07:00:02.000Z  INFO   node  raft role  role=leader term=3',
      '2026-12-07 07:00:03.000Z  WARN   node.energy  energy sample failed  error={"name":"Error","message":"EIO: i/o error"}',
      '2026-12-07 07:00:04.000Z  DEBUG  node.gossip  probe  target=10.0.0.2:5555',
      '2026-12-07 07:00:05.000Z  ERROR  node  raft log stopped  reason="disk full"',
      'swarm: node failed to start: api port 127.0.0.1:5557 is in use',
      '',
    ]);
  });

  it('filters by level and component, keeps the last N, reads stdin, prints JSON', async () => {
    const warn = await logs(['--level', 'warn']);
    expect(warn.stdout).toMatch(/^.*WARN .*\n.*ERROR .*\nswarm: node failed.*\n$/);
    const energy = await logs(['--component', 'energy']);
    expect(energy.stdout.trim().split('\n')).toHaveLength(1);
    expect(energy.stdout).toContain('energy sample failed');
    const raft = await logs(['--component', 'raft', '--level', 'info']);
    expect(
      raft.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('  ')[3]),
    ).toEqual(['raft role', 'raft log stopped']);
    const last = await logs(['-n', '2']);
    expect(last.stdout.trim().split('\n')).toHaveLength(2);
    expect(last.stdout).toMatch(/raft log stopped[^]*swarm: node failed/);
    const stdin = await runSwarm(['logs', '--file', '-', '--level', 'error'], {
      env: env(),
      input: logLines(),
    });
    expect(stdin.code).toBe(0);
    expect(stdin.stdout).toMatch(/^.*ERROR {2}node {2}raft log stopped.*\nswarm: node failed.*\n$/);
    const json = await logs(['--json', '--component', 'gossip']);
    expect(JSON.parse(json.stdout)).toMatchObject({ level: 'debug', component: 'node.gossip', msg: 'probe' });
  });

  it('refuses a bad level, a bad count and a missing log with one line and exit 2', async () => {
    const bad = await logs(['--level', 'loud']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('swarm: --level must be one of debug, info, warn, error (got "loud")\n');
    const n = await logs(['-n', 'x']);
    expect(n.code).toBe(2);
    const none = await runSwarm(['logs', '--data-dir', join(root, 'nowhere')], { env: env() });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^swarm: no log at .*nowhere\/node\.log: no node has run/);
  });

  it('--follow prints appended lines, and starts over after a truncation', async () => {
    const followed = join(root, 'follow');
    mkdirSync(followed);
    const file = join(followed, 'node.log');
    writeFileSync(file, logLines());
    const child = spawn(process.execPath, [SWARM_BIN, 'logs', '-f', '-n', '1', '--data-dir', followed], {
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const waitFor = async (re: RegExp): Promise<void> => {
      for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(re);
    };
    try {
      await waitFor(/swarm: node failed to start/);
      expect(out).not.toContain('raft log stopped');
      appendFileSync(
        file,
        '{"ts":"2026-12-07T08:00:00.000Z","level":"info","component":"node","msg":"appended"',
      );
      appendFileSync(file, ',"k":1}\n');
      await waitFor(/INFO {3}node {2}appended {2}k=1\n/);
      truncateSync(file, 0);
      await new Promise((r) => setTimeout(r, 600));
      appendFileSync(
        file,
        '{"ts":"2026-12-07T09:00:00.000Z","level":"warn","component":"node","msg":"after rotation"}\n',
      );
      await waitFor(/WARN {3}node {2}after rotation\n/);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
  });
});
