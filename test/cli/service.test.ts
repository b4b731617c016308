/**
 * `swarm service install|uninstall` (the compiled binary): the unit written to
 * a temp dir is checked by `systemd-analyze verify` (Debian's `systemd`
 * package; no running systemd needed), which also resolves ExecStart's
 * binary, so the absolute node and swarm paths must be real.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderUnit, unitWord } from '../../src/cli/service-unit.js';
import { runSwarm } from '../helpers/run-swarm.js';

const ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
const USER = userInfo().username;

let root: string;

function env(): NodeJS.ProcessEnv {
  return { HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), SWARM_CONFIG: '', SUDO_USER: '' };
}

/** `systemd-analyze verify`: exit code and everything it printed (warnings exit 0, so both matter). */
function verify(unit: string): { code: number | null; out: string } {
  const r = spawnSync(ANALYZE ?? 'systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

beforeAll(() => {
  // A space and a % in the path: both need escaping in ExecStart (quotes, %% for systemd's specifiers).
  root = mkdtempSync(join(tmpdir(), 'swarm service 100%-'));
  writeFileSync(join(root, 'config.toml'), '[node]\nname = "pi-kitchen"\n');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('service unit text', () => {
  it('escapes systemd specifiers and variables and quotes words with spaces', () => {
    expect(unitWord('/usr/bin/node')).toBe('/usr/bin/node');
    expect(unitWord('/a b/100%/$HOME')).toBe('"/a b/100%%/$$HOME"');
    expect(unitWord('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  const base = { node: '/n', swarm: '/s', config: '/c', dataDir: '/d', user: 'pi', version: '1', ports: [] };

  it("runs node with the detached daemon's flags on its command line", () => {
    const unit = renderUnit({ ...base, nodeFlags: ['--max-semi-space-size=4', '--lite-mode'] });
    expect(unit).toMatch(
      /^ExecStart=\/n --max-semi-space-size=4 --lite-mode \/s --config \/c node start --foreground$/m,
    );
    expect(unit).not.toMatch(/NODE_OPTIONS/);
  });

  it('sets the environment it is given, one Environment= line per variable, escaped for systemd', () => {
    const unit = renderUnit({ ...base, env: { MALLOC_ARENA_MAX: '1', X: 'a b$' } });
    expect(unit.split('\n')).toContain('Environment=MALLOC_ARENA_MAX=1');
    expect(unit.split('\n')).toContain('Environment="X=a b$$"');
    expect(renderUnit(base)).not.toMatch(/^Environment=/m);
  });

  it('asks for CAP_NET_BIND_SERVICE only when a configured port is below 1024', () => {
    expect(renderUnit({ ...base, ports: [5555, 5557, 5558] })).toMatch(/^CapabilityBoundingSet=$/m);
    const low = renderUnit({ ...base, ports: [5555, 80, 0] });
    expect(low).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    expect(low).toMatch(/^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  });
});

describe.skipIf(ANALYZE === undefined)(
  `swarm service install${ANALYZE ? '' : ' (skipped: no systemd-analyze; apt-get install systemd)'}`,
  () => {
    it('writes a complete unit that systemd-analyze verify accepts without a warning', async () => {
      const units = join(root, 'units');
      mkdirSync(units);
      const config = join(root, 'config.toml');
      const r = await runSwarm(
        ['service', 'install', '--config', config, '--user', USER, '--unit-dir', units],
        {
          env: env(),
        },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const path = join(units, 'iot-swarm.service');
      expect(r.stdout).toContain(`wrote ${path}`);
      expect(r.stdout).toContain('systemctl enable --now iot-swarm');
      const unit = readFileSync(path, 'utf8');
      const sections = [...unit.matchAll(/^\[(\w+)\]$/gm)].map((m) => m[1]);
      expect(sections).toEqual(['Unit', 'Service', 'Install']);
      const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
      expect(exec.startsWith(`${process.execPath} `) || exec.startsWith('/')).toBe(true);
      expect(exec).toMatch(
        /\/bin\/swarm\.js --config "[^"]*100%%-[^"]*\/config\.toml" node start --foreground$/,
      );
      for (const line of [
        `User=${USER}`,
        'Restart=on-failure',
        'WantedBy=multi-user.target',
        'ProtectSystem=strict',
        'NoNewPrivileges=yes',
        'ProtectKernelTunables=yes',
        'CapabilityBoundingSet=',
        // The launcher's environment for a daemon (src/cli/daemon.ts DAEMON_ENV): glibc's malloc arenas.
        'Environment=MALLOC_ARENA_MAX=1',
      ])
        expect(unit.split('\n')).toContain(line);
      // The data dir (data/ next to the config) is the one writable path, and it exists for the service.
      expect(unit).toMatch(/^ReadWritePaths=".*100%%-.*\/data"$/m);
      expect(existsSync(join(root, 'data'))).toBe(true);
      // Nothing that would stop a node reading /sys or binding its ports.
      expect(unit).not.toMatch(/^(ProtectProc|ProcSubset|InaccessiblePaths|IPAddressDeny|PrivateNetwork)=/m);

      const v = verify(path);
      expect(v.out).toBe('');
      expect(v.code).toBe(0);

      // The check can fail: the same unit with a bad Restart= value draws a warning.
      const bad = join(root, 'bad');
      mkdirSync(bad);
      writeFileSync(join(bad, 'iot-swarm.service'), unit.replace('Restart=on-failure', 'Restart=sometimes'));
      expect(verify(join(bad, 'iot-swarm.service')).out).toMatch(/restart specifier/);

      // Installing again updates our own unit; a unit swarm did not write is kept unless --force.
      const again = await runSwarm(
        ['service', 'install', '--config', config, '--user', USER, '--unit-dir', units],
        {
          env: env(),
        },
      );
      expect(again.code).toBe(0);
      writeFileSync(join(bad, 'iot-swarm.service'), '[Service]\nExecStart=/bin/true\n');
      const foreign = await runSwarm(['service', 'install', '--config', config, '--unit-dir', bad], {
        env: env(),
      });
      expect(foreign.code).toBe(1);
      expect(foreign.stderr).toMatch(/^swarm: .*iot-swarm\.service exists and was not written by swarm/);
      const refused = await runSwarm(['service', 'uninstall', '--unit-dir', bad], { env: env() });
      expect(refused.code).toBe(1);
      expect(existsSync(join(bad, 'iot-swarm.service'))).toBe(true);

      const un = await runSwarm(['service', 'uninstall', '--unit-dir', units], { env: env() });
      expect(un.code).toBe(0);
      expect(un.stdout).toContain(`removed ${path}`);
      expect(existsSync(path)).toBe(false);
      const none = await runSwarm(['service', 'uninstall', '--unit-dir', units], { env: env() });
      expect(none.code).toBe(0);
      expect(none.stderr).toMatch(/nothing to remove/);
    });
  },
);

describe('swarm service install errors', () => {
  it('refuses a missing config file, an unknown user and an unwritable unit dir, with one line each', async () => {
    const config = join(root, 'config.toml');
    const noFile = await runSwarm(['service', 'install', '--config', join(root, 'nope.toml'), '--print'], {
      env: env(),
    });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/^swarm: config file .*nope\.toml \(from --config\) does not exist/);
    const noDefault = await runSwarm(['service', 'install', '--print'], { env: env() });
    expect(noDefault.code).toBe(2);
    expect(noDefault.stderr).toMatch(/^swarm: no config file at .*: a service runs from a file/);
    const noUser = await runSwarm(
      ['service', 'install', '--config', config, '--user', 'no-such-user-x1', '--print'],
      {
        env: env(),
      },
    );
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toBe(
      'swarm: no user named no-such-user-x1 on this machine (--user NAME; create it with `useradd --system no-such-user-x1`)\n',
    );
    const noDir = await runSwarm(
      ['service', 'install', '--config', config, '--user', USER, '--unit-dir', join(root, 'missing', 'dir')],
      { env: env() },
    );
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toMatch(
      /^swarm: cannot write .*iot-swarm\.service: the directory does not exist\n$/,
    );
    const printed = await runSwarm(['service', 'install', '--config', config, '--user', USER, '--print'], {
      env: env(),
    });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^# Written by `swarm service install`\n/);
  });
});
