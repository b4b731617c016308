/**
 * FileStorageOptions.inlineSync: a small flush on a fast disk fsyncs on the calling thread; a large
 * flush, a slow disk or `maxEntries: 0` keep the thread pool. Either way the data is durable before
 * sync() resolves, and a failed inline fsync fails the storage stop like a failed pooled one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NODE_INLINE_SYNC } from '../../../src/node/raft-core-runner.js';
import type { FileStorageOptions } from '../../../src/raft/storage/file-storage.js';
import { nodeFs, type StorageFile, type StorageFs } from '../../../src/raft/storage/fs.js';
import { closeStoragesAndDirs, entries, entry, openStorage, tempDir } from './helpers.js';

afterEach(closeStoragesAndDirs);

interface Counts {
  pooled: number;
  inline: number;
}

/** nodeFs whose WAL files count both kinds of fdatasync, which may stall (a slow disk); an inline one may fail. */
function countingFs(counts: Counts, inline: { stallMs: number; fail: boolean }): StorageFs {
  const wrap = (f: StorageFile): StorageFile => ({
    append: (d) => f.append(d),
    async datasync() {
      counts.pooled++;
      await f.datasync();
      if (inline.stallMs > 0) await new Promise((r) => setTimeout(r, inline.stallMs));
    },
    datasyncInline() {
      counts.inline++;
      if (inline.fail) throw new Error('EIO');
      f.datasyncInline!();
      // A slow disk, as the storage measures it (wall time of the call).
      const end = performance.now() + inline.stallMs;
      while (performance.now() < end);
    },
    sync: () => f.sync(),
    truncate: (n) => f.truncate(n),
    close: () => f.close(),
    ...(f.writeAt ? { writeAt: (d: Uint8Array, p: number) => f.writeAt!(d, p) } : {}),
  });
  return {
    ...nodeFs,
    openAppend: async (p, mode) => wrap(await nodeFs.openAppend(p, mode)),
    openTruncate: async (p) => wrap(await nodeFs.openTruncate(p)),
  };
}

async function open(dir: string, opts: FileStorageOptions) {
  // Preparing a preallocated segment fdatasyncs on the pool too; counted here it would blur what
  // these tests count, the WAL's own fsyncs (prealloc.test.ts checks inline fsyncs in such a segment).
  return (await openStorage(dir, { preallocate: false, ...opts })).s;
}

describe('inline fdatasync', () => {
  it('fsyncs a flush of one or two entries inline and a larger one on the pool; all of it durable', async () => {
    const dir = tempDir();
    const counts: Counts = { pooled: 0, inline: 0 };
    // The disk's speed is not the subject here (see the slow-disk test below).
    const s = await open(dir, {
      fs: countingFs(counts, { stallMs: 0, fail: false }),
      inlineSync: { maxEntries: 2, maxMs: 1000 },
    });
    const atLoad = { ...counts };
    s.append([entry(1, 1)]);
    await s.sync();
    s.append(entries(2, 3, 1));
    await s.sync();
    expect(counts.inline - atLoad.inline).toBe(2);
    expect(counts.pooled - atLoad.pooled).toBe(0);
    expect(s.stats.inlineFsyncs).toBe(2);
    s.append(entries(4, 10, 1));
    await s.sync();
    expect(counts.pooled - atLoad.pooled).toBe(1);
    expect(counts.inline - atLoad.inline).toBe(2);
    await s.close();
    const again = await open(dir, {});
    expect(again.getLastIndex()).toBe(10);
  });

  it("the node's follower policy (NODE_INLINE_SYNC) fsyncs a flush of any size inline on a fast disk", async () => {
    const dir = tempDir();
    const counts: Counts = { pooled: 0, inline: 0 };
    const s = await open(dir, {
      fs: countingFs(counts, { stallMs: 0, fail: false }),
      inlineSync: { ...NODE_INLINE_SYNC, maxMs: 1000 },
    });
    const atLoad = { ...counts };
    // One leader round of appends at 64 clients: tens of entries.
    s.append(entries(1, 64, 1));
    await s.sync();
    expect(counts.inline - atLoad.inline).toBe(1);
    expect(counts.pooled - atLoad.pooled).toBe(0);
    expect(NODE_INLINE_SYNC.maxMs).toBeLessThanOrEqual(2);
    // A catch-up flush over the byte bound (here 40 entries of 8 KiB, 320 KiB) takes the pool, fast
    // disk or not: the average would learn of a slow fsync only after it had blocked the loop.
    s.append(entries(65, 104, 1, 8192));
    await s.sync();
    expect(counts.inline - atLoad.inline).toBe(1);
    expect(counts.pooled - atLoad.pooled).toBe(1);
    await s.close();
    expect((await open(dir, {})).getLastIndex()).toBe(104);
  });

  it('stops fsyncing inline once the disk is slow', async () => {
    const counts: Counts = { pooled: 0, inline: 0 };
    const s = await open(tempDir(), {
      fs: countingFs(counts, { stallMs: 20, fail: false }),
      inlineSync: { maxEntries: 2, maxMs: 2 },
    });
    const atLoad = { ...counts };
    for (let i = 1; i <= 6; i++) {
      s.append([entry(i, 1)]);
      await s.sync();
    }
    // The first fsync (inline: nothing measured yet) takes over 20 ms, which lifts the running
    // average (weight 0.2) past 4 ms: from then on every flush, small as it is, waits on the pool
    // (and the disk stays slow there).
    expect(counts.inline - atLoad.inline).toBe(1);
    expect(counts.pooled - atLoad.pooled).toBe(5);
  });

  it('never fsyncs inline with maxEntries 0', async () => {
    const counts: Counts = { pooled: 0, inline: 0 };
    const s = await open(tempDir(), {
      fs: countingFs(counts, { stallMs: 0, fail: false }),
      inlineSync: { maxEntries: 0, maxMs: 2 },
    });
    for (let i = 1; i <= 3; i++) {
      s.append([entry(i, 1)]);
      await s.sync();
    }
    expect(counts.inline).toBe(0);
    expect(s.stats.inlineFsyncs).toBe(0);
  });

  it('fsyncs on the pool while setInlineSync(false) holds (a leader), inline again once turned back on', async () => {
    const counts: Counts = { pooled: 0, inline: 0 };
    // The disk's speed is not the subject here: the pooled fsync's time feeds the running average,
    // and a loaded CI machine's may be over the 2 ms fast-disk bound, which would keep the next
    // flush on the pool for a reason this test does not mean.
    const s = await open(tempDir(), {
      fs: countingFs(counts, { stallMs: 0, fail: false }),
      inlineSync: { maxEntries: 2, maxMs: 1000 },
    });
    const atLoad = { ...counts };
    s.setInlineSync(false);
    s.append([entry(1, 1)]);
    await s.sync();
    expect(counts.inline - atLoad.inline).toBe(0);
    expect(counts.pooled - atLoad.pooled).toBe(1);
    s.setInlineSync(true);
    s.append([entry(2, 1)]);
    await s.sync();
    expect(counts.inline - atLoad.inline).toBe(1);
  });

  it("setInlineSync('lone') (a leader): inline only for one-entry flushes while flushes hold one on average", async () => {
    const counts: Counts = { pooled: 0, inline: 0 };
    // The disk's speed is not the subject here: a loaded CI machine's fdatasync may average over the
    // 2 ms fast-disk bound, which would send every flush to the pool.
    const s = await open(tempDir(), {
      fs: countingFs(counts, { stallMs: 0, fail: false }),
      inlineSync: { maxEntries: 2, maxMs: 1000 },
    });
    s.setInlineSync('lone');
    const at = { ...counts };
    let next = 1;
    const flush = async (n: number) => {
      const es = [];
      for (let i = 0; i < n; i++) es.push(entry(next++, 1));
      s.append(es);
      await s.sync();
    };
    // A lone writer: one entry per flush, inline.
    for (let i = 0; i < 5; i++) await flush(1);
    expect(counts.inline - at.inline).toBe(5);
    // Two entries: the pool, although 'on' (a follower) would take it inline.
    await flush(2);
    expect(counts.pooled - at.pooled).toBe(1);
    // Concurrent writers (several entries per flush): the pool, even for a flush that happens to hold one.
    for (let i = 0; i < 5; i++) await flush(4);
    const inlineBefore = counts.inline;
    await flush(1);
    expect(counts.inline).toBe(inlineBefore);
    // Writers gone but one: inline again once the average has come down.
    for (let i = 0; i < 40; i++) await flush(1);
    expect(counts.inline).toBeGreaterThan(inlineBefore + 20);
    expect(s.getLastIndex()).toBe(next - 1);
  });

  it('fails stop after an inline fdatasync error', async () => {
    const flags = { stallMs: 0, fail: false };
    // The disk's speed is not the subject here: at the default 2 ms fast-disk bound, a first fsync
    // over 10 ms (a loaded CI machine) lifts the running average past it, and the failing flush
    // would go to the pool, where nothing fails.
    const s = await open(tempDir(), {
      fs: countingFs({ pooled: 0, inline: 0 }, flags),
      inlineSync: { maxEntries: 2, maxMs: 1000 },
    });
    s.append([entry(1, 1)]);
    await s.sync();
    flags.fail = true;
    s.append([entry(2, 1)]);
    await expect(s.sync()).rejects.toThrow(/I\/O failed.*EIO/);
    flags.fail = false;
    expect(() => s.append([entry(3, 1)])).toThrow(/failed an earlier/);
  });
});
