/**
 * The pure formation policy: window, founder choice, the agreement round
 * through gossip tags, adoption, strict mode (bootstrap_expect).
 */
import { describe, expect, it } from 'vitest';
import {
  CLUSTER_TAG,
  FORMATION_TAG,
  Formation,
  VOTERS_TAG,
  chooseFounders,
  clusterIdOf,
  mergeVerdict,
  type FormationInput,
} from '../../src/node/formation.js';
import type { PeerInfo } from '../../src/node/peers.js';

const peer = (id: string, over: Partial<PeerInfo> & { tags?: Record<string, string> } = {}): PeerInfo => ({
  id,
  name: id,
  deviceClass: 'standard',
  status: 'alive',
  apiAddr: null,
  raftAddr: '127.0.0.1:1',
  raftRole: null,
  ...over,
});

const base = (over: Partial<FormationInput>): FormationInput => ({
  now: 0,
  selfId: 'a',
  selfClass: 'standard',
  startedAt: 0,
  peers: [],
  expect: 0,
  maxVoters: 5,
  ...over,
});

const W = { windowMs: 3000, minUptimeMs: 2000 };

describe('clusterIdOf', () => {
  it('is 16 hex digits, independent of order, different for different sets', () => {
    const id = clusterIdOf(['b', 'a', 'c']);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(clusterIdOf(['a', 'b', 'c'])).toBe(id);
    expect(clusterIdOf(['a', 'b'])).not.toBe(id);
  });
});

describe('chooseFounders', () => {
  const m = (id: string, deviceClass: PeerInfo['deviceClass']) => ({ id, deviceClass });
  it.each([
    [
      'all of a small view, sorted',
      [m('c', 'standard'), m('a', 'standard'), m('b', 'standard')],
      5,
      ['a', 'b', 'c'],
    ],
    [
      'full before standard when capped',
      [m('a', 'standard'), m('b', 'full'), m('c', 'standard')],
      2,
      ['a', 'b'],
    ],
    ['never a minimal device', [m('a', 'minimal'), m('b', 'standard')], 5, ['b']],
    [
      'capped at maxVoters by id',
      [
        m('e', 'standard'),
        m('d', 'standard'),
        m('c', 'standard'),
        m('b', 'standard'),
        m('a', 'standard'),
        m('f', 'standard'),
      ],
      5,
      ['a', 'b', 'c', 'd', 'e'],
    ],
  ] as const)('%s', (_label, view, max, want) => {
    expect(chooseFounders(view, max)).toEqual(want);
  });
});

describe('Formation.decide', () => {
  it('waits for the uptime and the window, then proposes; founds once every founder proposes the same', () => {
    const f = new Formation(W);
    const peers = [peer('b'), peer('c')];
    let d = f.decide(base({ now: 0, peers }));
    expect(d).toMatchObject({ kind: 'wait', proposal: null });
    expect(d.kind === 'wait' && d.reason).toMatch(/formation window: view of 3 members, 3.0 s left/);
    d = f.decide(base({ now: 2999, peers }));
    expect(d).toMatchObject({ kind: 'wait', proposal: null });
    const id = clusterIdOf(['a', 'b', 'c']);
    d = f.decide(base({ now: 3000, peers }));
    expect(d).toEqual({
      kind: 'wait',
      reason: `formation: 1 of 3 founders agree on cluster ${id}`,
      proposal: id,
    });
    const agreeing = [peer('b', { tags: { [FORMATION_TAG]: id } }), peer('c')];
    d = f.decide(base({ now: 3100, peers: agreeing }));
    expect(d.kind === 'wait' && d.reason).toMatch(/2 of 3 founders agree/);
    const all = [peer('b', { tags: { [FORMATION_TAG]: id } }), peer('c', { tags: { [FORMATION_TAG]: id } })];
    expect(f.decide(base({ now: 3200, peers: all }))).toEqual({
      kind: 'found',
      cluster: id,
      founders: ['a', 'b', 'c'],
    });
  });

  it('a founder proposing another set (a different view) blocks founding', () => {
    const f = new Formation(W);
    const peers = [peer('b', { tags: { [FORMATION_TAG]: clusterIdOf(['a', 'b']) } }), peer('c')];
    f.decide(base({ now: 0, peers }));
    const d = f.decide(base({ now: 5000, peers }));
    expect(d.kind).toBe('wait');
  });

  it('a view change restarts the window and withdraws the proposal', () => {
    const f = new Formation(W);
    f.decide(base({ now: 0, peers: [peer('b')] }));
    expect(f.decide(base({ now: 3000, peers: [peer('b')] })).kind).toBe('wait');
    const d = f.decide(base({ now: 3500, peers: [peer('b'), peer('c')] }));
    expect(d).toMatchObject({ kind: 'wait', proposal: null });
    expect(f.decide(base({ now: 6499, peers: [peer('b'), peer('c')] }))).toMatchObject({ proposal: null });
    expect(f.decide(base({ now: 6500, peers: [peer('b'), peer('c')] }))).toMatchObject({
      proposal: clusterIdOf(['a', 'b', 'c']),
    });
  });

  it('ignores peers that are not alive, have no Raft address or cannot vote', () => {
    const f = new Formation(W);
    const peers = [
      peer('b', { status: 'dead' }),
      peer('c', { raftAddr: null }),
      peer('d', { deviceClass: 'minimal' }),
      peer('e', { status: 'suspect' }),
    ];
    f.decide(base({ now: 0, peers }));
    expect(f.decide(base({ now: 3000, peers }))).toEqual({
      kind: 'found',
      cluster: clusterIdOf(['a']),
      founders: ['a'],
    });
  });

  it('alone for the whole window: a one-node cluster', () => {
    const f = new Formation(W);
    expect(f.decide(base({ now: 0 })).kind).toBe('wait');
    expect(f.decide(base({ now: 3000 }))).toMatchObject({ kind: 'found', founders: ['a'] });
  });

  it('adopts a cluster it proposed, once a founder that founded first advertises its id', () => {
    const f = new Formation(W);
    const id = clusterIdOf(['a', 'b']);
    f.decide(base({ now: 0, peers: [peer('b')] }));
    f.decide(base({ now: 3000, peers: [peer('b')] }));
    // b founded (saw a's proposal) and now advertises the cluster; a's view meanwhile changed.
    const peers = [peer('b', { tags: { [CLUSTER_TAG]: id } }), peer('c')];
    expect(f.decide(base({ now: 3100, peers }))).toEqual({
      kind: 'adopt',
      cluster: id,
      founders: ['a', 'b'],
    });
  });

  it('joins (waits to be added) when a cluster it is not a founder of runs', () => {
    const f = new Formation(W);
    const other = [peer('b', { tags: { [CLUSTER_TAG]: clusterIdOf(['b', 'c']) }, raftRole: 'leader' })];
    expect(f.decide(base({ now: 9000, peers: other }))).toMatchObject({
      kind: 'join',
      reason: 'waiting to be added by leader b',
    });
    // A cluster from before ids: a live leader is enough evidence.
    expect(f.decide(base({ now: 9000, peers: [peer('z', { raftRole: 'leader' })] })).kind).toBe('join');
    // A dead leader's old advertisement does not block formation.
    expect(
      f.decide(base({ now: 9000, peers: [peer('z', { raftRole: 'leader', status: 'dead' })] })).kind,
    ).toBe('wait');
  });

  it('beyond maxVoters: the others wait to be added', () => {
    const f = new Formation(W);
    const peers = [peer('a'), peer('b')];
    const input = base({ selfId: 'c', peers, maxVoters: 2 });
    f.decide(input);
    const d = f.decide({ ...input, now: 3000 });
    expect(d).toMatchObject({ kind: 'wait', proposal: clusterIdOf(['a', 'b']) });
    expect(d.kind === 'wait' && d.reason).toMatch(/not among the 2 founders/);
  });

  it('a minimal device never founds', () => {
    const f = new Formation(W);
    expect(f.decide(base({ selfClass: 'minimal', now: 10_000 })).kind).toBe('join');
  });

  describe('strict mode (bootstrap_expect)', () => {
    it('waits until N voter-capable members are seen, whatever the ids', () => {
      const f = new Formation(W);
      const input = base({ selfId: 'z', expect: 3, peers: [peer('a')] });
      const d = f.decide({ ...input, now: 10_000 });
      expect(d).toMatchObject({ kind: 'wait', proposal: null });
      expect(d.kind === 'wait' && d.reason).toBe('bootstrap_expect: 2 of 3 voter-capable members seen');
      const peers = [peer('a'), peer('b')];
      f.decide({ ...input, peers, now: 10_000 });
      const id = clusterIdOf(['a', 'b', 'z']);
      const tagged = peers.map((p) => ({ ...p, tags: { [FORMATION_TAG]: id } }));
      expect(f.decide({ ...input, peers: tagged, now: 13_000 })).toMatchObject({
        kind: 'found',
        cluster: id,
      });
    });

    it('--bootstrap 1 on a node with a large id forms alone', () => {
      const f = new Formation(W);
      f.decide(base({ selfId: 'ffff', expect: 1, now: 0 }));
      expect(f.decide(base({ selfId: 'ffff', expect: 1, now: 3000 }))).toMatchObject({
        kind: 'found',
        founders: ['ffff'],
      });
    });
  });

  it('nextCheck: the end of the window while waiting for it', () => {
    const f = new Formation(W);
    expect(f.nextCheck(0)).toBeNull();
    f.decide(base({ now: 100 }));
    expect(f.nextCheck(100)).toBe(3100);
  });
});

describe('mergeVerdict', () => {
  const member = (id: string, cluster: string, voters: number, status: PeerInfo['status'] = 'alive') =>
    peer(id, { status, raftRole: 'leader', tags: { [CLUSTER_TAG]: cluster, [VOTERS_TAG]: String(voters) } });
  it.each([
    ['fewer voters yields', 'a1', 1, [member('x', 'b2', 2)], 'b2'],
    ['more voters keeps', 'b2', 2, [member('y', 'a1', 1)], null],
    ['tie: the larger id yields', 'ff', 3, [member('x', '00', 3)], '00'],
    ['tie: the smaller id keeps', '00', 3, [member('x', 'ff', 3)], null],
    ['same cluster: nothing', 'a1', 1, [member('x', 'a1', 1)], null],
    ['a dead peer does not count', 'a1', 1, [member('x', 'b2', 3, 'dead')], null],
    [
      'size unknown yet: wait',
      'a1',
      1,
      [peer('x', { raftRole: 'leader', tags: { [CLUSTER_TAG]: 'b2' } })],
      null,
    ],
    ['the best of several', 'c3', 1, [member('x', 'b2', 2), member('y', 'a1', 3)], 'a1'],
    ['no cluster of its own', '', 0, [member('x', 'b2', 2)], null],
  ] as const)('%s', (_label, cluster, voters, peers, want) => {
    const v = mergeVerdict({ cluster, voters, hasLeader: true, peers });
    expect(v?.winner ?? null).toBe(want);
  });
  it('a side without a leader yields whatever its size, and never wins', () => {
    const follower = (id: string, cluster: string, voters: number) =>
      peer(id, { raftRole: 'follower', tags: { [CLUSTER_TAG]: cluster, [VOTERS_TAG]: String(voters) } });
    expect(
      mergeVerdict({ cluster: 'aa', voters: 3, hasLeader: false, peers: [member('x', 'bb', 1)] })?.winner,
    ).toBe('bb');
    expect(
      mergeVerdict({ cluster: 'bb', voters: 1, hasLeader: true, peers: [follower('y', 'aa', 3)] }),
    ).toBeNull();
    expect(
      mergeVerdict({ cluster: 'bb', voters: 1, hasLeader: false, peers: [follower('y', 'aa', 3)] }),
    ).toBeNull();
  });
  it('both sides agree on who yields', () => {
    const a = mergeVerdict({ cluster: 'aa', voters: 2, hasLeader: true, peers: [member('x', 'bb', 2)] });
    const b = mergeVerdict({ cluster: 'bb', voters: 2, hasLeader: true, peers: [member('y', 'aa', 2)] });
    expect([a?.winner ?? null, b?.winner ?? null]).toEqual([null, 'aa']);
  });
});
