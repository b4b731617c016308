/**
 * Operation counters for benchmarks (issue #16): off unless a preload
 * (bench/op-count-preload.cjs) put a record on globalThis before the daemon
 * started; then each call adds to it and the preload dumps it on a signal.
 * Off, a call is one property check.
 */
const holder = globalThis as { __swarmOpCounts?: Record<string, number> };
const counts: Record<string, number> | undefined = holder.__swarmOpCounts;

export const opCountsOn = counts !== undefined;

export function countOp(key: string, n = 1): void {
  if (counts !== undefined) counts[key] = (counts[key] ?? 0) + n;
}
