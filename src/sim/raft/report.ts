/** How a failed seed is reported: what broke, the trace tail, and the one command that replays it. */
import type { SimBug, SimResult } from './cluster.js';

export interface ReplayArgs {
  readonly nodes: number;
  readonly chaosMs: number;
  readonly bug: SimBug;
  readonly profile?: string;
}

export function replayCommand(r: { seed: number }, a: ReplayArgs): string {
  const extra =
    `${a.chaosMs !== 6000 ? ` --chaos-ms ${a.chaosMs}` : ''}${a.bug !== 'none' ? ` --bug ${a.bug}` : ''}` +
    `${a.profile !== undefined && a.profile !== 'default' ? ` --profile ${a.profile}` : ''}`;
  return `npm run sim -- --seed ${r.seed} --nodes ${a.nodes}${extra} --trace`;
}

export function formatFailure(r: SimResult, a: ReplayArgs): string {
  return [
    `FAIL seed ${r.seed}: ${r.message ?? r.invariant ?? 'unknown failure'}`,
    `  invariant: ${r.invariant ?? '?'}`,
    '  trace tail:',
    ...r.traceTail.slice(-15).map((l) => `    ${l}`),
    `  replay: ${replayCommand(r, a)}`,
  ].join('\n');
}
