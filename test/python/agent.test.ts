/**
 * swarm_agent.py (clients/python) against 3 real daemons on loopback: every API it wraps
 * (clients/python/tests/live_agent.py). Node, KV and compare-and-set run on main; the coordination
 * ([coord]), swarm event ([events]) and task ([tasks]) tests skip themselves while their routes
 * answer 404, and run once those branches are merged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPython, TestSwarm } from './helpers.js';

describe('swarm_agent.py against 3 real daemons', () => {
  const swarm = new TestSwarm();

  beforeAll(async () => {
    const nodes = await swarm.start(3);
    // A leader with all three voters, so KV and leader() answer at once.
    await Promise.all(
      nodes.map(async (n) => {
        for (let i = 0; i < 300; i++) {
          try {
            const l = await n.client.leader();
            if (l.leader !== null && l.voters.length === 3) return;
          } catch {
            // not ready
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`${n.name}: no leader with 3 voters`);
      }),
    );
  }, 120_000);

  afterAll(() => swarm.stop());

  it('passes live_agent.py', async () => {
    const r = await runPython(['tests/live_agent.py'], {
      env: { SWARM_TEST_APIS: swarm.nodes.map((n) => n.api_url).join(',') },
      timeoutMs: 240_000,
    });
    console.log(
      r.stderr
        .split('\n')
        .filter((l) => / \.\.\. /.test(l))
        .join('\n'),
    );
    if (r.code !== 0) console.log(r.stderr);
    expect(r.stderr).toMatch(/\nOK( \(skipped=\d+\))?\n?$/);
    expect(r.code).toBe(0);
  }, 300_000);
});
