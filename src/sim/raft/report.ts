/** How a failed seed is reported: what broke, the run's configuration, the trace tail, and the one command that replays it. */
import { describeConfig } from './config.js';
import type { SimBug, SimResult } from './cluster.js';

export interface ReplayArgs {
  /** Pinned node count (omitted: drawn from the seed). */
  readonly nodes?: number;
  readonly chaosMs: number;
  readonly bug: SimBug;
  readonly profile?: string;
  /** Mutant name (see src/raft/mutations.ts). */
  readonly mutant?: string;
}

export function replayCommand(r: { seed: number }, a: ReplayArgs): string {
  const extra =
    `${a.nodes !== undefined ? ` --nodes ${a.nodes}` : ''}` +
    `${a.chaosMs !== 6000 ? ` --chaos-ms ${a.chaosMs}` : ''}${a.bug !== 'none' ? ` --bug ${a.bug}` : ''}` +
    `${a.profile !== undefined && a.profile !== 'default' ? ` --profile ${a.profile}` : ''}` +
    `${a.mutant !== undefined ? ` --mutant ${a.mutant}` : ''}`;
  return `npm run sim -- --seed ${r.seed}${extra} --trace`;
}

export function formatFailure(r: SimResult, a: ReplayArgs): string {
  return [
    `FAIL seed ${r.seed}: ${r.message ?? r.invariant ?? 'unknown failure'}`,
    `  invariant: ${r.invariant ?? '?'}`,
    `  config: ${describeConfig(r.config)}`,
    '  trace tail:',
    ...r.traceTail.slice(-15).map((l) => `    ${l}`),
    `  replay: ${replayCommand(r, a)}`,
  ].join('\n');
}
