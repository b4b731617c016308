/**
 * What a detached daemon loads of Node's built-ins while it forms, serves
 * reads and writes, and idles (docs/operations.md, "Memory"): node:crypto
 * (no swarm key), node:zlib, node:perf_hooks and node:v8 are loaded on first
 * use only (src/common/builtins.ts), node:fs/promises not at all
 * (src/common/light-fs-promises.ts), node:http neither (the API's server is
 * on node:net, src/api/http1/), and the bundled daemon, a CommonJS file,
 * never loads Node's ES module loader. Each of these is RSS in every idle
 * node, so a change that imports one of them statically again fails here.
 * The daemon writes its loaded built-ins when it stops
 * (SWARM_DEBUG_LOADED_BUILTINS, src/cli/daemon-main.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { send as sendRaw, type Reply } from '../helpers/http.js';
import { withDaemon } from '../helpers/run-swarm.js';
import { loopbackToml } from '../helpers/config-toml.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** With the token (its check is the one crypto call an API had), JSON when there is a body. */
function send(port: number, method: string, path: string, body?: string): Promise<Reply> {
  const headers: Record<string, string> = { authorization: 'Bearer t0ken' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return sendRaw(port, method, path, body, headers);
}

/** Built-ins an idle daemon must not have loaded (a prefix matches a whole family). */
const NOT_AT_IDLE = [
  'crypto',
  'internal/crypto/',
  'zlib',
  'perf_hooks',
  'internal/perf/performance',
  'v8',
  'worker_threads',
  'internal/deps/undici/',
  'fs/promises',
  'internal/fs/promises',
  // The API serves HTTP/1.1 on node:net (src/api/http1/): node:http and its parser are not needed.
  'http',
  '_http_',
  'internal/http',
];

describe('an idle detached daemon', () => {
  it('has not loaded crypto, zlib, perf_hooks, v8, fs/promises, http or undici (nor the ES module loader, when bundled)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'swarm-builtins-'));
    const config = join(root, 'config.toml');
    writeFileSync(config, loopbackToml([], ['[security]', 'api_token = "t0ken"']));
    const dataDir = join(root, 'd');
    const loadedFile = join(root, 'builtins.txt');
    const env = { SWARM_CONFIG: '', SWARM_DEBUG_LOADED_BUILTINS: loadedFile };
    let bundled = false;
    try {
      await withDaemon({ config, dir: dataDir, env }, async (rt) => {
        expect(rt.stderr).toBe('');
        bundled = readFileSync(`/proc/${rt.pid}/cmdline`, 'utf8').includes('/dist/daemon.cjs');
        // One malloc arena (the launcher's DAEMON_ENV, src/cli/daemon.ts), unless this environment chose one.
        const environ = readFileSync(`/proc/${rt.pid}/environ`, 'utf8').split('\0');
        expect(environ).toContain(`MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '1'}`);
        const port = Number(new URL(rt.api_url).port);
        // A write (with the token: its check is the one crypto call an API had) once the one-node cluster formed.
        const deadline = Date.now() + 60_000;
        let put = await send(port, 'PUT', '/v1/kv/a', '{"value":1}');
        while (put.status !== 200 && Date.now() < deadline) {
          await sleep(250);
          put = await send(port, 'PUT', '/v1/kv/a', '{"value":1}');
        }
        expect(put.status, put.body).toBe(200);
        expect((await send(port, 'GET', '/v1/kv/a')).status).toBe(200);
        expect((await send(port, 'GET', '/v1/members')).status).toBe(200);
        expect((await send(port, 'GET', '/v1/status')).status).toBe(200);
        // Idle: gossip rounds, energy samples, the compiler-tiering sampler, Raft's quiet ticks.
        await sleep(4000);
      });
      const loaded = readFileSync(loadedFile, 'utf8').trim().split('\n');
      // The list is the real one: what any node needs is there.
      for (const m of ['net', 'dgram', 'fs']) expect(loaded).toContain(m);
      const bad = loaded.filter((m) =>
        NOT_AT_IDLE.some((p) => (p.endsWith('/') ? m.startsWith(p) : m === p)),
      );
      expect(bad).toEqual([]);
      if (bundled) expect(loaded.filter((m) => m.startsWith('internal/modules/esm/loader'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
