/**
 * A graceful stop snapshots the applied state when many entries were applied
 * since the last snapshot (RaftDriver.snapshotAtStop), so the next start
 * restores it instead of replaying the committed entries: over the real WAL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { walStorage } from '../../src/driver/file-storage.js';
import { nodeClock } from '../../src/driver/node-clock.js';
import { RaftDriver } from '../../src/driver/raft-driver.js';
import { KvApplier } from '../../src/raft/kv-applier.js';
import { encodeCommand } from '../../src/raft/kv.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import { FileRaftStorage } from '../../src/raft/storage/file-storage.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A lone voter over a WAL in `dir` that has applied `puts` puts (keys k0.., value i). */
async function loneVoter(dir: string, puts: number) {
  const storage = new FileRaftStorage(dir);
  const core = new RaftNode(
    {
      id: 'a',
      electionTimeoutMinMs: 50,
      electionTimeoutMaxMs: 100,
      heartbeatIntervalMs: 20,
      rng: createRng(3),
    },
    await storage.load(),
    { voters: ['a'], learners: [] },
  );
  const applier = new KvApplier();
  const driver = new RaftDriver({
    core,
    storage: walStorage(storage),
    transport: { maxFrameBytes: Number.POSITIVE_INFINITY, send: () => 'queued' },
    clock: nodeClock,
    applier,
    tickMs: 10,
    snapshotEvery: 10_000,
  });
  driver.updateTimer();
  await until(() => core.isLeader);
  let last = 0;
  for (let i = 0; i < puts; i++) {
    const r = core.propose(encodeCommand({ op: 'put', key: `k${i}`, value: i }), Date.now());
    if (!r.ok) throw new Error(`propose refused: ${r.reason}`);
    last = r.index;
    if (i % 50 === 49) driver.kick();
  }
  driver.kick();
  await until(() => applier.appliedIndex >= last);
  return { storage, driver, applier };
}

describe('RaftDriver.snapshotAtStop', () => {
  it('after stop(), snapshots what was applied: the next load restores it and replays nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs2-stop-snap-'));
    dirs.push(dir);
    const { storage, driver, applier } = await loneVoter(dir, 400);
    const applied = applier.appliedIndex;
    // Still running: a snapshot here would race the loop.
    expect(await driver.snapshotAtStop(1)).toBe(0);
    await driver.stop();
    // Fewer applied entries than asked for: the stop stays cheap.
    expect(await driver.snapshotAtStop(applied + 1)).toBe(0);
    expect(await driver.snapshotAtStop(100)).toBe(applied);
    expect(applier.snapshotIndex).toBe(applied);
    await storage.close();

    const again = new FileRaftStorage(dir);
    const rec = await again.load();
    expect(rec.snapshot?.meta.index).toBe(applied);
    expect(rec.entries).toEqual([]);
    const restored = new KvApplier();
    restored.restore(rec.snapshot!);
    expect(restored.appliedIndex).toBe(applied);
    expect(restored.kv.get('k399')?.value).toBe(399);
    expect(restored.kv.size).toBe(400);
    await again.close();
  });
});
