/**
 * Three failures real daemons showed, reproduced in the simulator on the production driver, WAL
 * and KV applier (src/sim/raft/world.ts). Each test asserts the correct behaviour: the follower
 * catches up within a bounded virtual time and commits continue. They failed, for these reasons,
 * until the core and storage were fixed (issue #15; helper `durability`'s work):
 *
 * (a) a follower whose log got shorter (a torn WAL tail cut at restart) is never repaired while
 *     the same leader stays: Progress.maybeDecrTo never lets `next` go below match+1, so the
 *     leader resends the same append forever (traffic explodes);
 * (b) a follower 300 entries of 60 KB behind never catches up: an append batch is capped by
 *     count (512), not bytes, and 18 MB exceeds the transport's 16 MiB frame limit;
 * (c) a KV store over 16 MiB can never be sent as a snapshot: it travels as one frame.
 */
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/raft/kv.js';
import { SimWorld, type SimNode, type WorldConfig } from '../../src/sim/raft/world.js';

const BASE: WorldConfig = {
  seed: 15,
  voters: ['n1', 'n2', 'n3'],
  learners: [],
  preVote: true,
  checkQuorum: true,
  heartbeatMs: 50,
  electionMinMs: 500,
  electionMaxMs: 1000,
  tickMs: 10,
  snapshotEvery: 0,
  link: { latencyMs: 2, jitterMs: 1, loss: 0, duplicate: 0 },
  syncMs: [0.5, 2],
};

async function start(cfg: Partial<WorldConfig>): Promise<{ w: SimWorld; leader: SimNode }> {
  const w = new SimWorld({ ...BASE, ...cfg });
  for (const n of w.nodes) w.start(n);
  await w.run(5000, () => w.leader() !== null);
  const leader = w.leader();
  if (leader === null) throw new Error('no leader elected');
  return { w, leader };
}

/** Proposes `count` puts at the leader, `perTurn` at a time, and runs until they are applied there. */
async function write(
  w: SimWorld,
  leader: SimNode,
  count: number,
  value: (i: number) => string,
  perTurn = 10,
): Promise<void> {
  const key = (i: number): string => `k${i}`;
  for (let i = 0; i < count; i += perTurn) {
    for (let j = i; j < Math.min(count, i + perTurn); j++) {
      const r = leader.core!.propose(encodeCommand({ op: 'put', key: key(j), value: value(j) }), w.now);
      if (!r.ok) throw new Error(`proposal refused: ${r.reason}`);
    }
    leader.driver!.kick();
    const target = leader.core!.status().lastIndex;
    await w.run(w.now + 5000, () => (leader.applier?.appliedIndex ?? 0) >= target);
    if ((leader.applier?.appliedIndex ?? 0) < target) throw new Error(`writes ${i}.. did not commit`);
  }
}

/** Runs until `f` has applied everything the leader has, or `boundMs` of virtual time passed. */
async function catchUp(w: SimWorld, leader: SimNode, f: SimNode, boundMs: number): Promise<number> {
  const t0 = w.now;
  await w.run(
    t0 + boundMs,
    () => f.applier !== null && f.applier.appliedIndex >= (leader.applier?.appliedIndex ?? Infinity),
  );
  return w.now - t0;
}

function follower(w: SimWorld, leader: SimNode): SimNode {
  return w.nodes.find((n) => n !== leader)!;
}

describe('daemon bugs, reproduced in the simulator', () => {
  it('(a) a follower whose log got shorter (torn tail cut at restart) is repaired by the same leader', async () => {
    const { w, leader } = await start({ checkPromises: false });
    await write(w, leader, 60, (i) => `v${i}`);
    const f = follower(w, leader);
    const term = leader.term;
    await w.run(w.now + 200);
    const before = f.applier!.appliedIndex;
    // Power loss, and the disk had not really written the last sectors it acknowledged: the WAL's
    // last segment loses its tail, so the follower restarts with fewer entries than it acknowledged.
    w.crash(f, 'power loss');
    const seg = f.fs
      .files()
      .filter((x) => x.path.endsWith('.wal'))
      .sort((a, b) => a.path.localeCompare(b.path))
      .at(-1)!;
    // syncedData, not synced: a preallocated segment's synced length includes its zeros.
    expect(f.fs.chop(seg.path, Math.floor(seg.syncedData * 0.4))).toBe(true);
    w.start(f);
    await w.run(w.now + 100, () => f.core !== null);
    expect(f.core!.status().lastIndex).toBeLessThan(before);
    const sent0 = w.stats.messages;
    await write(w, leader, 5, (i) => `after${i}`);
    const took = await catchUp(w, leader, f, 5000);
    // The scenario needs the same leader throughout: it is the leader's view of the follower that is stale.
    expect(w.leader()).toBe(leader);
    expect(leader.term).toBe(term);
    expect(
      f.applier!.appliedIndex,
      `follower stuck at ${f.applier!.appliedIndex} (log ${f.core!.status().lastIndex}) while the leader's ` +
        `match for it is ${leader.core!.status().progress?.[f.id]?.match}, after ${took} ms and ` +
        `${w.stats.messages - sent0} messages`,
    ).toBe(leader.applier!.appliedIndex);
    // Repair costs a handful of round trips, not a storm of identical appends.
    expect(w.stats.messages - sent0).toBeLessThan(3000);
  }, 120_000);

  it('(b) a follower 300 entries of 60 KB behind catches up (batches fit the 16 MiB frame)', async () => {
    const { w, leader } = await start({});
    const f = follower(w, leader);
    const others = w.nodes.filter((n) => n !== f).map((n) => n.id);
    w.net.partition([[f.id], others]);
    const big = (i: number): string => `${i}:${'x'.repeat(60_000)}`;
    await write(w, leader, 300, big, 10);
    w.net.heal();
    const took = await catchUp(w, leader, f, 20_000);
    expect(
      f.applier!.appliedIndex,
      `follower stuck at ${f.applier!.appliedIndex} of ${leader.applier!.appliedIndex} after ${took} ms; ` +
        `${w.stats.oversize} messages over the frame limit dropped`,
    ).toBe(leader.applier!.appliedIndex);
    // Commits continue with the follower back.
    await write(w, leader, 5, (i) => `after${i}`);
    expect(await catchUp(w, leader, f, 5000)).toBeLessThan(5000);
  }, 180_000);

  it('(c) a KV store over 16 MiB is sent to a follower that needs a snapshot', async () => {
    const { w, leader } = await start({ snapshotEvery: 50 });
    const f = follower(w, leader);
    const others = w.nodes.filter((n) => n !== f).map((n) => n.id);
    w.net.partition([[f.id], others]);
    const big = (i: number): string => `${i}:${'y'.repeat(60_000)}`;
    // 300 distinct keys of 60 KB: an 18 MB store; the leader snapshots and compacts meanwhile.
    await write(w, leader, 300, big, 10);
    await w.run(w.now + 2000);
    expect(leader.core!.status().snapshotIndex).toBeGreaterThan(f.applier!.appliedIndex);
    w.net.heal();
    const took = await catchUp(w, leader, f, 30_000);
    expect(
      f.applier!.appliedIndex,
      `follower stuck at ${f.applier!.appliedIndex} of ${leader.applier!.appliedIndex} after ${took} ms; ` +
        `${w.stats.oversize} messages over the frame limit dropped`,
    ).toBe(leader.applier!.appliedIndex);
    expect(f.applier!.kv.get('k299')?.value).toBe(big(299));
  }, 180_000);
});
