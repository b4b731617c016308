import { describe, expect, it } from 'vitest';
import { runSwarm } from '../helpers/run-swarm.js';

describe('usage errors', () => {
  it('a command group without its subcommand shows help and exits 2', async () => {
    const r = await runSwarm(['node']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: swarm node [options] [command]');
  });

  it('--help exits 0 and lists the command groups', async () => {
    const r = await runSwarm(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['node', 'demo', 'config', 'keygen', 'version'])
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it('a missing argument exits 2', async () => {
    const r = await runSwarm(['config', 'set', 'gossip.fanout']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'value'");
  });
});
