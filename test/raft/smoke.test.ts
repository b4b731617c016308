import { describe, expect, it } from 'vitest';
import { TestCluster } from './cluster.js';

describe('smoke', () => {
  it('elects a leader and replicates', () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 7);
    const l = c.electLeader();
    c.propose('x');
    c.propose('y');
    c.advance(200);
    for (const id of ['a', 'b', 'c']) expect(c.appliedTexts(id)).toEqual(['x', 'y']);
    expect(l.status().role).toBe('leader');
  });
});
