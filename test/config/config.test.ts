import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import {
  KEY_SPECS,
  configTemplate,
  defaultConfig,
  editTomlLine,
  loadConfig,
  parseToml,
  resolveConfigPath,
  setConfigKey,
} from '../../src/config/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'swarm-config-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function cfgFile(text: string): string {
  const p = join(dir, 'config.toml');
  writeFileSync(p, text);
  return p;
}

function loadError(opts: { text?: string; env?: NodeJS.ProcessEnv }): ConfigError {
  const path = opts.text === undefined ? join(dir, 'absent.toml') : cfgFile(opts.text);
  try {
    loadConfig({ path, env: opts.env ?? {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.exitCode).toBe(2);
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  // The seed's (iot-swarm 0.2.0) table plus the new sections.
  const expected: Record<string, unknown> = {
    'network.gossip_port': 5555,
    'network.multicast_group': '239.255.255.250',
    'network.multicast_port': 5556,
    'network.bind_address': '0.0.0.0',
    'network.join': [],
    'network.multicast_enabled': true,
    'network.advertise_address': '',
    'gossip.interval_ms': 1000,
    'gossip.fanout': 3,
    'gossip.ttl': 3,
    'gossip.anti_entropy_interval_ms': 10000,
    'gossip.message_cache_size': 1000,
    'consensus.heartbeat_interval_ms': 500,
    'consensus.election_timeout_min_ms': 1500,
    'consensus.election_timeout_max_ms': 3000,
    'consensus.vote_timeout_ms': 1000,
    'node.name': '',
    'node.device_class': 'standard',
    'node.data_dir': '',
    'node.labels': [],
    'metrics.enabled': true,
    'metrics.collection_interval_ms': 5000,
    'metrics.history_size': 100,
    'energy.enabled': true,
    'energy.collection_interval_ms': 1000,
    'energy.carbon_intensity_gco2_kwh': 400.0,
    'energy.low_power_threshold_percent': 30.0,
    'energy.critical_threshold_percent': 10.0,
    'energy.power_budget_watts': undefined,
    'energy.tdp_watts': undefined,
    'energy.idle_watts': undefined,
    'energy.min_watts': undefined,
    'energy.max_watts': undefined,
    'energy.battery_capacity_wh': undefined,
    'adaptive_gossip.enabled': true,
    'adaptive_gossip.adaptation_interval_ms': 5000,
    'adaptive_gossip.min_interval_ms': 200,
    'adaptive_gossip.max_interval_ms': 5000,
    'adaptive_gossip.max_fanout': 10,
    'adaptive_gossip.energy_aware': true,
    'api.bind_address': '127.0.0.1',
    'api.port': 5557,
    'raft.port': 5558,
    'raft.voters': 5,
    'raft.bootstrap_expect': 0,
    'raft.snapshot_interval_entries': 10000,
    'raft.quota_bytes': 268435456,
    'security.swarm_key': '',
    'security.api_token': '',
    'tasks.enabled': true,
    'tasks.lease_ms': 10000,
    'tasks.log_max_bytes': 1048576,
    'logging.level': 'info',
    'coordination.watch_history_events': 10000,
    'coordination.watch_history_bytes': 16777216,
    'coordination.max_watchers': 256,
    'coordination.resign_on_emergency': true,
  };

  it('match the table for every key, and the schema has no other key', () => {
    const d = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
    for (const [key, value] of Object.entries(expected)) {
      const [s, k] = key.split('.') as [string, string];
      expect(d[s]?.[k], key).toEqual(value);
    }
    expect(KEY_SPECS.map((s) => s.key).sort()).toEqual(Object.keys(expected).sort());
  });

  it('apply when there is no file, and data_dir is data/ next to the config file', () => {
    const path = join(dir, 'sub', 'config.toml');
    const r = loadConfig({ path, env: {} });
    expect(r.fileExists).toBe(false);
    expect(r.config.node.data_dir).toBe(join(dir, 'sub', 'data'));
    expect(r.config.gossip.fanout).toBe(3);
  });

  it('the template parses back to exactly the defaults', () => {
    const path = cfgFile(configTemplate());
    const r = loadConfig({ path, env: {} });
    const d = defaultConfig();
    d.node.data_dir = join(dir, 'data');
    expect(r.config).toEqual(d);
    expect(configTemplate()).toMatch(/^# /m);
  });

  it('a seed-style 0.2.0 file with only some keys loads, the rest defaulted', () => {
    const path = cfgFile(
      '[network]\ngossip_port = 6000\n\n[gossip]\nfanout = 4\n\n[energy]\npower_budget_watts = 7.5\n',
    );
    const c = loadConfig({ path, env: {} }).config;
    expect(c.network.gossip_port).toBe(6000);
    expect(c.network.multicast_port).toBe(5556);
    expect(c.gossip.fanout).toBe(4);
    expect(c.energy.power_budget_watts).toBe(7.5);
  });

  it('relative data_dir is resolved from the config file directory', () => {
    const path = cfgFile('[node]\ndata_dir = "state"\n');
    expect(loadConfig({ path, env: {} }).config.node.data_dir).toBe(join(dir, 'state'));
  });
});

describe('env overrides', () => {
  it('SWARM_<SECTION>__<KEY> overrides the file, typed like the file', () => {
    const path = cfgFile('[gossip]\nfanout = 4\n');
    const { config, sources } = loadConfig({
      path,
      env: {
        SWARM_GOSSIP__FANOUT: '5',
        SWARM_NETWORK__MULTICAST_ENABLED: 'false',
        SWARM_NETWORK__JOIN: '10.0.0.1:5555, 10.0.0.2:5555',
        SWARM_ENERGY__CARBON_INTENSITY_GCO2_KWH: '123.5',
        SWARM_ADAPTIVE_GOSSIP__MAX_FANOUT: '6',
        SWARM_NODE__NAME: 'pi-kitchen',
        SWARM_CONFIG: '/ignored/not/a/key',
      },
    });
    expect(config.gossip.fanout).toBe(5);
    expect(config.network.multicast_enabled).toBe(false);
    expect(config.network.join).toEqual(['10.0.0.1:5555', '10.0.0.2:5555']);
    expect(config.energy.carbon_intensity_gco2_kwh).toBe(123.5);
    expect(config.adaptive_gossip.max_fanout).toBe(6);
    expect(config.node.name).toBe('pi-kitchen');
    expect(sources.get('gossip.fanout')).toBe('SWARM_GOSSIP__FANOUT');
  });

  it('network.advertise_address: "" by default, an address from the env, anything else refused', () => {
    const path = cfgFile('');
    expect(loadConfig({ path, env: {} }).config.network.advertise_address).toBe('');
    const env = { SWARM_NETWORK__ADVERTISE_ADDRESS: '192.168.1.20' };
    expect(loadConfig({ path, env }).config.network.advertise_address).toBe('192.168.1.20');
    expect(() => loadConfig({ path, env: { SWARM_NETWORK__ADVERTISE_ADDRESS: 'pi.local' } })).toThrow(
      /advertise_address/,
    );
  });

  it('an empty value leaves a number or boolean key unset, but sets a string to empty', () => {
    const path = cfgFile('[api]\nport = 6000\n\n[node]\nname = "x"\n');
    const { config } = loadConfig({
      path,
      env: { SWARM_API__PORT: '', SWARM_METRICS__ENABLED: ' ', SWARM_NODE__NAME: '' },
    });
    expect(config.api.port).toBe(6000);
    expect(config.metrics.enabled).toBe(true);
    expect(config.node.name).toBe('');
  });

  it('JSON lists are accepted for list keys', () => {
    const { config } = loadConfig({
      path: join(dir, 'x.toml'),
      env: { SWARM_NETWORK__JOIN: '["a:1","b:2"]' },
    });
    expect(config.network.join).toEqual(['a:1', 'b:2']);
  });

  it('a wrongly typed env value names the variable, key, value and rule', () => {
    expect(loadError({ env: { SWARM_GOSSIP__FANOUT: 'five' } }).message).toBe(
      'SWARM_GOSSIP__FANOUT: gossip.fanout = "five": must be an integer',
    );
    expect(loadError({ env: { SWARM_METRICS__ENABLED: 'maybe' } }).message).toContain(
      'must be true or false',
    );
  });

  it('an unknown env key suggests the close one', () => {
    expect(loadError({ env: { SWARM_GOSSIP__FANOTU: '3' } }).message).toBe(
      'SWARM_GOSSIP__FANOTU: unknown key gossip.fanotu (did you mean gossip.fanout?)',
    );
  });
});

describe('validation rules', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown key', '[gossip]\nfanuot = 3\n', /unknown key gossip\.fanuot \(did you mean gossip\.fanout\?\)/],
    ['unknown section', '[gosip]\nfanout = 3\n', /unknown section \[gosip\].*did you mean gossip\.fanout\?/],
    ['unknown key, nothing close', '[gossip]\nzzzzzzzz = 1\n', /unknown key gossip\.zzzzzzzz$/],
    ['wrong type (string for int)', '[gossip]\nfanout = "3"\n', /gossip\.fanout = "3": must be an integer$/],
    ['wrong type (float for int)', '[gossip]\nttl = 2.5\n', /gossip\.ttl = 2\.5: must be an integer$/],
    ['wrong type (bool)', '[metrics]\nenabled = "yes"\n', /metrics\.enabled = "yes": must be true or false/],
    ['section not a table', 'gossip = 3\n', /gossip = 3: must be a table \[gossip\]/],
    [
      'port above range',
      '[network]\ngossip_port = 70000\n',
      /network\.gossip_port = 70000: must be an integer between 0 and 65535/,
    ],
    ['port below range', '[api]\nport = -1\n', /api\.port = -1: must be an integer between 0 and 65535/],
    [
      'multicast port 0',
      '[network]\nmulticast_port = 0\n',
      /network\.multicast_port = 0: must be an integer between 1 and 65535/,
    ],
    ['raft port out of range', '[raft]\nport = 65536\n', /raft\.port = 65536/],
    [
      'election min >= max',
      '[consensus]\nelection_timeout_min_ms = 3000\nelection_timeout_max_ms = 3000\n',
      /consensus\.election_timeout_min_ms = 3000: must be < consensus\.election_timeout_max_ms \(3000\)/,
    ],
    [
      'heartbeat >= election min',
      '[consensus]\nheartbeat_interval_ms = 1500\n',
      /consensus\.heartbeat_interval_ms = 1500: must be < consensus\.election_timeout_min_ms \(1500\)/,
    ],
    [
      'adaptive min above interval',
      '[adaptive_gossip]\nmin_interval_ms = 1500\n',
      /adaptive_gossip\.min_interval_ms = 1500: must be <= gossip\.interval_ms \(1000\)/,
    ],
    [
      'interval above adaptive max',
      '[gossip]\ninterval_ms = 6000\n',
      /gossip\.interval_ms = 6000: must be <= adaptive_gossip\.max_interval_ms \(5000\)/,
    ],
    [
      'device class',
      '[node]\ndevice_class = "huge"\n',
      /node\.device_class = "huge": must be one of full, standard, minimal/,
    ],
    [
      'log level',
      '[logging]\nlevel = "loud"\n',
      /logging\.level = "loud": must be one of debug, info, warn, error/,
    ],
    [
      'bind address',
      '[network]\nbind_address = "localhost:1"\n',
      /network\.bind_address = "localhost:1": must be an IPv4 or IPv6 address/,
    ],
    ['multicast group', '[network]\nmulticast_group = "10.0.0.1"\n', /must be an IPv4 multicast address/],
    [
      'join entry',
      '[network]\njoin = ["10.0.0.1"]\n',
      /network\.join = \["10\.0\.0\.1"\]: must be "host:port"/,
    ],
    ['join not a list', '[network]\njoin = "a:1"\n', /network\.join = "a:1": must be a list/],
    [
      'swarm key length',
      '[security]\nswarm_key = "c2hvcnQ="\n',
      /security\.swarm_key = "c2hvcnQ=": must be base64 of 32 bytes/,
    ],
    ['fanout zero', '[gossip]\nfanout = 0\n', /gossip\.fanout = 0: must be an integer between 1 and 100/],
    [
      'percent > 100',
      '[energy]\nlow_power_threshold_percent = 120.0\n',
      /must be a number between 0 and 100/,
    ],
    [
      'critical above low',
      '[energy]\ncritical_threshold_percent = 40.0\n',
      /critical_threshold_percent = 40: must be <= energy\.low_power_threshold_percent/,
    ],
    [
      'power budget <= 0',
      '[energy]\npower_budget_watts = 0.0\n',
      /energy\.power_budget_watts = 0: must be a number > 0/,
    ],
    [
      'max fanout below fanout',
      '[gossip]\nfanout = 12\n',
      /gossip\.fanout = 12: must be <= adaptive_gossip\.max_fanout \(10\)/,
    ],
    [
      'raft port equals api port',
      '[raft]\nport = 5557\n',
      /raft\.port = 5557: must differ from api\.port \(5557\)/,
    ],
    [
      'election max below default min (blames the key that was set)',
      '[consensus]\nelection_timeout_max_ms = 1000\n',
      /consensus\.election_timeout_max_ms = 1000: must be > consensus\.election_timeout_min_ms \(1500\)/,
    ],
  ];

  for (const [name, text, re] of cases) {
    it(name, () => {
      const e = loadError({ text });
      expect(e.message).toMatch(re);
      // Every message names where the value came from.
      expect(e.message.startsWith(join(dir, 'config.toml'))).toBe(true);
    });
  }

  it('a valid 32-byte base64 swarm key is accepted', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const path = cfgFile(`[security]\nswarm_key = "${key}"\n`);
    expect(loadConfig({ path, env: {} }).config.security.swarm_key).toBe(key);
  });

  it('TOML syntax errors give file, line and column', () => {
    const e = loadError({ text: '[gossip]\nfanout = 3\nttl = = 4\n' });
    expect(e.message).toMatch(/config\.toml:3:\d+: TOML syntax error: /);
    expect(e.fields.line).toBe(3);
  });

  it('several problems are reported as the first plus a count', () => {
    const e = loadError({ text: '[gossip]\nfanout = 0\nttl = 0\n' });
    expect(e.message).toMatch(/\(and 1 more problem\)$/);
  });
});

describe('config path resolution', () => {
  it('--config wins, then SWARM_CONFIG, then XDG_CONFIG_HOME, then ~/.config', () => {
    const env = { SWARM_CONFIG: '/e/c.toml', XDG_CONFIG_HOME: '/x', HOME: '/h' };
    expect(resolveConfigPath({ flag: 'my.toml', env, cwd: '/w' })).toEqual({
      path: '/w/my.toml',
      source: 'flag',
    });
    expect(resolveConfigPath({ env, cwd: '/w' }).path).toBe('/e/c.toml');
    expect(resolveConfigPath({ env: { XDG_CONFIG_HOME: '/x', HOME: '/h' } }).path).toBe(
      '/x/swarm_orchestrator/config.toml',
    );
    expect(resolveConfigPath({ env: { HOME: '/h' } }).path).toBe('/h/.config/swarm_orchestrator/config.toml');
  });

  it('a relative XDG_CONFIG_HOME is ignored, as the XDG spec requires', () => {
    expect(resolveConfigPath({ env: { XDG_CONFIG_HOME: 'rel', HOME: '/h' } }).source).toBe('HOME');
  });

  it('loadConfig reads the XDG file', () => {
    mkdirSync(join(dir, 'swarm_orchestrator'));
    writeFileSync(join(dir, 'swarm_orchestrator', 'config.toml'), '[gossip]\nfanout = 9\n');
    const r = loadConfig({ env: { XDG_CONFIG_HOME: dir, HOME: '/nonexistent' } });
    expect(r.config.gossip.fanout).toBe(9);
    expect(r.location.source).toBe('XDG_CONFIG_HOME');
    expect(r.config.node.data_dir).toBe(join(dir, 'swarm_orchestrator', 'data'));
  });
});

describe('config set (atomic)', () => {
  it('edits one line and keeps the template comments', () => {
    const path = cfgFile(configTemplate());
    setConfigKey(path, 'gossip.fanout', '5');
    setConfigKey(path, 'network.join', '10.0.0.1:5555,10.0.0.2:5555');
    setConfigKey(path, 'energy.power_budget_watts', '6');
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('# peers contacted per gossip round\nfanout = 5\n');
    expect(text).toContain('join = ["10.0.0.1:5555", "10.0.0.2:5555"]');
    expect(text).toContain('power_budget_watts = 6.0');
    const c = loadConfig({ path, env: {} }).config;
    expect(c.gossip.fanout).toBe(5);
    expect(c.energy.power_budget_watts).toBe(6);
  });

  it('creates the file when absent', () => {
    const path = join(dir, 'new', 'config.toml');
    expect(setConfigKey(path, 'node.name', 'pi-1').created).toBe(true);
    expect(parseToml(readFileSync(path, 'utf8'), path)).toEqual({ node: { name: 'pi-1' } });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  const bad: [string, string, RegExp][] = [
    ['gossip.fanot', '3', /unknown key gossip\.fanot \(did you mean gossip\.fanout\?\)/],
    ['gossip.fanout', 'many', /gossip\.fanout = "many": must be an integer/],
    ['gossip.fanout', '0', /gossip\.fanout = 0: must be an integer between 1 and 100/],
    ['consensus.heartbeat_interval_ms', '5000', /must be < consensus\.election_timeout_min_ms/],
    ['api.port', '99999', /api\.port = 99999/],
  ];
  for (const [key, value, re] of bad) {
    it(`leaves the file byte-identical on ${key}=${value}`, () => {
      const original = configTemplate();
      const path = cfgFile(original);
      expect(() => setConfigKey(path, key, value)).toThrow(re);
      expect(readFileSync(path, 'utf8')).toBe(original);
      // No temp file left behind either.
      expect(readdirSync(dir)).toEqual(['config.toml']);
    });
  }

  it('editTomlLine inserts into an existing section and appends new sections', () => {
    expect(editTomlLine('[gossip]\nttl = 3\n\n[api]\nport = 1\n', 'gossip', 'fanout', '4')).toBe(
      '[gossip]\nttl = 3\nfanout = 4\n\n[api]\nport = 1\n',
    );
    expect(editTomlLine('[gossip]\nttl = 3\n', 'api', 'port', '9')).toBe(
      '[gossip]\nttl = 3\n\n[api]\nport = 9\n',
    );
  });
});

describe('node.labels', () => {
  it('refuses a label that does not fit the gossip tag, naming the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-labels-'));
    const path = join(dir, 'c.toml');
    writeFileSync(path, '[node]\nlabels = ["camera", "class=full"]\n');
    expect(() => loadConfig({ path, env: {} })).toThrow(/node\.labels.*built-in name "class"/);
    writeFileSync(path, `[node]\nlabels = ["${'x'.repeat(20)}", "${'y'.repeat(20)}"]\n`);
    expect(() => loadConfig({ path, env: {} })).toThrow(/node\.labels.*at most 32 fit in gossip/);
    writeFileSync(path, '[node]\nlabels = ["camera", "zone=kitchen"]\n');
    expect(loadConfig({ path, env: {} }).config.node.labels).toEqual(['camera', 'zone=kitchen']);
    rmSync(dir, { recursive: true, force: true });
  });
});
