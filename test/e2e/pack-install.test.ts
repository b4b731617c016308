/**
 * The package as users get it: `npm pack` (of the built tree: `npm run build`
 * first, as for every e2e test), then `npm install -g ./iot-swarm-X.tgz` into
 * a clean temp prefix (dependencies from the npm cache, else the registry;
 * no build tools: the tarball holds dist/), then the installed `swarm` runs:
 * `swarm version`, and a node started from the install serves its API and
 * the web dashboard (web/ is in the package), from the bundled daemon entry.
 * Bounded: every npm step has a timeout; with no registry reachable and
 * nothing cached the test skips, saying so.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackToml } from '../helpers/config-toml.js';
import { runProcess } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };
/** npm's errors when neither the cache nor the registry can provide a dependency. */
const OFFLINE =
  /\b(ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)\b/;

let root: string;
const pids = new Set<number>();

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-pack-'));
});

afterAll(() => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('npm pack, then npm install -g from the tarball on a clean prefix', () => {
  it('installs without build tools and the installed swarm runs a node with its dashboard', async (ctx) => {
    expect(existsSync(join(REPO, 'dist/cli/main.js')), 'run `npm run build` first').toBe(true);
    // The built tree as it is (the test suite built it): no second build inside the test.
    const pack = await runProcess('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], {
      cwd: REPO,
      timeoutMs: 120_000,
    });
    expect(pack.code, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = new Set(info!.files.map((f) => f.path));
    for (const f of [
      'bin/swarm.js',
      'dist/cli/main.js',
      'dist/daemon.cjs',
      'dist/cli/fast.bundle.cjs',
      'dist/index.js',
      'dist/index.d.ts',
      'web/dashboard/index.html',
      'web/dashboard/app.js',
      'README.md',
      'package.json',
    ])
      expect(files, f).toContain(f);
    expect([...files].filter((f) => /^(src|test|bench)\//.test(f))).toEqual([]);
    const tarball = join(root, info!.filename);
    expect(info!.filename).toBe(`${PKG.name}-${PKG.version}.tgz`);

    const prefix = join(root, 'prefix');
    // A clean prefix, the user's npm cache; no PATH entry for the repo's node_modules/.bin (no tsc).
    const env = {
      npm_config_prefix: prefix,
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    };
    const install = await runProcess(
      'npm',
      ['install', '-g', '--prefer-offline', '--no-audit', '--no-fund', tarball],
      {
        cwd: root,
        env,
        timeoutMs: 300_000,
      },
    );
    if (install.code !== 0 && OFFLINE.test(install.stderr)) {
      ctx.skip(
        `no npm registry reachable and the dependencies are not cached: ${OFFLINE.exec(install.stderr)?.[0]}`,
      );
      return;
    }
    expect(install.code, install.stderr).toBe(0);
    const installed = join(prefix, 'lib/node_modules', PKG.name);
    expect(existsSync(join(installed, 'dist/cli/main.js'))).toBe(true);
    expect(existsSync(join(installed, 'node_modules/typescript'))).toBe(false);
    const swarm = join(prefix, 'bin/swarm');
    // npm may run `prepare` of a package installed from a tarball (npm 11 asks first): there it must do
    // nothing, as there is no source to build and no compiler.
    const prepare = await runProcess('npm', ['run', 'prepare'], { cwd: installed, env, timeoutMs: 60_000 });
    expect(prepare.code, prepare.stderr).toBe(0);
    expect(prepare.stdout).not.toContain('tsc');

    const version = await runProcess(swarm, ['version'], { cwd: root, timeoutMs: 30_000 });
    expect(version.stderr).toBe('');
    expect(version.stdout).toBe(`iot-swarm ${PKG.version}\n`);

    // A node from the installed package: its API and the dashboard's files answer.
    const home = join(root, 'home');
    const config = join(root, 'config.toml');
    writeFileSync(config, loopbackToml([]));
    const nodeEnv = { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg'), SWARM_CONFIG: '' };
    const dataDir = join(root, 'data');
    const started = await runProcess(
      swarm,
      ['--config', config, 'node', 'start', '--json', '--no-multicast', '--data-dir', dataDir],
      {
        cwd: root,
        env: nodeEnv,
        timeoutMs: 60_000,
      },
    );
    const pid = /"pid":(\d+)/.exec(started.stdout);
    if (pid) pids.add(Number(pid[1]));
    expect(started.code, started.stderr).toBe(0);
    const { api_url } = JSON.parse(started.stdout) as { api_url: string };
    const page = await fetch(`${api_url}/`, { signal: AbortSignal.timeout(5000) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/dashboard/app.js');
    // The installed node runs the bundled daemon (one module; docs/operations.md, "Memory").
    if (pid)
      expect(readFileSync(`/proc/${pid[1]}/cmdline`, 'utf8').split('\0')).toContain(
        join(installed, 'dist/daemon.cjs'),
      );
    const stopped = await runProcess(swarm, ['--config', config, 'node', 'stop', '--data-dir', dataDir], {
      cwd: root,
      env: nodeEnv,
      timeoutMs: 60_000,
    });
    expect(stopped.code, stopped.stderr).toBe(0);
  }, 600_000);
});
