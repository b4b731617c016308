/**
 * `swarm node start --foreground` without a terminal (a service manager's
 * node) runs the node from the daemon bundle, as a detached daemon does
 * (src/cli/foreground-bundle.ts): on its first start (the full program) and
 * on a restart (the fast path, bin/swarm.js). The bundle's entry is the one
 * that writes the built-ins it loaded to SWARM_DEBUG_LOADED_BUILTINS when
 * the node stops, so that file's presence says which code ran; a node run
 * from the fast path loads no node:http (fast.ts loads it for its GETs only).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { daemonEntry } from '../../src/cli/daemon.js';
import { loopbackToml } from '../helpers/config-toml.js';
import { SWARM_BIN } from '../helpers/run-swarm.js';

const root = mkdtempSync(join(tmpdir(), 'swarm-fg-bundle-'));
const started = new Set<number>();

afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** Start a foreground node, wait for it, stop it with SIGTERM: its exit code and the built-ins it wrote. */
async function runOnce(
  config: string,
  dataDir: string,
  loadedFile: string,
): Promise<{ code: number | null; loaded: string[] | null }> {
  rmSync(loadedFile, { force: true });
  const child = spawn(
    process.execPath,
    [SWARM_BIN, '--config', config, 'node', 'start', '--foreground', '--data-dir', dataDir],
    {
      env: { ...process.env, SWARM_CONFIG: '', SWARM_DEBUG_LOADED_BUILTINS: loadedFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.add(child.pid ?? 0);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const end = Date.now() + 30_000;
  while (!stderr.includes('"node started"') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(stderr).toContain('"node started"');
  child.kill('SIGTERM');
  const code = await exited;
  started.delete(child.pid ?? 0);
  const loaded = existsSync(loadedFile) ? readFileSync(loadedFile, 'utf8').trim().split('\n') : null;
  return { code, loaded };
}

describe.skipIf(!daemonEntry().endsWith('.cjs'))('a foreground node without a terminal', () => {
  it('runs from the daemon bundle, on its first start and on the fast path of a restart', async () => {
    const config = join(root, 'config.toml');
    writeFileSync(config, loopbackToml([]));
    const dataDir = join(root, 'd');
    const loadedFile = join(root, 'builtins.txt');
    const first = await runOnce(config, dataDir, loadedFile);
    expect(first.code).toBe(0);
    expect(first.loaded, 'the bundle entry wrote its built-ins').not.toBeNull();
    expect(existsSync(join(dataDir, 'config.resolved.json'))).toBe(true);
    // The restart takes the fast path (the config was remembered): no commander, no zod, no node:http.
    const again = await runOnce(config, dataDir, loadedFile);
    expect(again.code).toBe(0);
    expect(again.loaded).not.toBeNull();
    expect(again.loaded).not.toContain('http');
  }, 120_000);
});
