/**
 * WAL throughput on the real disk: appends per second with one fdatasync per entry versus
 * batched (16 and 128 entries per sync), and with 16 concurrent writers that each append one
 * entry and call sync() (group commit). Also the latency distribution of a single fdatasync.
 * Payloads are 64 bytes. Each configuration is bounded in entries and in time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRaftStorage, PREALLOC_FILE } from '../src/raft/storage/file-storage.js';
import { nodeFs, type StorageFile, type StorageFs } from '../src/raft/storage/fs.js';
import type { Entry } from '../src/raft/types.js';
import type { BenchReport } from './types.js';

const PAYLOAD = 64;
const TIME_BUDGET_MS = 2000;
const TRIALS = 3;
const MAX_ENTRIES = 200_000;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * nodeFs that times every fdatasync of a WAL segment: a growing one (openAppend) or a preallocated
 * one (prepared under PREALLOC_FILE; its zero-filling fsyncs, before the log's first write into it,
 * are not WAL fsyncs and are not timed).
 */
function timedFs(samples: number[]): StorageFs {
  const timed = (f: StorageFile, fromFirstWrite: boolean): StorageFile => {
    let wal = !fromFirstWrite;
    return {
      append: (d) => f.append(d),
      ...(f.appendZeros ? { appendZeros: (n: number) => f.appendZeros!(n) } : {}),
      ...(f.writeAt
        ? {
            writeAt: (d: Uint8Array, pos: number) => {
              wal = true;
              return f.writeAt!(d, pos);
            },
          }
        : {}),
      async datasync() {
        const t0 = performance.now();
        await f.datasync();
        if (wal) samples.push(performance.now() - t0);
      },
      sync: () => f.sync(),
      truncate: (n) => f.truncate(n),
      close: () => f.close(),
    };
  };
  return {
    ...nodeFs,
    openAppend: async (p, mode) => timed(await nodeFs.openAppend(p, mode), false),
    async openTruncate(p) {
      const f = await nodeFs.openTruncate(p);
      return p.endsWith(PREALLOC_FILE) ? timed(f, true) : f;
    },
  };
}

interface Run {
  entries: number;
  seconds: number;
  fsyncs: number;
  appendsPerS: number;
}

async function run(batch: number, writers: number, samples: number[], preallocate = true): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-walbench-'));
  try {
    const s = new FileRaftStorage(dir, { fs: timedFs(samples), preallocate });
    await s.load();
    const data = new Uint8Array(PAYLOAD).fill(7);
    let next = 1;
    const t0 = performance.now();
    const deadline = t0 + TIME_BUDGET_MS;
    const writer = async (): Promise<void> => {
      while (performance.now() < deadline && next <= MAX_ENTRIES) {
        const es: Entry[] = [];
        for (let i = 0; i < batch; i++) es.push({ index: next++, term: 1, type: 0, data });
        s.append(es);
        await s.sync();
      }
    };
    await Promise.all(Array.from({ length: writers }, writer));
    const seconds = (performance.now() - t0) / 1000;
    const fsyncs = s.stats.flushes;
    await s.close();
    const entries = next - 1;
    return { entries, seconds: round(seconds), fsyncs, appendsPerS: Math.round(entries / seconds) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The trial with the median throughput: the disk is shared, single runs swing by several times. */
function median(runs: Run[]): Run {
  return [...runs].sort((a, b) => a.appendsPerS - b.appendsPerS)[Math.floor(runs.length / 2)]!;
}

export default async function bench(): Promise<BenchReport> {
  const latencies: number[] = [];
  const growingLatencies: number[] = [];
  const trials: Record<'single' | 'singleGrowing' | 'b16' | 'b128' | 'group', Run[]> = {
    single: [],
    singleGrowing: [],
    b16: [],
    b128: [],
    group: [],
  };
  // Interleaved so that a burst of load from elsewhere hits every configuration alike.
  for (let t = 0; t < TRIALS; t++) {
    trials.single.push(await run(1, 1, latencies));
    // The same with segments that grow with every flush (no preallocation): every fdatasync then
    // also commits the file's new size (docs/storage.md "Preallocated segments").
    trials.singleGrowing.push(await run(1, 1, growingLatencies, false));
    trials.b16.push(await run(16, 1, []));
    trials.b128.push(await run(128, 1, []));
    trials.group.push(await run(1, 16, []));
  }
  const single = median(trials.single);
  const singleGrowing = median(trials.singleGrowing);
  growingLatencies.sort((a, b) => a - b);
  const b16 = median(trials.b16);
  const b128 = median(trials.b128);
  const group = median(trials.group);
  latencies.sort((a, b) => a - b);
  return {
    name: 'wal',
    description:
      'FileRaftStorage on the local disk (tmpdir), 64-byte entries: appends/s with one fdatasync per entry, ' +
      'per batch of 16 and 128, and 16 concurrent single-entry writers sharing fsyncs by group commit ' +
      `(median of ${TRIALS} interleaved trials); fdatasync latency over every WAL fdatasync of the per-entry runs, ` +
      'in preallocated segments (the default) and, interleaved, in segments that grow with every flush (_growing).',
    metrics: {
      appends_per_s_fsync_each: single.appendsPerS,
      appends_per_s_batch16: b16.appendsPerS,
      appends_per_s_batch128: b128.appendsPerS,
      appends_per_s_16_writers_group_commit: group.appendsPerS,
      entries_per_fsync_16_writers: round(group.entries / Math.max(1, group.fsyncs)),
      batch128_speedup_x: round(b128.appendsPerS / Math.max(1, single.appendsPerS), 1),
      fdatasync_mean_ms: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 3),
      fdatasync_p50_ms: round(quantile(latencies, 0.5), 3),
      fdatasync_p99_ms: round(quantile(latencies, 0.99), 3),
      fdatasync_samples: latencies.length,
      appends_per_s_fsync_each_growing: singleGrowing.appendsPerS,
      fdatasync_p50_ms_growing: round(quantile(growingLatencies, 0.5), 3),
      fdatasync_p99_ms_growing: round(quantile(growingLatencies, 0.99), 3),
      fdatasync_max_ms_growing: round(growingLatencies[growingLatencies.length - 1] ?? NaN, 3),
      fdatasync_max_ms: round(latencies[latencies.length - 1] ?? NaN, 3),
    },
    goals: [
      { metric: 'batch128_speedup_x', op: '>=', target: 10 },
      { metric: 'entries_per_fsync_16_writers', op: '>', target: 1.5 },
    ],
    // The load average shows how contended the machine was: these figures move with it.
    details: {
      trials,
      payload_bytes: PAYLOAD,
      time_budget_ms: TIME_BUDGET_MS,
      load_average_1m: loadavg()[0],
    },
  };
}
