/** Thesis 6.4 (ReadIndex linearizable reads) and chapter 5 (log compaction, InstallSnapshot). */
import { describe, expect, it } from 'vitest';
import { KvStateMachine, encodeCommand } from '../../src/raft/kv.js';
import { TestCluster, text } from './cluster.js';
import { ackAppend, drain, makeLeader, mkNode, ofType } from './manual.js';

describe('ReadIndex', () => {
  it('answers after a majority confirms leadership, at the commit index', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 81);
    const l = await c.electLeader();
    await c.propose('x');
    await c.advance(100);
    expect(l.readIndex('r1', c.now)).toEqual({ ok: true });
    await c.deliver();
    expect(c.readStates.get(l.id)).toEqual([{ requestId: 'r1', index: l.status().commit }]);
  });

  it('a leader cut off from the majority never answers', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 82, { checkQuorum: false, preVote: false });
    const l = await c.electLeader();
    await c.advance(100);
    c.isolate(l.id);
    expect(l.readIndex('r1', c.now).ok).toBe(true);
    await c.advance(1000);
    expect(c.readStates.get(l.id) ?? []).toEqual([]);
  });

  it('followers refuse and name the leader', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 83);
    const l = await c.electLeader();
    await c.advance(100);
    const f = c.node(['a', 'b', 'c'].find((id) => id !== l.id)!);
    expect(f.readIndex('r', c.now)).toEqual({ ok: false, reason: 'not_leader', leader: l.id });
  });

  it('a new leader holds reads until an entry of its term commits', async () => {
    const a = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    makeLeader(a);
    drain(a);
    a.readIndex('early', 1000);
    // No heartbeat round yet: nothing of this term is committed.
    expect(ofType(drain(a).msgs, 'heartbeat')).toHaveLength(0);
    const term = a.status().term;
    const noop = a.status().lastIndex;
    a.step(ackAppend('b', 'a', term, noop), 1001);
    const hb = ofType(drain(a).msgs, 'heartbeat');
    expect(hb.length).toBe(2);
    const ctx = hb[0]!.readCtx;
    expect(ctx).toBeGreaterThan(0);
    a.step({ type: 'heartbeat_response', from: 'c', to: 'a', term, readCtx: ctx }, 1002);
    const { readies } = drain(a);
    expect(readies.flatMap((r) => r.readStates)).toEqual([{ requestId: 'early', index: noop }]);
  });

  it('a single-voter leader answers at once', async () => {
    const c = TestCluster.boot(['solo'], 84);
    const l = await c.electLeader();
    await c.advance(10);
    l.readIndex('r', c.now);
    await c.deliver();
    expect(c.readStates.get('solo')).toEqual([{ requestId: 'r', index: l.status().commit }]);
  });
});

describe('snapshots and log compaction', () => {
  it('compaction drops the log prefix; createSnapshot records term and configuration', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 91);
    const l = await c.electLeader();
    for (let i = 0; i < 10; i++) await c.propose(`e${i}`);
    await c.advance(100);
    const applied = l.status().applied;
    const snap = l.createSnapshot(applied, text('img'));
    expect(snap.meta).toEqual({
      index: applied,
      term: l.status().term,
      conf: { voters: ['a', 'b', 'c'], learners: [] },
    });
    expect(c.compact(l.id)).toBe(true);
    expect(l.status().firstIndex).toBe(applied + 1);
    expect(l.termAt(applied)).toBe(l.status().term);
    expect(l.termAt(applied - 1)).toBeUndefined();
  });

  it('refuses to snapshot beyond the applied index', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 92);
    const l = await c.electLeader();
    expect(() => l.createSnapshot(l.status().applied + 5, text(''))).toThrow(/applied/);
  });

  it('a follower behind the compacted log receives InstallSnapshot and catches up', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 93);
    const l = await c.electLeader();
    const lag = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    c.crash(lag);
    for (let i = 0; i < 30; i++) await c.propose(`e${i}`);
    await c.advance(100);
    for (const id of ['a', 'b', 'c']) if (id !== lag) c.compact(id);
    for (let i = 30; i < 35; i++) await c.propose(`e${i}`);
    c.start(lag, { voters: ['a', 'b', 'c'], learners: [] });
    await c.advance(500);
    expect(c.sent.some((m) => m.type === 'install_snapshot' && m.to === lag)).toBe(true);
    expect(c.appliedTexts(lag)).toEqual(Array.from({ length: 35 }, (_, i) => `e${i}`));
    expect(c.node(lag).status().snapshotIndex).toBeGreaterThan(0);
  });

  it('a node restarts from its snapshot plus the log after it', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 94);
    await c.electLeader();
    for (let i = 0; i < 10; i++) await c.propose(`e${i}`);
    await c.advance(100);
    c.compact('a');
    for (let i = 10; i < 15; i++) await c.propose(`e${i}`);
    await c.advance(100);
    c.crash('a');
    c.start('a', { voters: ['a', 'b', 'c'], learners: [] });
    await c.advance(300);
    expect(c.appliedTexts('a')).toEqual(Array.from({ length: 15 }, (_, i) => `e${i}`));
  });

  it('a lost snapshot is sent again', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 95);
    const l = await c.electLeader();
    const lag = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    c.crash(lag);
    for (let i = 0; i < 5; i++) await c.propose(`e${i}`);
    await c.advance(100);
    c.compact(l.id);
    let dropped = 0;
    c.filter = (m) => {
      if (m.type === 'install_snapshot' && dropped === 0) {
        dropped++;
        return false;
      }
      return true;
    };
    c.start(lag, { voters: ['a', 'b', 'c'], learners: [] });
    await c.advance(1500);
    expect(dropped).toBe(1);
    expect(c.appliedTexts(lag)).toHaveLength(5);
  });

  it('a KV state machine restored from a snapshot answers like the original', async () => {
    const kv = new KvStateMachine();
    const cmds = [
      encodeCommand({ op: 'put', key: 'a', value: 1 }),
      encodeCommand({ op: 'put', key: 'b', value: { x: [1, 2] } }),
      encodeCommand({ op: 'delete', key: 'a' }),
    ];
    cmds.forEach((data, i) => kv.apply({ index: i + 1, term: 1, type: 0, data }));
    const copy = new KvStateMachine();
    copy.restore(kv.snapshot());
    expect(copy.appliedIndex).toBe(3);
    expect(copy.revision).toBe(kv.revision);
    expect(copy.get('b')).toEqual(kv.get('b'));
    expect(copy.get('a')).toBeNull();
    expect(copy.snapshot()).toEqual(kv.snapshot());
  });
});

describe('ReadIndex batching', () => {
  it('reads issued between two Readys share one heartbeat round', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 85);
    const l = await c.electLeader();
    await c.advance(100);
    const before = c.sent.length;
    for (let i = 0; i < 10; i++) l.readIndex(`r${i}`, c.now);
    await c.deliver();
    const rounds = c.sent.slice(before).filter((m) => m.type === 'heartbeat' && m.readCtx > 0);
    expect(rounds).toHaveLength(2);
    expect(c.readStates.get(l.id)?.map((r) => r.requestId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `r${i}`),
    );
  });

  it('a restart replays committed entries in bounded batches', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 86, { maxCommittedPerReady: 7 });
    await c.electLeader();
    for (let i = 0; i < 40; i++) await c.propose(`e${i}`);
    await c.advance(100);
    c.crash('a');
    const n = c.start('a', { voters: ['a', 'b', 'c'], learners: [] });
    const sizes: number[] = [];
    while (n.hasReady()) {
      const rd = n.ready();
      sizes.push(rd.committed.length);
      n.advance(rd);
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(41);
  });
});
