/** `swarm config ...` and `swarm keygen` as real subprocesses, HOME and XDG pointed at temp dirs. */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configTemplate, defaultConfig } from '../../src/config/index.js';
import { runSwarm } from '../helpers/run-swarm.js';

let root: string;
let env: NodeJS.ProcessEnv;
let xdgPath: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-cli-config-test-'));
  env = { HOME: join(root, 'home'), XDG_CONFIG_HOME: join(root, 'xdg'), SWARM_CONFIG: '' };
  xdgPath = join(root, 'xdg', 'swarm_orchestrator', 'config.toml');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const swarm = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
  runSwarm(args, { env: { ...env, ...extra } });

describe('swarm config', () => {
  it('path prints the XDG path alone on stdout and the state on stderr', async () => {
    const r = await swarm(['config', 'path']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${xdgPath}\n`);
    expect(r.stderr).toBe('from XDG_CONFIG_HOME; does not exist (run `swarm config init`)\n');
  });

  it('path honours --config over SWARM_CONFIG, and ~/.config without XDG', async () => {
    const viaFlag = await swarm(['--config', join(root, 'f.toml'), 'config', 'path'], {
      SWARM_CONFIG: '/e.toml',
    });
    expect(viaFlag.stdout).toBe(`${join(root, 'f.toml')}\n`);
    const viaEnv = await swarm(['config', 'path'], { SWARM_CONFIG: join(root, 'e.toml') });
    expect(viaEnv.stdout).toBe(`${join(root, 'e.toml')}\n`);
    const home = await swarm(['config', 'path'], { XDG_CONFIG_HOME: '' });
    expect(home.stdout).toBe(`${join(root, 'home', '.config', 'swarm_orchestrator', 'config.toml')}\n`);
  });

  it('init writes the commented template (0600), refuses to overwrite without --force', async () => {
    const r = await swarm(['config', 'init']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Wrote ${xdgPath}\n`);
    expect(readFileSync(xdgPath, 'utf8')).toBe(configTemplate());
    expect(statSync(xdgPath).mode & 0o777).toBe(0o600);

    const again = await swarm(['config', 'init']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`swarm: config file ${xdgPath} already exists (use --force to overwrite)\n`);

    writeFileSync(xdgPath, '# mine\n');
    const forced = await swarm(['config', 'init', '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(xdgPath, 'utf8')).toBe(configTemplate());
  });

  it('set validates and writes; get and show see file + env', async () => {
    const set = await swarm(['config', 'set', 'gossip.fanout', '5']);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe('gossip.fanout = 5\n');
    expect(readFileSync(xdgPath, 'utf8')).toContain('\nfanout = 5\n');

    const get = await swarm(['config', 'get', 'gossip.fanout']);
    expect(get.stdout).toBe('5\n');
    const getEnv = await swarm(['config', 'get', 'gossip.fanout'], { SWARM_GOSSIP__FANOUT: '7' });
    expect(getEnv.stdout).toBe('7\n');
    expect((await swarm(['config', 'get', 'network.join'])).stdout).toBe('[]\n');

    const show = await swarm(['config', 'show', '--json'], { SWARM_NODE__NAME: 'pi-1' });
    expect(show.code).toBe(0);
    const cfg = JSON.parse(show.stdout) as ReturnType<typeof defaultConfig>;
    const expected = defaultConfig();
    expected.gossip.fanout = 5;
    expected.node.name = 'pi-1';
    expected.node.data_dir = join(root, 'xdg', 'swarm_orchestrator', 'data');
    expect(cfg).toEqual(expected);

    const text = await swarm(['config', 'show']);
    expect(text.stdout).toContain(`# effective config from ${xdgPath}\n`);
    expect(text.stdout).toMatch(/\[gossip\]\ninterval_ms = 1000\nfanout = 5\n/);
  });

  it('show hides secrets unless --show-secrets', async () => {
    const key = (await swarm(['keygen'])).stdout.trim();
    expect((await swarm(['config', 'set', 'security.swarm_key', key])).code).toBe(0);
    const hidden = JSON.parse((await swarm(['config', 'show', '--json'])).stdout) as {
      security: { swarm_key: string };
    };
    expect(hidden.security.swarm_key).toBe('(set)');
    const shown = JSON.parse((await swarm(['config', 'show', '--json', '--show-secrets'])).stdout) as {
      security: { swarm_key: string };
    };
    expect(shown.security.swarm_key).toBe(key);
  });

  it('set exits 2 and leaves the file byte-identical on unknown key or bad value', async () => {
    const before = readFileSync(xdgPath, 'utf8');
    const unknown = await swarm(['config', 'set', 'gossip.fanuot', '3']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('swarm: unknown key gossip.fanuot (did you mean gossip.fanout?)\n');
    const bad = await swarm(['config', 'set', 'consensus.election_timeout_min_ms', '4000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'swarm: consensus.election_timeout_min_ms = 4000: must be < consensus.election_timeout_max_ms (3000)\n',
    );
    const wrongType = await swarm(['config', 'set', 'metrics.enabled', 'perhaps']);
    expect(wrongType.code).toBe(2);
    expect(wrongType.stderr).toBe('swarm: metrics.enabled = "perhaps": must be true or false\n');
    expect(readFileSync(xdgPath, 'utf8')).toBe(before);
  });

  it('get of an unknown key exits 2 with a suggestion', async () => {
    const r = await swarm(['config', 'get', 'api.prot']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('swarm: unknown key api.prot (did you mean api.port?)\n');
  });

  it('a broken config file makes commands exit 2 with one line, never a stack trace', async () => {
    const bad = join(root, 'bad.toml');
    writeFileSync(bad, '[gossip]\nfanout = 3\nttl = = 4\n');
    const syntax = await swarm(['--config', bad, 'config', 'show']);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(new RegExp(`^swarm: ${bad}:3:\\d+: TOML syntax error: [^\\n]+\\n$`));

    writeFileSync(bad, '[node]\ndevice_class = "server"\n');
    const rule = await swarm(['--config', bad, 'node', 'status']);
    expect(rule.code).toBe(2);
    expect(rule.stderr).toBe(
      `swarm: ${bad}: node.device_class = "server": must be one of full, standard, minimal\n`,
    );
    expect(existsSync(join(root, 'data'))).toBe(false);
  });
});

describe('swarm keygen', () => {
  it('prints a fresh base64 key of 32 bytes each time', async () => {
    const a = await swarm(['keygen']);
    const b = await swarm(['keygen']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(Buffer.from(a.stdout.trim(), 'base64')).toHaveLength(32);
    expect(a.stdout).not.toBe(b.stdout);
  });
});
