import { describe, expect, it } from 'vitest';
import { runSwarm } from '../helpers/run-swarm.js';

describe('swarm version', () => {
  it('prints the package version and exits 0', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
      version: string;
    };
    const r = await runSwarm(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`iot-swarm ${pkg.version}`);
  });

  it('exits 2 with a usage message on an unknown command', async () => {
    const r = await runSwarm(['no-such-command']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'no-such-command'");
  });
});
