import { describe, expect, it } from 'vitest';
import { TestCluster } from './cluster.js';

describe('smoke', () => {
  it('elects a leader and replicates', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 7);
    const l = await c.electLeader();
    await c.propose('x');
    await c.propose('y');
    await c.advance(200);
    for (const id of ['a', 'b', 'c']) expect(c.appliedTexts(id)).toEqual(['x', 'y']);
    expect(l.status().role).toBe('leader');
  });
});
