/**
 * Bounded input on a real daemon (compiled binary; `npm run build` first),
 * issue #14 items 5-9: hostile connections on the Raft port announcing
 * 16 MiB frames, oversized REST bodies (with Content-Length and chunked),
 * JSON the API must refuse before proposing, keys with bad escapes, and a
 * full disk, which must end the process with exit 1.
 *
 * One node on loopback, multicast off, port 0 everywhere. The RSS peaks are
 * printed; the bounds asserted are generous (a loaded CI machine), the
 * numbers before the fix were hundreds of MB.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackToml } from '../helpers/config-toml.js';
import { SWARM_BIN } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

const MB = 1024 * 1024;
let root: string;
const children = new Set<ChildProcess>();

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-bounded-e2e-'));
  writeFileSync(join(root, 'config.toml'), loopbackToml(['bootstrap_expect = 1']));
});

afterAll(() => {
  for (const c of children) if (c.pid !== undefined && alive(c.pid)) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

interface Daemon {
  pid: number;
  api: string;
  raft: { host: string; port: number };
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `node start --foreground` (JSON logs on stderr); `wrap` runs it through another command (unshare). */
async function startForeground(name: string, wrap?: (argv: string[]) => [string, string[]]): Promise<Daemon> {
  const argv = [
    process.execPath,
    SWARM_BIN,
    '--config',
    join(root, 'config.toml'),
    'node',
    'start',
    '--foreground',
    '--name',
    name,
    '--data-dir',
    join(root, name),
  ];
  const [cmd, args] = wrap ? wrap(argv) : [argv[0] as string, argv.slice(1)];
  const child = spawn(cmd, args, {
    env: { ...process.env, HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), SWARM_CONFIG: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const api = /"msg":"api listening","address":"([^"]+)"/.exec(err)?.[1];
    const raft = /"msg":"raft listening","address":"([^"]+):(\d+)"/.exec(err);
    const pid = /"msg":"node started".*?"pid":(\d+)/.exec(err)?.[1];
    if (api && raft && pid) {
      const d: Daemon = {
        pid: Number(pid),
        api: `http://${api}`,
        raft: { host: raft[1] as string, port: Number(raft[2]) },
        stderr: () => err,
        exited,
      };
      await untilLeader(d);
      return d;
    }
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`node ${name} did not start (exit ${child.exitCode}): ${err}`);
    await sleep(50);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function untilLeader(d: Daemon): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const r = await call(d, 'GET', '/v1/leader').catch(() => null);
    if (r && (JSON.parse(r.body) as { role: string }).role === 'leader') return;
    await sleep(100);
  }
  throw new Error('no leader');
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Sample a process's RSS every 50 ms until stopped; returns the peak. */
function sampleRss(pid: number): { stop: () => number } {
  let peak = rssMb(pid);
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // exited
    }
  }, 50);
  return {
    stop: () => {
      clearInterval(t);
      return peak;
    },
  };
}

interface Answer {
  status: number;
  body: string;
}

/**
 * One request. `body` is written chunk by chunk (chunked unless headers carry
 * a content-length); the server may answer and close before it has all been
 * written: the answer is what counts.
 */
function call(
  d: Daemon,
  method: string,
  path: string,
  body: Iterable<Buffer | string> = [],
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(d.api);
    const req = request(
      { host: u.hostname, port: Number(u.port), method, path, headers, timeout: timeoutMs },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout ${method} ${path}`)));
    req.on('error', reject);
    const it = body[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        if (req.destroyed) return;
        const n = it.next();
        if (n.done) {
          req.end();
          return;
        }
        if (!req.write(n.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

function* chunks(total: number, chunk: Buffer): Generator<Buffer> {
  for (let sent = 0; sent < total; sent += chunk.length)
    yield chunk.subarray(0, Math.min(chunk.length, total - sent));
}

async function revision(d: Daemon): Promise<number> {
  const r = await call(d, 'GET', '/v1/kv?prefix=');
  return (JSON.parse(r.body) as { revision: number }).revision;
}

describe('bounded input on a real daemon', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startForeground('bounded');
  }, 60_000);
  afterAll(async () => {
    if (alive(d.pid)) process.kill(d.pid, 'SIGTERM');
    await d.exited;
  });

  it('60 hostile connections each announcing a 16 MiB frame: RSS stays bounded, the node serves', async () => {
    await sleep(1000);
    const before = rssMb(d.pid);
    const rss = sampleRss(d.pid);
    const piece = Buffer.alloc(MB, 0x41);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(16 * MB);
    const started = Date.now();
    // Each connection sends the header and then up to 16 MiB of the frame, as fast as the socket takes it.
    const attack = Array.from(
      { length: 60 },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect(d.raft, () => {
            let sent = 0;
            const pump = (): void => {
              while (!s.destroyed && sent < 16 * MB && Date.now() - started < 60_000) {
                sent += piece.length;
                if (!s.write(piece)) {
                  s.once('drain', pump);
                  return;
                }
              }
              if (!s.destroyed) s.end();
            };
            s.write(header);
            pump();
          });
          s.on('error', () => {});
          s.once('close', () => resolve());
          setTimeout(() => s.destroy(), 70_000).unref();
        }),
    );
    await Promise.all(attack);
    await sleep(500);
    const peak = rss.stop();
    console.log(
      `hostile raft connections: RSS before ${before.toFixed(1)} MB, peak ${peak.toFixed(1)} MB (+${(peak - before).toFixed(1)} MB)`,
    );
    expect(peak - before).toBeLessThan(100);
    const put = await call(d, 'PUT', '/v1/kv/after-attack', ['{"value":1}'], {
      'content-type': 'application/json',
    });
    expect(put.status).toBe(200);
    const m = await call(d, 'GET', '/metrics');
    expect(m.body).toMatch(
      /swarm_raft_unauthenticated_refused_total\{reason="oversize_unauthenticated"\} [1-9]/,
    );
  }, 120_000);

  it('oversized bodies (ten 20 MB PUTs with Content-Length, one chunked 200 MB stream): 413, RSS bounded', async () => {
    const before = rssMb(d.pid);
    const rss = sampleRss(d.pid);
    const piece = Buffer.alloc(MB, 0x20);
    const sized = Array.from({ length: 10 }, (_, i) =>
      call(d, 'PUT', `/v1/kv/big${i}`, chunks(20 * MB, piece), {
        'content-type': 'application/json',
        'content-length': String(20 * MB),
      }).catch((e: Error) => ({ status: -1, body: e.message })),
    );
    const streamed = call(d, 'PUT', '/v1/kv/stream', chunks(200 * MB, piece), {
      'content-type': 'application/json',
    }).catch((e: Error) => ({ status: -1, body: e.message }));
    const answers = await Promise.all([...sized, streamed]);
    await sleep(500);
    const peak = rss.stop();
    console.log(
      `oversized bodies: RSS before ${before.toFixed(1)} MB, peak ${peak.toFixed(1)} MB (+${(peak - before).toFixed(1)} MB)`,
    );
    for (const a of answers) {
      expect(a.status, a.body).toBe(413);
      expect(JSON.parse(a.body)).toMatchObject({ error: { code: 'too_large' } });
    }
    expect(peak - before).toBeLessThan(100);
    expect((await call(d, 'GET', '/v1/kv/big0')).status).toBe(404);
  }, 120_000);

  it('non-finite numbers and deep nesting: 400, nothing committed', async () => {
    const rev = await revision(d);
    const bodies = [
      '{"value": 1e999}',
      '{"value": [1, {"x": -1e999}]}',
      `{"value": ${'['.repeat(5000)}${']'.repeat(5000)}}`,
      `{"value": ${'{"a":'.repeat(65)}1${'}'.repeat(65)}}`,
    ];
    for (const b of bodies) {
      const r = await call(d, 'PUT', '/v1/kv/bad', [b], { 'content-type': 'application/json' });
      expect(r.status, b.slice(0, 40)).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'bad_request' } });
    }
    expect(await revision(d)).toBe(rev);
    expect((await call(d, 'GET', '/v1/kv/bad')).status).toBe(404);
    // 64 levels is the documented limit and is stored.
    const ok = await call(d, 'PUT', '/v1/kv/deep64', [`{"value": ${'['.repeat(64)}${']'.repeat(64)}}`]);
    expect(ok.status, ok.body).toBe(200);
  });

  it('keys with undecodable percent escapes and bodies that are not UTF-8: 400, nothing stored', async () => {
    const rev = await revision(d);
    for (const key of ['a%zz', 'a%', '%c3%28', '%ff']) {
      const r = await call(d, 'PUT', `/v1/kv/${key}`, ['{"value":1}']);
      expect(r.status, key).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'bad_key' } });
    }
    const latin1 = Buffer.concat([Buffer.from('{"value":"caf'), Buffer.of(0xe9), Buffer.from('"}')]);
    const r = await call(d, 'PUT', '/v1/kv/utf8', [latin1]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'bad_utf8' } });
    expect(await revision(d)).toBe(rev);
    // The escaped form is a key of its own, decoded once.
    expect((await call(d, 'PUT', '/v1/kv/a%25zz', ['{"value":2}'])).status).toBe(200);
    const list = JSON.parse((await call(d, 'GET', '/v1/kv?prefix=a%25')).body) as {
      items: { key: string }[];
    };
    expect(list.items.map((i) => i.key)).toEqual(['a%zz']);
  });
});

/** A private mount namespace with a small tmpfs needs root and util-linux's unshare. */
const canTmpfs =
  process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!canTmpfs)('a full disk', () => {
  it('stops the node with exit 1 and one swarm: line (systemd restarts it)', async () => {
    const mnt = join(root, 'small-disk');
    mkdirSync(mnt);
    // The data dir on a 4 MiB tmpfs, mounted in a mount namespace of the node's own (gone with it).
    const d = await startForeground('small-disk/data', (argv) => [
      'unshare',
      ['-m', 'sh', '-c', `mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"`, mnt, ...argv],
    ]);
    const value = `{"value":"${'x'.repeat(60_000)}"}`;
    let last = 0;
    for (let i = 0; i < 200 && alive(d.pid); i++) {
      const r = await call(d, 'PUT', `/v1/kv/fill${i}`, [value], {}, 10_000).catch(() => null);
      if (r === null) break;
      last = r.status;
      if (r.status !== 200) break;
    }
    const code = await Promise.race([d.exited, sleep(30_000).then(() => 'timeout' as const)]);
    expect(code, `last status ${last}; stderr: ${d.stderr().slice(-2000)}`).toBe(1);
    const plain = d
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('swarm: '));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(/^swarm: node stopped after a fatal failure: raft storage failure: .*ENOSPC/);
    expect(d.stderr()).toMatch(/"level":"error".*"msg":"fatal failure; stopping node".*ENOSPC/);
  }, 120_000);
});
