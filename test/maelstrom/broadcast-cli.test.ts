/**
 * `swarm maelstrom broadcast` as real processes under the Maelstrom-like
 * harness (test/maelstrom/harness.ts): five nodes, a partition nemesis, and
 * every acknowledged value read back from every node after the heal.
 * Needs `npm run build` (the test spawns the compiled binary).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MaelstromHarness } from './harness.js';

let harness: MaelstromHarness | null = null;
afterEach(async () => {
  await harness?.stop();
  harness = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('maelstrom broadcast (processes)', () => {
  it('delivers every acknowledged broadcast to every node across a partition', async () => {
    harness = new MaelstromHarness({ nodes: 5, args: ['maelstrom', 'broadcast'], seed: 4, maxDelayMs: 5 });
    const h = harness;
    await h.start();
    const topo = Object.fromEntries(h.nodeIds.map((id) => [id, h.nodeIds.filter((x) => x !== id)]));
    for (const id of h.nodeIds) {
      expect((await h.rpc('c1', id, { type: 'topology', topology: topo }, 5000)).body?.type).toBe(
        'topology_ok',
      );
    }
    const acked: number[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 10)
        h.partition([
          ['n1', 'n2'],
          ['n3', 'n4', 'n5'],
        ]);
      if (i === 20) h.heal();
      const r = await h.rpc('c1', h.nodeIds[i % 5]!, { type: 'broadcast', message: i }, 5000);
      if (r.body?.type === 'broadcast_ok') acked.push(i);
      await sleep(30);
    }
    expect(acked.length).toBe(30);
    const want = JSON.stringify([...acked].sort((a, b) => a - b));
    let ok = false;
    for (let attempt = 0; attempt < 60 && !ok; attempt++) {
      await sleep(250);
      const reads = await Promise.all(h.nodeIds.map((id) => h.rpc('c2', id, { type: 'read' }, 5000)));
      ok = reads.every(
        (r) =>
          JSON.stringify(
            [...((r.body?.['messages'] as number[] | undefined) ?? [])].sort((a, b) => a - b),
          ) === want,
      );
    }
    expect(ok, h.stderr).toBe(true);
    expect(h.stats.dropped).toBeGreaterThan(0);
  });
});
