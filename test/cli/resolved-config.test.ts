/**
 * The config a detached daemon is handed: written 0600, read back as written,
 * and refused (exit 2, a clear message) when it comes from another version or
 * format, both by the reader and by the daemon entry itself.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { daemonEntry } from '../../src/cli/daemon.js';
import {
  RESOLVED_CONFIG_FILE,
  RESOLVED_CONFIG_FORMAT,
  readResolvedConfig,
  writeResolvedConfig,
} from '../../src/cli/resolved-config.js';
import { loadConfig } from '../../src/config/load.js';
import { VERSION } from '../../src/version.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'swarm-resolved-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config() {
  return loadConfig({
    path: join(dir, 'absent.toml'),
    env: { SWARM_SECURITY__API_TOKEN: 's3cret', SWARM_API__PORT: '0' },
    overrides: [{ key: 'node.data_dir', value: dir, source: '--data-dir' }],
  }).config;
}

function daemon(path: string) {
  return spawnSync(process.execPath, [daemonEntry(), path], { encoding: 'utf8', timeout: 20_000 });
}

describe('resolved config handed to a daemon', () => {
  it('is written 0600 (even over a looser older file) and read back as written', () => {
    const c = config();
    const path = join(dir, RESOLVED_CONFIG_FILE);
    writeFileSync(path, '{}');
    chmodSync(path, 0o644);
    expect(writeResolvedConfig(dir, c)).toBe(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readResolvedConfig(path)).toEqual(c);
    expect(readResolvedConfig(path).security.api_token).toBe('s3cret');
  });

  it('refuses a file of another version, format or shape with a ConfigError (exit 2)', () => {
    const path = join(dir, RESOLVED_CONFIG_FILE);
    const cases: [unknown, RegExp][] = [
      [
        { format: RESOLVED_CONFIG_FORMAT, swarm_version: '0.0.0-old', config: config() },
        /from swarm "0\.0\.0-old"/,
      ],
      [{ format: RESOLVED_CONFIG_FORMAT + 1, swarm_version: VERSION, config: config() }, /of format 2/],
      [
        { format: RESOLVED_CONFIG_FORMAT, swarm_version: VERSION, config: { node: {} } },
        /lacks its \[network\]/,
      ],
      [[1], /of format undefined/],
    ];
    for (const [doc, msg] of cases) {
      writeFileSync(path, JSON.stringify(doc));
      let err: unknown;
      try {
        readResolvedConfig(path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).toContain('swarm node start');
    }
    writeFileSync(path, '{ not json');
    expect(() => readResolvedConfig(path)).toThrow(/cannot read the resolved config/);
  });

  it('the daemon entry exits 2 with `swarm: <reason>` on a stale file or bad arguments, starting nothing', () => {
    const path = join(dir, RESOLVED_CONFIG_FILE);
    writeFileSync(
      path,
      JSON.stringify({ format: RESOLVED_CONFIG_FORMAT, swarm_version: '0.0.0-old', config: {} }),
    );
    const stale = daemon(path);
    expect(stale.status).toBe(2);
    expect(stale.stderr).toMatch(/^swarm: .*resolved config of format 1 from swarm "0\.0\.0-old"/);
    const noArg = spawnSync(process.execPath, [daemonEntry()], { encoding: 'utf8', timeout: 20_000 });
    expect(noArg.status).toBe(2);
    expect(noArg.stderr).toMatch(/^swarm: usage: daemon-main\.js <config\.resolved\.json>/);
    expect(() => readFileSync(join(dir, 'node.lock'))).toThrow();
  });
});
