/**
 * What short-lived CLI processes load: `swarm version` no zod and no config,
 * `swarm --help` no zod either, `swarm node stop|status` not the node runtime
 * (gossip, Raft, energy, API server, hono) nor the dashboard, and the typed
 * client no zod until a node answers with a body to check. A resolve hook
 * preloaded into the process appends every module URL it resolves to a file,
 * which the test reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonEntry } from '../../src/cli/daemon.js';
import { runProcess, runSwarm, SWARM_BIN } from '../helpers/run-swarm.js';
import { moduleTraceNodeOptions } from '../helpers/module-trace.js';
import { processStartTime } from '../../src/node/datadir.js';

const FAST_BUNDLE = fileURLToPath(new URL('../../dist/cli/fast.bundle.cjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('../../dist/client/index.js', import.meta.url));

let root = '';
let seq = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-startup-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** NODE_OPTIONS that make a process append each module URL it resolves to `log`. */
function tracing(log: string): string {
  return moduleTraceNodeOptions(JSON.stringify(log));
}

interface Loaded {
  /** npm packages, e.g. `zod`, `@hono/node-server`. */
  packages: string[];
  /** Our own modules, relative to dist/, e.g. `cli/main.js`. */
  own: string[];
}

function loaded(log: string): Loaded {
  const urls = readFileSync(log, 'utf8').split('\n');
  const packages = urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]);
  const own = urls.map((u) => (u.includes('/node_modules/') ? undefined : /\/dist\/(.+)$/.exec(u)?.[1]));
  const uniq = (xs: (string | undefined)[]): string[] =>
    [...new Set(xs.filter((x): x is string => x !== undefined))].sort();
  return { packages: uniq(packages), own: uniq(own) };
}

async function swarmLoads(args: string[]): Promise<Loaded & { code: number | null; stderr: string }> {
  const log = join(root, `modules.${++seq}`);
  const r = await runSwarm(args, {
    env: { SWARM_CONFIG: '', XDG_CONFIG_HOME: join(root, 'xdg'), NODE_OPTIONS: tracing(log) },
  });
  return { ...loaded(log), code: r.code, stderr: r.stderr };
}

/** The node runtime and the live views: what `node start --foreground` needs and stop/status do not. */
const RUNTIME_PACKAGES = ['hono', '@hono/node-server', '@msgpack/msgpack', 'prom-client', 'ink', 'react'];
const RUNTIME_DIRS = /^(api|raft|gossip|energy|net|agents|maelstrom|sim|cli\/dashboard)\/|^node\/node\.js$/;

/** Every port 0: the kernel picks free ones. */
const ZERO_PORTS = ['--gossip-port', '0', '--api-port', '0', '--raft-port', '0'];

/** `swarm -c CONFIG node start --foreground --data-dir DIR`, then `more`. */
function foregroundArgs(config: string, dataDir: string, more: readonly string[]): string[] {
  return ['-c', config, 'node', 'start', '--foreground', '--data-dir', dataDir, ...more];
}

describe('swarm version', () => {
  it('loads commander and the version, no zod, no config, no client', async () => {
    const r = await swarmLoads(['version']);
    expect(r.code).toBe(0);
    expect(r.packages).toEqual(['commander']);
    expect(r.own.filter((m) => /^(config|client|node)\//.test(m))).toEqual([]);
  });
});

describe('swarm --help', () => {
  it('lists every command group without loading zod, the config, hono or the dashboard', async () => {
    const r = await swarmLoads(['--help']);
    expect(r.code).toBe(0);
    expect(r.packages.filter((p) => ['zod', 'smol-toml', 'hono', 'ink', 'react'].includes(p))).toEqual([]);
    expect(r.own.filter((m) => /^(config\/(load|schema|keys)|agents\/|api\/)/.test(m))).toEqual([]);
  });
});

describe('swarm node stop | status', () => {
  it.each([['stop'], ['status']])('%s loads the config and the client, not the node runtime', async (cmd) => {
    const r = await swarmLoads(['node', cmd, '--data-dir', join(root, `empty-${cmd}`)]);
    expect(r.stderr).toMatch(/no node is running/i);
    expect(r.code).toBe(1);
    // The config is validated with zod (its error messages); the check can see zod load.
    expect(r.packages).toContain('zod');
    expect(r.own).toContain('config/load.js');
    expect(r.packages.filter((p) => RUNTIME_PACKAGES.includes(p))).toEqual([]);
    expect(r.own.filter((m) => RUNTIME_DIRS.test(m) || m === 'cli/node-runtime.js')).toEqual([]);
  });
});

describe('the typed client', () => {
  let server: Server;
  let url = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/health') {
        res.end(JSON.stringify({ status: 'ok', id: 'n1', state: 'running' }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such key' } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** Runs `body` (an async function of `SwarmClient` and the client module) in a fresh node; the modules it loaded. */
  async function clientLoads(body: string): Promise<Loaded & { out: string }> {
    const log = join(root, `modules.${++seq}`);
    const script = `const m = await import(${JSON.stringify(CLIENT)});
      const c = new m.SwarmClient({ baseUrl: ${JSON.stringify(url)}, timeoutMs: 5000 });
      process.stdout.write(String(await (${body})(c, m)));`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, NODE_OPTIONS: tracing(log) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}`))));
    });
    return { ...loaded(log), out };
  }

  it('loads no zod to import, nor for an error body; an answer to check loads it', async () => {
    const imported = await clientLoads('async () => "ok"');
    expect(imported.out).toBe('ok');
    expect(imported.packages).toEqual([]);

    const error = await clientLoads(
      'async (c, m) => c.kvGet("k").catch((e) => e instanceof m.ApiRequestError && `${e.status} ${e.apiCode}: ${e.message}`)',
    );
    expect(error.out).toBe('404 not_found: no such key');
    expect(error.packages).toEqual([]);

    const answered = await clientLoads('async (c) => (await c.health()).state');
    expect(answered.out).toBe('running');
    expect(answered.packages).toEqual(['zod']);
  });
});

describe('swarm kv get | node status | node stop (the fast path)', () => {
  let server: Server;
  let stopTarget: ChildProcess | null = null;
  let dataDir = '';
  let configFile = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      const path = (req.url ?? '').split('?')[0];
      if (path === '/v1/kv/k') {
        res.end(JSON.stringify({ revision: 7, key: 'k', value: { b: [1, 'x'] }, extra: true }));
        return;
      }
      if (path === '/v1/status' || path === '/old/v1/status') {
        // A current node, or one from before `waiting` and `cluster` (the schema's defaults fill them).
        const now = path === '/v1/status' ? { waiting: 'a quorum', cluster: 'c1' } : {};
        res.end(
          JSON.stringify({
            id: 'n1',
            name: 'node-one',
            device_class: 'standard',
            role: 'follower',
            term: 3,
            leader: null,
            ...now,
            addresses: { gossip: '127.0.0.1:1', api: null, raft: '127.0.0.1:3' },
            uptime_s: 75,
            version: '9.9.9',
            pid: 42,
            data_dir: '/d',
            security: { gossip_encrypted: false, note: 'no key' },
          }),
        );
        return;
      }
      if (path === '/v1/shutdown' && req.method === 'POST') {
        // The "node" of the stop test: accepts, then exits (as a node does once stopped).
        res.end(JSON.stringify({ status: 'stopping', id: 'n1' }));
        setTimeout(() => stopTarget?.kill('SIGKILL'), 100);
        return;
      }
      if (path === '/v1/kv/text') {
        res.end(JSON.stringify({ key: 'text', value: 'plain', revision: 3 }));
        return;
      }
      if (path === '/v1/kv/odd') {
        // Not the documented shape: only the full program words the complaint.
        res.end(JSON.stringify({ key: 'odd', revision: 'seven', value: 1 }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'key missing not found' } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A data dir whose "node" is this test process (alive, same start time), its API the server above.
    dataDir = join(root, 'fast-node');
    mkdirSync(dataDir, { recursive: true });
    const ref = { pid: process.pid, start: processStartTime(process.pid) };
    writeFileSync(join(dataDir, 'node.lock'), JSON.stringify(ref));
    writeFileSync(
      join(dataDir, 'node.json'),
      JSON.stringify({ ...ref, id: 'n1', name: 'n1', api_url: url, started_at: new Date().toISOString() }),
    );
    configFile = join(root, 'fast.toml');
    writeFileSync(configFile, '[network]\nmulticast_enabled = false\n');
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** Runs swarm with the memo kept under `memo` (XDG_RUNTIME_DIR); what it printed and loaded. */
  async function run(
    args: string[],
    memo: string,
    bin = SWARM_BIN,
  ): Promise<Loaded & { code: number | null; out: string; err: string }> {
    const log = join(root, `modules.${++seq}`);
    const r = await runProcess(process.execPath, [bin, ...args], {
      env: {
        SWARM_CONFIG: '',
        XDG_CONFIG_HOME: join(root, 'xdg'),
        XDG_RUNTIME_DIR: join(root, memo),
        NODE_OPTIONS: tracing(log),
      },
      input: '',
      timeoutMs: 30_000,
    });
    return { ...loaded(log), code: r.code, out: r.stdout, err: r.stderr };
  }

  it('answers from built-ins once the config was validated, printing what the full program printed', async () => {
    const get = ['-c', configFile, 'kv', 'get', 'k', '--data-dir', dataDir];
    const full = await run(get, 'memo-a');
    expect(full.code).toBe(0);
    expect(full.packages).toContain('zod');
    expect(full.own).toContain('cli/main.js');
    const fast = await run(get, 'memo-a');
    expect(fast.code).toBe(0);
    expect(fast.out).toBe(full.out);
    expect(fast.out).toBe('{"b":[1,"x"]}\n');
    // No npm package at all (no commander, zod, smol-toml, hono, ink, react, prom-client), none of the full CLI.
    expect(fast.packages).toEqual([]);
    expect(
      fast.own.filter((m) =>
        /^(cli\/(main|program|commands\/)|config\/(load|schema)|client\/client|api\/)/.test(m),
      ),
    ).toEqual([]);
    // The fast path ran: its one bundled CommonJS file after `npm run build` (required, so this
    // ES module trace does not list it, and it must not fall back to the modules), else its modules.
    if (existsSync(FAST_BUNDLE)) expect(fast.own).toEqual(['cli/argv.js']);
    else expect(fast.own).toContain('cli/fast.js');

    for (const [i, extra] of [['--json'], ['--stale', '--json']].entries()) {
      const a = await run([...get, ...extra], `memo-b${i}`);
      const b = await run([...get, ...extra], `memo-b${i}`);
      expect(a.packages).toContain('zod');
      expect(b.packages).toEqual([]);
      expect(b.out).toBe(a.out);
      expect(JSON.parse(b.out)).toEqual({ key: 'k', value: { b: [1, 'x'] }, revision: 7 });
    }
    const text = await run(['-c', configFile, 'kv', 'get', 'text', '--data-dir', dataDir], 'memo-a');
    expect(text.packages).toEqual([]);
    expect(text.out).toBe('plain\n');
  });

  it.skipIf(!existsSync(FAST_BUNDLE))(
    'a bundle older than a file it was built from (a tsc --watch re-emit) is not used: the modules are',
    async () => {
      // On a copy of the package (bin/, dist/ with its times, a src/ marker): the build's own dist/ is
      // shared with test files running in parallel, whose bundles list the same inputs.
      const pkg = join(root, 'pkg-copy');
      const repo = fileURLToPath(new URL('../../', import.meta.url));
      cpSync(join(repo, 'dist'), join(pkg, 'dist'), { recursive: true, preserveTimestamps: true });
      cpSync(join(repo, 'bin'), join(pkg, 'bin'), { recursive: true, preserveTimestamps: true });
      cpSync(join(repo, 'package.json'), join(pkg, 'package.json'));
      mkdirSync(join(pkg, 'src'));
      symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'));
      const bin = join(pkg, 'bin', 'swarm.js');
      const get = ['-c', configFile, 'kv', 'get', 'k', '--data-dir', dataDir];
      expect((await run(get, 'memo-w', bin)).code).toBe(0);
      expect((await run(get, 'memo-w', bin)).own).toEqual(['cli/argv.js']);
      // A dependency of fast.js re-emitted after the bundle was built; fast.js itself untouched.
      const dep = join(pkg, 'dist', 'common', 'errors.js');
      const later = new Date(statSync(join(pkg, 'dist', 'cli', 'fast.bundle.cjs')).mtimeMs + 60_000);
      utimesSync(dep, later, later);
      const stale = await run(get, 'memo-w', bin);
      expect(stale.code).toBe(0);
      expect(stale.out).toBe('{"b":[1,"x"]}\n');
      expect(stale.own).toContain('cli/fast.js');
      expect(stale.own).toContain('common/errors.js');
      // The bundle built again after it (its time now the newest): used again.
      utimesSync(join(pkg, 'dist', 'cli', 'fast.bundle.cjs'), later, new Date(later.getTime() + 1000));
      expect((await run(get, 'memo-w', bin)).own).toEqual(['cli/argv.js']);
    },
  );

  it('fails with the full program’s line and exit code', async () => {
    const missing = ['-c', configFile, 'kv', 'get', 'missing', '--data-dir', dataDir];
    const full = await run(missing, 'memo-c');
    const fast = await run(missing, 'memo-c');
    expect(full.code).toBe(1);
    expect(full.err).toBe('swarm: key missing not found\n');
    expect(fast.packages).toEqual([]);
    expect([fast.code, fast.out, fast.err]).toEqual([full.code, full.out, full.err]);

    // An answer of another shape: the fast path steps aside and the full program reports it.
    const odd = await run(['-c', configFile, 'kv', 'get', 'odd', '--data-dir', dataDir], 'memo-c');
    expect(odd.code).toBe(1);
    expect(odd.err).toMatch(/^swarm: unexpected response from .*\/v1\/kv\/odd: revision /);
    expect(odd.packages).toContain('zod');
  });

  it('never remembers a config that does not validate', async () => {
    const bad = join(root, 'bad.toml');
    writeFileSync(bad, '[gossip]\nfanout = "many"\n');
    const args = ['-c', bad, 'kv', 'get', 'k', '--data-dir', dataDir];
    const first = await run(args, 'memo-d');
    const second = await run(args, 'memo-d');
    // A config error: exit 2, one line naming the key.
    expect(first.code).toBe(2);
    expect(first.err).toMatch(/^swarm: .*fanout/);
    expect([second.code, second.err]).toEqual([first.code, first.err]);
    expect(second.packages).toContain('zod');
  });

  it('node stop asks the node over its API and waits for its exit, printing what the full program printed', async () => {
    const stopDir = join(root, 'stop-node');
    mkdirSync(stopDir, { recursive: true });
    const url = JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8')) as { api_url: string };
    /** A process standing for the node, published in stopDir as a running node is. */
    const startTarget = async (): Promise<number> => {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      stopTarget = child;
      await new Promise((r) => setTimeout(r, 100));
      const ref = { pid: child.pid!, start: processStartTime(child.pid!) };
      writeFileSync(join(stopDir, 'node.lock'), JSON.stringify(ref));
      writeFileSync(
        join(stopDir, 'node.json'),
        JSON.stringify({
          ...ref,
          id: 'n1',
          name: 'n1',
          api_url: url.api_url,
          started_at: new Date().toISOString(),
        }),
      );
      return child.pid!;
    };
    const stop = ['-c', configFile, 'node', 'stop', '--data-dir', stopDir];
    try {
      const pid1 = await startTarget();
      const full = await run(stop, 'memo-s');
      expect([full.code, full.out, full.err]).toEqual([0, `Stopped node n1 (PID ${pid1})\n`, '']);
      expect(full.packages).toContain('zod');
      const pid2 = await startTarget();
      const fast = await run(stop, 'memo-s');
      expect([fast.code, fast.out, fast.err]).toEqual([0, `Stopped node n1 (PID ${pid2})\n`, '']);
      // No npm package, none of the full CLI, and it returned only once the process was gone.
      expect(fast.packages).toEqual([]);
      expect(
        fast.own.filter((m) =>
          /^(cli\/(main|program|commands\/)|config\/(load|schema)|client\/client)/.test(m),
        ),
      ).toEqual([]);
      expect(stopTarget?.exitCode !== null || stopTarget?.signalCode !== null).toBe(true);
    } finally {
      stopTarget?.kill('SIGKILL');
    }
  });

  it('node status prints the full program’s text, for current and older nodes', async () => {
    const status = ['-c', configFile, 'node', 'status', '--data-dir', dataDir];
    const runtime = join(dataDir, 'node.json');
    const saved = readFileSync(runtime, 'utf8');
    const rt = JSON.parse(saved) as { api_url: string };
    try {
      for (const [i, prefix] of ['', '/old'].entries()) {
        writeFileSync(runtime, JSON.stringify({ ...rt, api_url: `${rt.api_url}${prefix}` }));
        const full = await run(status, `memo-e${i}`);
        const fast = await run(status, `memo-e${i}`);
        expect(full.code).toBe(0);
        expect(full.packages).toContain('zod');
        expect(fast.packages).toEqual([]);
        expect([fast.code, fast.out, fast.err]).toEqual([full.code, full.out, full.err]);
        expect(fast.out).toContain('node-one');
        expect(fast.out.includes('waiting')).toBe(i === 0);
      }
    } finally {
      writeFileSync(runtime, saved);
    }
  });
});

describe('swarm node start --foreground (the fast path of a restart)', () => {
  /** Starts a foreground node, waits for its node.json, stops it with SIGTERM; what it loaded and printed. */
  async function runNode(
    args: string[],
    dataDir: string,
    memo: string,
  ): Promise<Loaded & { code: number | null; err: string }> {
    const log = join(root, `modules.${++seq}`);
    const child = spawn(process.execPath, [SWARM_BIN, ...args], {
      env: {
        ...process.env,
        SWARM_CONFIG: '',
        XDG_CONFIG_HOME: join(root, 'xdg'),
        XDG_RUNTIME_DIR: join(root, memo),
        NODE_OPTIONS: tracing(log),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    let exited = false;
    void closed.then(() => (exited = true));
    while (!exited && Date.now() < deadline) {
      try {
        if (JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8')).pid === child.pid) break;
      } catch {
        // not yet written
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited) child.kill('SIGTERM');
    const code = await closed;
    return { ...loaded(log), code, err };
  }

  it('runs the node from the config validated at its last start: no zod, no commander', async () => {
    const dataDir = join(root, 'fg-node');
    const config = join(root, 'fg.toml');
    writeFileSync(
      config,
      '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nbind_address = "127.0.0.1"\n',
    );
    const args = foregroundArgs(config, dataDir, ['--bootstrap', '1', ...ZERO_PORTS, '--no-multicast']);
    const first = await runNode(args, dataDir, 'memo-fg');
    expect(first.code).toBe(0);
    expect(first.packages).toContain('zod');
    expect(first.packages).toContain('commander');
    const second = await runNode(args, dataDir, 'memo-fg');
    expect(second.code).toBe(0);
    expect(second.err).toMatch(/"msg":"node started"/);
    expect(second.packages.filter((p) => ['zod', 'commander', 'smol-toml'].includes(p))).toEqual([]);
    // The node runs from the daemon bundle when there is one (foreground-bundle.ts), else the compiled modules.
    if (daemonEntry().endsWith('.cjs')) {
      expect(second.own).toContain('cli/foreground-bundle.js');
      expect(second.own).not.toContain('cli/node-runtime.js');
    } else expect(second.own).toContain('cli/node-runtime.js');
    expect(second.own.filter((m) => /^(cli\/(main|program)|config\/(load|schema))\.js$/.test(m))).toEqual([]);
  }, 90_000);

  it('a start that fails fails once, with the full program’s line and exit code', async () => {
    // The data dir is held by a live process (this test's): the node must refuse to start.
    const dataDir = join(root, 'fg-locked');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(
      join(dataDir, 'node.lock'),
      JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) }),
    );
    const config = join(root, 'fg-locked.toml');
    writeFileSync(config, '[network]\nmulticast_enabled = false\n');
    const args = foregroundArgs(config, dataDir, ['--no-multicast', ...ZERO_PORTS]);
    const full = await runNode(args, dataDir, 'memo-fg-locked');
    const fast = await runNode(args, dataDir, 'memo-fg-locked');
    expect(full.code).not.toBe(0);
    const lines = (s: string): string[] => s.split('\n').filter((l) => l.startsWith('swarm: '));
    expect(lines(full.err)).toHaveLength(1);
    expect(fast.packages).not.toContain('zod');
    expect([fast.code, lines(fast.err)]).toEqual([full.code, lines(full.err)]);
  }, 90_000);
});
