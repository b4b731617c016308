import { describe, expect, it } from 'vitest';
import { runSwarm } from '../helpers/run-swarm.js';

describe('swarm demo agents', () => {
  it('starts three agents on loopback, decides one value and exits 0', async () => {
    const r = await runSwarm(['demo', 'agents', '--count', '3', '--base-port', '0', '--json'], {
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { agreed: boolean; value: number; answers: unknown[] } & Record<
      string,
      unknown
    >;
    expect(out.agreed).toBe(true);
  });

  it('rejects a bad --count with exit 2', async () => {
    const r = await runSwarm(['demo', 'agents', '--count', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--count/);
  });
});
