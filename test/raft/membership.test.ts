/** Thesis chapter 4: single-server membership changes, and learners (non-voting members). */
import { describe, expect, it } from 'vitest';
import {
  applyConfChange,
  decodeConfChange,
  encodeConfChange,
  validateConfChange,
} from '../../src/raft/confchange.js';
import { EntryType } from '../../src/raft/types.js';
import { TestCluster, text } from './cluster.js';
import { ackAppend, drain, makeLeader, mkNode } from './manual.js';

/** Propose a change on the leader and let it commit. */
async function change(
  c: TestCluster,
  type: 'add_voter' | 'add_learner' | 'remove',
  node: string,
): Promise<void> {
  const l = c.leader()!;
  const r = l.proposeConfChange({ type, node }, c.now);
  expect(r.ok, JSON.stringify(r)).toBe(true);
  await c.advance(300);
}

describe('conf change encoding', () => {
  it('round-trips the change with the resulting configuration', async () => {
    const conf = applyConfChange({ voters: ['a', 'b'], learners: ['c'] }, { type: 'add_voter', node: 'c' });
    expect(conf).toEqual({ voters: ['a', 'b', 'c'], learners: [] });
    const e = { change: { type: 'add_voter' as const, node: 'c' }, conf };
    expect(decodeConfChange(encodeConfChange(e))).toEqual(e);
  });

  it('validates changes against the configuration', async () => {
    const conf = { voters: ['a'], learners: ['l'] };
    expect(validateConfChange(conf, { type: 'add_voter', node: 'a' })).toMatch(/already/);
    expect(validateConfChange(conf, { type: 'remove', node: 'a' })).toMatch(/last voter/);
    expect(validateConfChange(conf, { type: 'remove', node: 'zz' })).toMatch(/not a member/);
    expect(validateConfChange(conf, { type: 'add_voter', node: 'l' })).toBeNull();
  });
});

describe('single-server membership changes', () => {
  it('adds a new voter that joined with no configuration; it then counts in the quorum', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 61);
    await c.electLeader();
    await c.propose('before');
    c.start('d');
    await change(c, 'add_voter', 'd');
    await c.propose('after');
    await c.advance(300);
    expect(c.node('d').status().conf.voters).toEqual(['a', 'b', 'c', 'd']);
    expect(c.appliedTexts('d')).toEqual(['before', 'after']);
    // With 4 voters, two crashed nodes block commits: d really counts.
    const l = c.leader()!;
    const others = ['a', 'b', 'c', 'd'].filter((id) => id !== l.id);
    c.crash(others[0]!);
    c.crash(others[1]!);
    l.propose(text('blocked'), c.now);
    await c.advance(100);
    expect(c.appliedTexts(l.id)).not.toContain('blocked');
  });

  it('refuses a second change while the first is uncommitted', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 62);
    const l = await c.electLeader();
    await c.advance(100);
    const others = ['a', 'b', 'c'].filter((id) => id !== l.id);
    for (const id of others) c.isolate(id);
    expect(l.proposeConfChange({ type: 'add_learner', node: 'x' }, c.now).ok).toBe(true);
    expect(l.proposeConfChange({ type: 'add_learner', node: 'y' }, c.now)).toMatchObject({
      ok: false,
      reason: 'conf_change_pending',
    });
    c.heal();
    await c.advance(300);
    expect(c.leader()!.proposeConfChange({ type: 'add_learner', node: 'y' }, c.now).ok).toBe(true);
  });

  it('a new leader accepts no change before its first entry commits', async () => {
    const a = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    makeLeader(a);
    expect(a.proposeConfChange({ type: 'add_learner', node: 'x' }, 1000)).toMatchObject({
      ok: false,
      reason: 'conf_change_pending',
    });
    const noop = a.status().lastIndex;
    drain(a);
    a.step(ackAppend('b', 'a', a.status().term, noop), 1001);
    expect(a.status().commit).toBe(noop);
    expect(a.proposeConfChange({ type: 'add_learner', node: 'x' }, 1002).ok).toBe(true);
  });

  it('removes a follower; the rest keep committing with the smaller quorum', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 64);
    const l = await c.electLeader();
    const gone = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    await change(c, 'remove', gone);
    c.crash(gone);
    expect(l.status().conf.voters).toHaveLength(2);
    await c.propose('still works');
    await c.advance(100);
    expect(c.appliedTexts(l.id)).toContain('still works');
  });

  it('a removed leader steps down and the others elect a new leader', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 65);
    const l = await c.electLeader();
    l.proposeConfChange({ type: 'remove', node: l.id }, c.now);
    await c.advance(50);
    expect(l.status().role).not.toBe('leader');
    await c.advance(1500);
    const l2 = await c.electLeader();
    expect(l2.id).not.toBe(l.id);
    expect(l2.status().conf.voters).not.toContain(l.id);
    // The removed node never campaigns again.
    const term = l.status().term;
    c.isolate(l.id);
    await c.advance(2000);
    expect(l.status().term).toBe(term);
  });

  it('conf change entries are applied by every node at the same index', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 66);
    await c.electLeader();
    await change(c, 'add_learner', 'z');
    for (const id of ['a', 'b', 'c']) {
      const cc = [...c.applied.get(id)!.values()].filter((e) => e.type === EntryType.ConfChange);
      expect(cc).toHaveLength(1);
      expect(decodeConfChange(cc[0]!.data).change).toEqual({ type: 'add_learner', node: 'z' });
    }
  });
});

describe('learners', () => {
  it('a learner receives the log but never campaigns or leads', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 71, {}, ['l']);
    await c.electLeader();
    await c.propose('x');
    await c.advance(100);
    expect(c.appliedTexts('l')).toEqual(['x']);
    expect(c.node('l').status().role).toBe('learner');
    // Every voter gone: the learner still never campaigns.
    for (const id of ['a', 'b', 'c']) c.crash(id);
    await c.advance(3000);
    expect(c.node('l').status().role).toBe('learner');
    expect(c.sent.filter((m) => m.from === 'l' && m.type === 'request_vote')).toEqual([]);
  });

  it('no vote request is ever addressed to a learner, and a learner’s vote is never counted', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 72, {}, ['l']);
    await c.electLeader();
    const l = c.leader()!;
    c.crash(l.id);
    await c.advance(2000);
    expect(c.sent.filter((m) => m.type === 'request_vote' && m.to === 'l')).toEqual([]);
  });

  it('a learner can be promoted and then votes and counts', async () => {
    const c = TestCluster.boot(['a', 'b'], 73, {}, ['l']);
    await c.electLeader();
    await change(c, 'add_voter', 'l');
    expect(c.node('l').status().role).toBe('follower');
    expect(c.node('l').status().conf.voters).toEqual(['a', 'b', 'l']);
    // The old leader leaves; the two remaining voters (one the promoted learner) elect a leader.
    c.crash(c.leader()!.id);
    await c.advance(3000);
    expect(c.leader()).toBeDefined();
  });

  it('a voter can be demoted to a learner', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 74);
    const l = await c.electLeader();
    const f = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    await change(c, 'add_learner', f);
    expect(c.node(f).status().role).toBe('learner');
    expect(l.status().conf).toEqual({
      voters: ['a', 'b', 'c'].filter((id) => id !== f),
      learners: [f],
    });
  });
});

describe('learners never lead', () => {
  it('a learner ignores TimeoutNow', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 75, {}, ['l']);
    const l = await c.electLeader();
    const term = l.status().term;
    c.node('l').step({ type: 'timeout_now', from: l.id, to: 'l', term }, c.now);
    await c.deliver();
    expect(c.node('l').status()).toMatchObject({ role: 'learner', term });
    expect(c.leader()?.id).toBe(l.id);
  });
});
