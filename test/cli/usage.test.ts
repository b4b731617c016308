import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSwarm } from '../helpers/run-swarm.js';

let root: string;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-cli-usage-test-'));
  env = { HOME: join(root, 'home'), XDG_CONFIG_HOME: join(root, 'xdg'), SWARM_CONFIG: '' };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const swarm = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
  runSwarm(args, { env: { ...env, ...extra } });

/** Exactly one line on stderr, starting `swarm: `. */
const ONE_LINE = /^swarm: [^\n]+\n$/;

describe('usage errors', () => {
  it('a command group without its subcommand is one line naming the subcommands, exit 2', async () => {
    const r = await swarm(['node']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "swarm: missing command after 'swarm node': one of start, stop, status (run 'swarm node --help' for usage)\n",
    );
    const bare = await swarm([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^swarm: missing command: one of node, swarm, kv, .*\n$/);
    expect(bare.stderr).toMatch(ONE_LINE);
  });

  it('--help exits 0 and lists the command groups', async () => {
    const r = await swarm(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['node', 'demo', 'config', 'keygen', 'version'])
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it('a missing argument exits 2 with one line', async () => {
    const r = await swarm(['config', 'set', 'gossip.fanout']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("swarm: missing required argument 'value' (run with --help for usage)\n");
  });

  it("unknown commands and options are one swarm: line, exit 2 (never commander's two-line error:)", async () => {
    for (const args of [
      ['nod'],
      ['node', 'start', '--bad'],
      ['kv', 'get'],
      ['node', 'bogus'],
      ['config', 'set'],
    ]) {
      const r = await swarm(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(ONE_LINE);
      expect(r.stderr).not.toMatch(/^error:/m);
    }
    const typo = await swarm(['nod']);
    expect(typo.stderr).toBe(
      "swarm: unknown command 'nod' (Did you mean node?) (run with --help for usage)\n",
    );
    const opt = await swarm(['node', 'start', '--bad']);
    expect(opt.stderr).toBe("swarm: unknown option '--bad' (run with --help for usage)\n");
  });
});

describe('a config file named by --config or $SWARM_CONFIG must exist', () => {
  it('node start on a missing --config is exit 2, one line, and creates nothing', async () => {
    const missing = join(root, 'nope', 'x.toml');
    const r = await swarm(['-c', missing, 'node', 'start', '--foreground']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `swarm: config file ${missing} (from --config) does not exist; create it with \`swarm config init\` or fix the path\n`,
    );
    expect(existsSync(join(root, 'nope'))).toBe(false);
  });

  it('the same for $SWARM_CONFIG, for every command but config init and config path', async () => {
    const missing = join(root, 'gone.toml');
    for (const args of [
      ['node', 'status'],
      ['config', 'show'],
      ['config', 'set', 'gossip.fanout', '4'],
      ['kv', 'get', 'a'],
      ['version'],
    ]) {
      const r = await swarm(args, { SWARM_CONFIG: missing });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toBe(
        `swarm: config file ${missing} (from $SWARM_CONFIG) does not exist; create it with \`swarm config init\` or fix the path\n`,
      );
    }
    expect(existsSync(missing)).toBe(false);
    const path = await swarm(['config', 'path'], { SWARM_CONFIG: missing });
    expect(path.code).toBe(0);
    expect(path.stdout).toBe(`${missing}\n`);
    const init = await swarm(['-c', missing, 'config', 'init']);
    expect(init.code).toBe(0);
    expect(existsSync(missing)).toBe(true);
    const show = await swarm(['config', 'show'], { SWARM_CONFIG: missing });
    expect(show.code).toBe(0);
  });

  it('the default location may be missing: defaults', async () => {
    const r = await swarm(['config', 'get', 'gossip.fanout']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('3');
  });
});

describe('config set names the key that was set when it breaks a rule with another key', () => {
  it('blames gossip.interval_ms, naming adaptive_gossip.max_interval_ms; the file is unchanged', async () => {
    const file = join(root, 'rules.toml');
    writeFileSync(file, '[gossip]\nfanout = 3\n');
    const r = await swarm(['-c', file, 'config', 'set', 'gossip.interval_ms', '6000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'swarm: gossip.interval_ms = 6000: must be <= adaptive_gossip.max_interval_ms (5000)\n',
    );
    const max = await swarm(['-c', file, 'config', 'set', 'consensus.election_timeout_max_ms', '1000']);
    expect(max.code).toBe(2);
    expect(max.stderr).toBe(
      'swarm: consensus.election_timeout_max_ms = 1000: must be > consensus.election_timeout_min_ms (1500)\n',
    );
    const fanout = await swarm(['-c', file, 'config', 'set', 'gossip.fanout', '20']);
    expect(fanout.stderr).toBe('swarm: gossip.fanout = 20: must be <= adaptive_gossip.max_fanout (10)\n');
    expect(readFileSync(file, 'utf8')).toBe('[gossip]\nfanout = 3\n');
  });
});
