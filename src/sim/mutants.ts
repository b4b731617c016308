/**
 * `npm run sim:mutants [-- --seeds N] [--mutant NAME]`: runs the randomized simulator against
 * each named core mutation (src/raft/mutations.ts) until a seed fails, and prints one line per
 * mutant: `killed seed=N` or `survived`. Exits 1 if any mutant survives: a rule whose breaking
 * the simulator cannot see is a rule it does not test.
 */
import { parseArgs } from 'node:util';
import { MUTANT_NAMES } from '../raft/mutations.js';
import { runSimulation, type SimResult } from './raft/cluster.js';
import { replayCommand } from './raft/report.js';

export interface MutantVerdict {
  readonly mutant: string;
  /** First seed whose run failed with the mutant and passes without it, or null. */
  readonly killedBy: SimResult | null;
  readonly seedsRun: number;
  /** Seeds that failed without the mutant too (a real bug, not the mutant): they prove nothing. */
  readonly baselineFailures: readonly number[];
}

/**
 * Runs seeds start.. until one fails because of the mutant, or `seeds` ran. A seed that fails also
 * without the mutation does not count: the failure is someone else's bug.
 */
export async function huntMutant(mutant: string, seeds: number, start = 1): Promise<MutantVerdict> {
  const key = MUTANT_NAMES[mutant];
  if (key === undefined) throw new Error(`unknown mutant ${mutant}`);
  const baselineFailures: number[] = [];
  for (let seed = start; seed < start + seeds; seed++) {
    const r = await runSimulation({ seed, mutations: { [key]: true } });
    if (r.ok) continue;
    if (!(await runSimulation({ seed })).ok) {
      baselineFailures.push(seed);
      continue;
    }
    return { mutant, killedBy: r, seedsRun: seed - start + 1, baselineFailures };
  }
  return { mutant, killedBy: null, seedsRun: seeds, baselineFailures };
}

export function formatVerdict(v: MutantVerdict): string {
  const name = v.mutant.padEnd(34);
  const base =
    v.baselineFailures.length > 0
      ? `; seeds failing without the mutant too: ${v.baselineFailures.join(',')}`
      : '';
  if (v.killedBy === null) return `${name} survived (${v.seedsRun} seeds${base})`;
  const r = v.killedBy;
  return `${name} killed seed=${r.seed} (${r.invariant}; replay: ${replayCommand(r, { chaosMs: 6000, bug: 'none', mutant: v.mutant })}${base})`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      seeds: { type: 'string' },
      'start-seed': { type: 'string' },
      mutant: { type: 'string', multiple: true },
    },
    strict: true,
  });
  // The seed count CI runs (test/sim/mutants.test.ts): the slowest mutant dies at seed 279.
  const seeds = Number(values.seeds ?? 320);
  const start = Number(values['start-seed'] ?? 1);
  if (!Number.isInteger(seeds) || seeds < 1 || !Number.isInteger(start) || start < 0) {
    process.stderr.write('usage: npm run sim:mutants -- [--seeds N] [--start-seed S] [--mutant NAME]...\n');
    process.exit(2);
  }
  const names = values.mutant ?? Object.keys(MUTANT_NAMES);
  let survived = 0;
  const t0 = performance.now();
  for (const name of names) {
    if (!(name in MUTANT_NAMES)) {
      process.stderr.write(`unknown mutant ${name}; known: ${Object.keys(MUTANT_NAMES).join(', ')}\n`);
      process.exit(2);
    }
    const v = await huntMutant(name, seeds, start);
    if (v.killedBy === null) survived++;
    process.stdout.write(`${formatVerdict(v)}\n`);
  }
  process.stdout.write(
    `${names.length - survived}/${names.length} mutants killed within ${seeds} seeds, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  process.exitCode = survived > 0 ? 1 : 0;
}

if (
  process.argv[1] !== undefined &&
  import.meta.url.endsWith(process.argv[1].replace(/.*\/src\//, '/src/'))
) {
  void main();
}
