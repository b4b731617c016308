/**
 * The driver's asyncLeaderPersist (docs/raft-runtime.md, "Commit on the followers' quorum"): a
 * leader whose own fsync is still running applies, and answers, the entries its followers'
 * acknowledgements commit; it never counts its own unsynced copy, never applies past what a quorum
 * of followers holds, and never snapshots past what its own disk holds. The leader runs the real
 * RaftDriver over a storage whose persist the test completes by hand; the two followers are bare
 * cores that persist at once.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import type { DriverClock, DriverStorage } from '../../src/driver/interfaces.js';
import { RaftDriver } from '../../src/driver/raft-driver.js';
import { KvApplier } from '../../src/raft/kv-applier.js';
import { encodeCommand, type KvResult } from '../../src/raft/kv.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { RaftNode, type Ready } from '../../src/raft/raft-node.js';
import type { Snapshot } from '../../src/raft/types.js';

const CONF = { voters: ['a', 'b', 'c'], learners: [] };
const EMPTY = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };

function core(id: string, seed: number): RaftNode {
  return new RaftNode(
    {
      id,
      electionTimeoutMinMs: 100,
      electionTimeoutMaxMs: 200,
      heartbeatIntervalMs: 20,
      rng: createRng(seed),
    },
    EMPTY,
    CONF,
  );
}

/** Lets the driver's promise chains (and its setImmediate next turns) run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

async function world(asyncLeaderPersist: boolean, snapshotEvery = 0) {
  let now = 0;
  /** Persists the test holds: resolve() completes the leader's "fsync". */
  const held: { rd: Ready; resolve: () => void }[] = [];
  let hold = false;
  /** The highest index whose persist completed on the leader. */
  let persisted = 0;
  const snapshots: Snapshot[] = [];
  const storage: DriverStorage = {
    persist(rd) {
      const last = rd.entries[rd.entries.length - 1]?.index;
      const done = (): void => {
        if (last !== undefined) persisted = Math.max(persisted, last);
      };
      if (!hold || rd.entries.length === 0) {
        done();
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        held.push({
          rd,
          resolve: () => {
            done();
            resolve();
          },
        });
      });
    },
    prepareSnapshot: (s) => {
      snapshots.push(s);
      return Promise.resolve(null);
    },
    saveSnapshot: () => Promise.resolve(),
  };
  const toFollowers: RaftMessage[] = [];
  const clock: DriverClock = {
    now: () => now,
    preciseNow: () => now,
    nextTurn: settle,
    every: () => () => undefined,
  };
  const leaderCore = core('a', 1);
  const applier = new KvApplier();
  const driver = new RaftDriver({
    core: leaderCore,
    storage,
    transport: {
      maxFrameBytes: Number.POSITIVE_INFINITY,
      send: (m) => {
        toFollowers.push(m);
        return 'queued';
      },
    },
    clock,
    applier,
    tickMs: 10,
    snapshotEvery,
    snapshotRowsPerTurn: 1000,
    asyncLeaderPersist,
  });
  const followers = new Map([
    ['b', core('b', 2)],
    ['c', core('c', 3)],
  ]);
  /** Followers that drop what reaches them (a cut link). */
  const cut = new Set<string>();
  /** Acknowledgements a follower sent and the test has not delivered yet. */
  const toLeader: RaftMessage[] = [];

  /** Delivers the leader's messages to the followers, which persist at once and answer into toLeader. */
  function followersRun(): void {
    while (toFollowers.length > 0) {
      const m = toFollowers.shift()!;
      const f = followers.get(m.to);
      if (f === undefined || cut.has(m.to)) continue;
      f.step(m, now);
      while (f.hasReady()) {
        const rd = f.ready();
        toLeader.push(...rd.messages);
        f.advance(rd);
      }
    }
  }
  async function deliverAcks(): Promise<void> {
    for (const m of toLeader.splice(0)) driver.receive(m);
    await settle();
  }
  async function elect(): Promise<void> {
    // The first tick arms the election timer, the second finds it due.
    leaderCore.tick(now);
    now = 1000;
    leaderCore.tick(now);
    driver.kick();
    for (let i = 0; i < 20 && !(leaderCore.isLeader && leaderCore.commitIndex > 0); i++) {
      await settle();
      followersRun();
      await deliverAcks();
    }
    expect(leaderCore.isLeader).toBe(true);
    // The leader's no-op is committed and applied everywhere before the test begins.
    for (let i = 0; i < 5; i++) {
      await settle();
      followersRun();
      await deliverAcks();
    }
  }
  /** Proposes a put; resolves `answered` with its result when the applier answers it. */
  function put(key: string, value: number) {
    const r = leaderCore.propose(encodeCommand({ op: 'put', key, value }), now);
    if (!r.ok) throw new Error(`refused: ${r.reason}`);
    const answer: { result: KvResult | null } = { result: null };
    applier.awaitApply(r.index, {
      term: r.term,
      applied: (res) => {
        answer.result = res;
      },
      superseded: () => undefined,
      abandoned: () => undefined,
    });
    driver.kick();
    return { index: r.index, answer };
  }
  return {
    driver,
    leaderCore,
    applier,
    held,
    snapshots,
    cut,
    followersRun,
    deliverAcks,
    elect,
    put,
    holdPersists: (on: boolean) => {
      hold = on;
    },
    persisted: () => persisted,
  };
}

describe('RaftDriver asyncLeaderPersist', () => {
  it("applies and answers on both followers' acknowledgements while the leader's persist runs", async () => {
    const w = await world(true);
    await w.elect();
    w.holdPersists(true);
    const p = w.put('k', 1);
    await settle();
    // The Ready with the entry is being persisted; its appends left early.
    expect(w.held).toHaveLength(1);
    expect(w.driver.leaderPersistInFlight).toBe(true);
    w.followersRun();
    await w.deliverAcks();
    // Committed on the followers' copies alone, with the leader's fsync still running.
    expect(w.leaderCore.commitIndex).toBe(p.index);
    expect(w.persisted()).toBeLessThan(p.index);
    expect(w.applier.appliedIndex).toBe(p.index);
    expect(p.answer.result?.ok).toBe(true);
    expect(w.driver.appliedEarly).toBe(1);
    // The core counts it applied only through its own Ready, after the persist: the applier skips it.
    expect(w.leaderCore.appliedIndex).toBeLessThan(p.index);
    w.held.shift()!.resolve();
    for (let i = 0; i < 5; i++) await settle();
    expect(w.leaderCore.appliedIndex).toBe(p.index);
    expect(w.applier.appliedIndex).toBe(p.index);
  });

  it('without the switch the same acknowledgements wait for the persist', async () => {
    const w = await world(false);
    await w.elect();
    w.holdPersists(true);
    const p = w.put('k', 1);
    await settle();
    w.followersRun();
    await w.deliverAcks();
    expect(w.leaderCore.commitIndex).toBe(p.index);
    expect(w.applier.appliedIndex).toBeLessThan(p.index);
    expect(p.answer.result).toBeNull();
    w.held.shift()!.resolve();
    for (let i = 0; i < 5; i++) await settle();
    expect(p.answer.result?.ok).toBe(true);
  });

  it("never counts the leader's unsynced copy: one follower's acknowledgement applies nothing", async () => {
    const w = await world(true);
    await w.elect();
    w.cut.add('c');
    w.holdPersists(true);
    const p = w.put('k', 1);
    await settle();
    w.followersRun();
    await w.deliverAcks();
    // b and the leader's page cache hold it: not a quorum of durable copies.
    expect(w.leaderCore.commitIndex).toBeLessThan(p.index);
    expect(w.applier.appliedIndex).toBeLessThan(p.index);
    expect(p.answer.result).toBeNull();
    // Once the leader's own copy is durable, b's and its own make the quorum.
    w.held.shift()!.resolve();
    for (let i = 0; i < 5; i++) await settle();
    expect(w.leaderCore.commitIndex).toBe(p.index);
    expect(p.answer.result?.ok).toBe(true);
  });

  it('takes no snapshot of entries applied ahead of the leader persisting them', async () => {
    const w = await world(true, 1);
    await w.elect();
    for (let i = 0; i < 5; i++) await settle();
    const before = w.snapshots.length;
    w.holdPersists(true);
    const p = w.put('k', 1);
    await settle();
    w.followersRun();
    await w.deliverAcks();
    expect(w.applier.appliedIndex).toBe(p.index);
    for (let i = 0; i < 5; i++) await settle();
    // Applied ahead, not yet durable here: no snapshot may cover it.
    for (const s of w.snapshots) expect(s.meta.index).toBeLessThanOrEqual(w.persisted());
    expect(w.snapshots.filter((s) => s.meta.index >= p.index)).toHaveLength(0);
    w.held.shift()!.resolve();
    w.holdPersists(false);
    for (let i = 0; i < 10; i++) await settle();
    expect(w.persisted()).toBeGreaterThanOrEqual(p.index);
    expect(w.snapshots.length).toBeGreaterThan(before);
    for (const s of w.snapshots) expect(s.meta.index).toBeLessThanOrEqual(w.persisted());
  });
  it('still snapshots under steady load, when every Ready has entries applied ahead', async () => {
    const w = await world(true, 5);
    await w.elect();
    for (let i = 0; i < 5; i++) await settle();
    const before = w.snapshots.length;
    const appliedBefore = w.applier.appliedIndex;
    w.holdPersists(true);
    w.put('k', 0);
    await settle();
    for (let k = 1; k <= 40; k++) {
      // The Ready in flight is acknowledged by both followers (applied ahead), a new write arrives,
      // then the leader's fsync completes and the loop hands out the next (held) Ready.
      w.followersRun();
      await w.deliverAcks();
      w.put('k', k);
      w.held.shift()?.resolve();
      for (let i = 0; i < 4; i++) await settle();
    }
    expect(w.applier.appliedIndex - appliedBefore).toBeGreaterThan(30);
    expect(w.driver.appliedEarly).toBeGreaterThan(20);
    // 40 entries at one snapshot per 5: a snapshot at most every other interval, never none.
    expect(w.snapshots.length - before).toBeGreaterThanOrEqual(4);
    for (const s of w.snapshots) expect(s.meta.index).toBeLessThanOrEqual(w.persisted());
  });
});
