/**
 * The detached daemon as one bundled file (scripts/bundle-daemon.mjs,
 * src/cli/daemon.ts): what goes into the bundle, that it runs from any
 * directory with its paths right, and which entry the launcher spawns.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonEntry } from '../../src/cli/daemon.js';
import { VERSION } from '../../src/version.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-bundle-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the daemon bundle', () => {
  it('holds the node and hono, not zod, commander, the config schema, prom-client or the dashboard', () => {
    expect(
      existsSync(join(REPO, 'dist/cli/daemon-main.js')),
      'build first (npx tsc -p tsconfig.build.json)',
    ).toBe(true);
    const out = join(root, 'sub', 'daemon.cjs');
    const built = spawnSync(process.execPath, [join(REPO, 'scripts/bundle-daemon.mjs'), out], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(built.status, built.stderr).toBe(0);
    const inputs = JSON.parse(readFileSync(join(root, 'sub', 'daemon.inputs.json'), 'utf8')) as string[];
    const has = (re: RegExp): string[] => inputs.filter((f) => re.test(f));
    expect(has(/dist\/node\/raft-component\.js$/)).toHaveLength(1);
    expect(has(/dist\/api\/server\.js$/)).toHaveLength(1);
    expect(has(/node_modules\/hono\//).length).toBeGreaterThan(0);
    expect(has(/node_modules\/@msgpack\/msgpack\/dist\.esm\//).length).toBeGreaterThan(0);
    for (const absent of [
      /node_modules\/(zod|commander|smol-toml|prom-client|ink|react)\//,
      /dist\/config\/schema\.js$/,
      /dist\/cli\/commands\//,
      /dist\/cli\/program\.js$/,
    ])
      expect(has(absent), String(absent)).toEqual([]);
  });

  it('runs from elsewhere with the paths of the compiled files (package.json, the usage line)', () => {
    const out = join(root, 'sub', 'daemon.cjs');
    // The first line of the bundle's version module reads ../package.json relative to dist/version.js.
    const text = readFileSync(out, 'utf8');
    expect(text).not.toMatch(/readFileSync\(new URL\("\.\.\/package\.json",\s*import\.meta\.url\)/);
    // Minified (the source text stays in the heap), but the top-level names are kept: error classes
    // keep their names (new.target.name), and stack traces name modules' functions and classes.
    expect(text.startsWith('"use strict";')).toBe(true);
    expect(text).toMatch(/(?:[,;]|\bvar )SwarmError=class extends Error\{/);
    expect(text).toMatch(/(?:[,;]|\bvar )NotLeaderError=class extends SwarmError\{/);
    // Nothing that wakes ICU (its collator, time zone or locale data: 0.9-3 MB of the binary's pages
    // mapped for good, docs/operations.md "Memory"): times by isoUtc/httpDate, names by code unit.
    expect(text).not.toMatch(/\.(localeCompare|toISOString|toUTCString|toLocale\w*)\(|\bIntl\./);
    // reportFailure(err, stderr) of src/common/errors.ts: its name kept, its parameters renamed.
    expect(text).toMatch(/function reportFailure\([a-z],[a-z]\)\{/);
    const bad = join(root, 'missing.json');
    const r = spawnSync(process.execPath, [out, bad], { encoding: 'utf8', timeout: 30_000 });
    // It got as far as reading its config (so every module loaded), and failed on that alone.
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^swarm: /);
    expect(r.stderr).toContain('missing.json');
    const usage = spawnSync(process.execPath, [out], { encoding: 'utf8', timeout: 30_000 });
    expect(usage.stderr).toMatch(/^swarm: usage: daemon-main\.js <config\.resolved\.json>/);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('daemonEntry', () => {
  it('spawns the bundle unless it is missing or older than the compiled entry', () => {
    const compiled = join(root, 'daemon-main.js');
    const bundled = join(root, 'daemon.cjs');
    expect(daemonEntry(compiled, bundled)).toBe(compiled); // neither: the compiled path, whose absence is reported at spawn
    writeFileSync(compiled, '');
    expect(daemonEntry(compiled, bundled)).toBe(compiled);
    writeFileSync(bundled, '');
    const t = Date.now() / 1000;
    utimesSync(compiled, t - 10, t - 10);
    utimesSync(bundled, t, t);
    expect(daemonEntry(compiled, bundled)).toBe(bundled);
    // An installed tarball: equal times.
    utimesSync(bundled, t - 10, t - 10);
    expect(daemonEntry(compiled, bundled)).toBe(bundled);
    // `tsc` alone after a full build: the bundle is stale.
    utimesSync(compiled, t, t);
    expect(daemonEntry(compiled, bundled)).toBe(compiled);
    rmSync(compiled);
    expect(daemonEntry(compiled, bundled)).toBe(bundled);
  });

  it('a bundle older than a dist/ file it was built from (a tsc --watch re-emit) is passed over', () => {
    // dist/daemon.cjs beside its list, which names files from the package root.
    const dist = join(root, 'watch', 'dist');
    mkdirSync(join(dist, 'cli'), { recursive: true });
    const compiled = join(dist, 'cli', 'daemon-main.js');
    const dep = join(dist, 'node', 'x.js');
    mkdirSync(dirname(dep), { recursive: true });
    const bundled = join(dist, 'daemon.cjs');
    for (const f of [compiled, dep, bundled]) writeFileSync(f, '');
    writeFileSync(
      join(dist, 'daemon.inputs.json'),
      JSON.stringify(['dist/cli/daemon-main.js', 'dist/node/x.js', 'node_modules/hono/dist/index.js']),
    );
    const t = Date.now() / 1000;
    utimesSync(compiled, t - 10, t - 10);
    utimesSync(dep, t - 10, t - 10);
    utimesSync(bundled, t - 5, t - 5);
    expect(daemonEntry(compiled, bundled, true)).toBe(bundled);
    // Only the dependency re-emitted after the bundle.
    utimesSync(dep, t, t);
    expect(daemonEntry(compiled, bundled, true)).toBe(compiled);
    // An installed package still takes its bundle.
    expect(daemonEntry(compiled, bundled, false)).toBe(bundled);
    // A listed file gone since the build: stale too.
    utimesSync(dep, t - 10, t - 10);
    rmSync(dep);
    expect(daemonEntry(compiled, bundled, true)).toBe(compiled);
  });

  it('an installed package (no src/) takes its bundle whatever the unpacking order of the two files', () => {
    const compiled = join(root, 'installed-daemon-main.js');
    const bundled = join(root, 'installed-daemon.cjs');
    writeFileSync(compiled, '');
    writeFileSync(bundled, '');
    const t = Date.now() / 1000;
    utimesSync(bundled, t - 1, t - 1);
    utimesSync(compiled, t, t);
    expect(daemonEntry(compiled, bundled, false)).toBe(bundled);
    expect(daemonEntry(compiled, bundled, true)).toBe(compiled);
    rmSync(bundled);
    expect(daemonEntry(compiled, bundled, false)).toBe(compiled);
  });
});
