/**
 * Long-mode runner of the deterministic Raft simulator:
 *
 *   npm run sim -- --seeds 100000 [--start-seed S]      sweep seeds (each draws its own configuration)
 *   npm run sim -- --seed 1234 --trace                    replay one
 *   npm run sim -- --seeds 500 --mutant vote-no-up-to-date-check   hunt one core mutant
 *   npm run sim -- --scenario gossip-leave --seeds 1000   the gossip core: an observer's leave under loss
 *   npm run sim -- --scenario lease-forward --seeds 500   a lease kept alive through a follower across leader crashes
 *   npm run sim -- --scenario graceful-stop --seeds 200   writes through the survivors while the leader stops gracefully
 *
 * Every failure prints its seed, the violated invariant, the run's
 * configuration, the tail of the trace and the one command that replays it;
 * the exit code is 1 if any seed failed. Seeds are independent, so a sweep can
 * be split across machines with --start-seed.
 */
import { parseArgs } from 'node:util';
import { MUTANT_NAMES } from '../raft/mutations.js';
import { runSimulation, type SimBug } from './raft/cluster.js';
import { PROFILES } from './raft/faults.js';
import { formatFailure } from './raft/report.js';
import { leaveCheck } from './gossip/workloads.js';
import { leaseForwardCheck } from './raft/lease-forward.js';
import { gracefulStopCheck } from './raft/graceful-stop.js';

const BUGS: readonly SimBug[] = ['none', 'send-before-sync', 'lying-sync', 'ack-before-commit'];

interface CliArgs {
  seeds: number;
  start: number;
  nodes: number | undefined;
  trace: boolean;
  chaosMs: number;
  bug: SimBug;
  profile: string;
  mutant: string | undefined;
  maxFailures: number;
  timeLimitS: number;
  scenario: string;
  noReroute: boolean;
  noWithdraw: boolean;
}

/** Seeded gossip scenarios besides the Raft simulator (the default, `raft`). */
const SCENARIOS = ['raft', 'gossip-leave', 'lease-forward', 'graceful-stop'];

function usage(msg: string): never {
  process.stderr.write(
    `sim: ${msg}\nusage: npm run sim -- [--seeds N | --seed S] [--start-seed S] [--nodes N] [--chaos-ms MS] [--trace] [--bug ${BUGS.join('|')}] [--profile ${Object.keys(PROFILES).join('|')}] [--mutant ${Object.keys(MUTANT_NAMES).join('|')}] [--max-failures N] [--time-limit-s S] [--scenario ${SCENARIOS.join('|')}] [--no-reroute (lease-forward: the pre-#17 forwarder wiring)] [--no-withdraw (lease-forward, graceful-stop: a transport that cannot take back unsent frames)]\n`,
  );
  process.exit(2);
}

function int(v: string | undefined, name: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

function parse(argv: string[]): CliArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seeds: { type: 'string' },
        seed: { type: 'string' },
        'start-seed': { type: 'string' },
        nodes: { type: 'string' },
        'chaos-ms': { type: 'string' },
        trace: { type: 'boolean' },
        bug: { type: 'string' },
        profile: { type: 'string' },
        mutant: { type: 'string' },
        'max-failures': { type: 'string' },
        'time-limit-s': { type: 'string' },
        scenario: { type: 'string' },
        'no-reroute': { type: 'boolean' },
        'no-withdraw': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
  if (values.help) usage('help');
  const str = (k: string): string | undefined =>
    typeof values[k] === 'string' ? (values[k] as string) : undefined;
  const single = str('seed');
  if (single !== undefined && str('seeds') !== undefined)
    usage('--seed replays one seed; do not combine it with --seeds');
  const bug = (str('bug') ?? 'none') as SimBug;
  if (!BUGS.includes(bug)) usage(`--bug must be one of ${BUGS.join(', ')}`);
  const profile = str('profile') ?? 'default';
  if (!(profile in PROFILES)) usage(`--profile must be one of ${Object.keys(PROFILES).join(', ')}`);
  const mutant = str('mutant');
  if (mutant !== undefined && !(mutant in MUTANT_NAMES))
    usage(`--mutant must be one of ${Object.keys(MUTANT_NAMES).join(', ')}`);
  const nodes = str('nodes');
  const scenario = str('scenario') ?? 'raft';
  if (!SCENARIOS.includes(scenario)) usage(`--scenario must be one of ${SCENARIOS.join(', ')}`);
  return {
    seeds: single !== undefined ? 1 : int(str('seeds'), 'seeds', 100, 1),
    start: single !== undefined ? int(single, 'seed', 1, 0) : int(str('start-seed'), 'start-seed', 1, 0),
    nodes: nodes === undefined ? undefined : int(nodes, 'nodes', 3, 1),
    chaosMs: int(str('chaos-ms'), 'chaos-ms', 6000, 0),
    trace: values.trace === true,
    bug,
    profile,
    mutant,
    maxFailures: int(str('max-failures'), 'max-failures', 10, 1),
    timeLimitS: int(str('time-limit-s'), 'time-limit-s', 0, 0),
    scenario,
    noReroute: values['no-reroute'] === true,
    noWithdraw: values['no-withdraw'] === true,
  };
}

/**
 * A failed seed of a forwarder scenario: why, its configuration, the trace's tail (unless the whole
 * trace was printed as it ran) and the one command that replays it.
 */
function writeFailure(
  a: CliArgs,
  seed: number,
  r: { readonly failure: string | null; readonly config: string; readonly trace: readonly string[] },
  replayArgs: string,
): void {
  const tail = (a.trace ? [] : r.trace.slice(-25)).map((l) => `    ${l}`).join('\n');
  process.stdout.write(
    `FAIL seed ${seed}: ${r.failure ?? ''}\n  config: ${r.config}\n  trace tail:\n${tail}\n` +
      `  replay: npm run sim -- --scenario ${replayArgs}\n`,
  );
}

/**
 * `leaseForwardCheck` per seed (src/sim/raft/lease-forward.ts): a lease kept
 * alive through a follower must survive every leader crash.
 */
async function leaseForward(a: CliArgs): Promise<void> {
  const t0 = performance.now();
  let failures = 0;
  let done = 0;
  const kept = { ok: 0, failed: 0, abandoned: 0 };
  const writes = { ok: 0, failed: 0, dropped: 0 };
  let crashes = 0;
  const sink = a.trace ? (l: string) => process.stdout.write(`${l}\n`) : undefined;
  for (let seed = a.start; seed < a.start + a.seeds && failures < a.maxFailures; seed++, done++) {
    const r = await leaseForwardCheck({
      seed,
      ...(a.noReroute ? { noReroute: true } : {}),
      ...(a.noWithdraw ? { noWithdraw: true } : {}),
      ...(sink ? { traceSink: sink } : {}),
    });
    kept.ok += r.keepalives.ok;
    kept.failed += r.keepalives.failed;
    kept.abandoned += r.keepalives.abandoned;
    writes.ok += r.writes.ok;
    writes.failed += r.writes.failed;
    writes.dropped += r.writes.dropped;
    crashes += r.crashes;
    if (!r.ok) {
      failures++;
      writeFailure(
        a,
        seed,
        r,
        `lease-forward --seed ${seed} --trace${a.noReroute ? ' --no-reroute' : ''}${a.noWithdraw ? ' --no-withdraw' : ''}`,
      );
    }
    if (a.seeds > 1 && done % 100 === 99)
      process.stderr.write(
        `${done + 1}/${a.seeds} seeds, ${failures} failed, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
      );
  }
  process.stdout.write(
    `lease-forward: ${done} seeds (${a.start}..${a.start + done - 1}): ${failures} failed; ${crashes} leader crashes, ` +
      `keep-alives ${kept.ok} ok, ${kept.failed} failed, ${kept.abandoned} abandoned by the client; ` +
      `writes ${writes.ok} ok, ${writes.failed} failed (503), ${writes.dropped} dropped unsent after their client left (none applied); ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  process.exitCode = failures > 0 ? 1 : 0;
}

/** `gracefulStopCheck` per seed (src/sim/raft/graceful-stop.ts): a failed or twice-applied write fails it. */
async function gracefulStop(a: CliArgs): Promise<void> {
  const t0 = performance.now();
  let failures = 0;
  let done = 0;
  let ok = 0;
  let failed = 0;
  let refusals = 0;
  const gaps: number[] = [];
  const sink = a.trace ? (l: string) => process.stdout.write(`${l}\n`) : undefined;
  for (let seed = a.start; seed < a.start + a.seeds && failures < a.maxFailures; seed++, done++) {
    const r = await gracefulStopCheck({
      seed,
      ...(a.noWithdraw ? { noWithdraw: true } : {}),
      ...(sink ? { traceSink: sink } : {}),
    });
    ok += r.writes.ok;
    failed += r.writes.failed;
    refusals += r.stopRefusals;
    gaps.push(...r.gaps);
    if (!r.ok) {
      failures++;
      writeFailure(a, seed, r, `graceful-stop --seed ${seed} --trace${a.noWithdraw ? ' --no-withdraw' : ''}`);
    }
  }
  gaps.sort((x, y) => x - y);
  const at = (q: number): string =>
    gaps.length === 0 ? '-' : gaps[Math.floor(q * (gaps.length - 1))]!.toFixed(1);
  process.stdout.write(
    `graceful-stop: ${done} seeds (${a.start}..${a.start + done - 1}): ${failures} failed; ${gaps.length} leader stops, ` +
      `${ok} writes acknowledged, ${failed} failed (503), ${refusals} stopping nodes' refusals delivered; largest write gap per stop (virtual ms) median ${at(0.5)}, p90 ${at(0.9)}, max ${at(1)}; ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  process.exitCode = failures > 0 ? 1 : 0;
}

/**
 * `leaveCheck` per seed (src/sim/gossip/workloads.ts): a broken promise fails the seed and prints
 * its replay; transient wrong views are counted (and listed with --trace).
 */
function gossipLeave(a: CliArgs): void {
  let failures = 0;
  let transient = 0;
  let done = 0;
  for (let seed = a.start; seed < a.start + a.seeds && failures < a.maxFailures; seed++, done++) {
    const v = leaveCheck(seed);
    if (v.transient.length > 0) {
      transient++;
      if (a.trace) process.stdout.write(`seed ${seed} (transient): ${v.transient.join('; ')}\n`);
    }
    if (v.broken.length === 0) continue;
    failures++;
    process.stdout.write(
      `FAIL seed ${seed}: ${v.broken.join('; ')}\n  replay: npm run sim -- --scenario gossip-leave --seed ${seed} --trace\n`,
    );
  }
  process.stdout.write(
    `gossip-leave: ${done} seeds (${a.start}..${a.start + done - 1}): ${failures} failed, ${transient} with a transient wrong view\n`,
  );
  process.exitCode = failures > 0 ? 1 : 0;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  if (a.scenario === 'gossip-leave') {
    gossipLeave(a);
    return;
  }
  if (a.scenario === 'lease-forward') {
    await leaseForward(a);
    return;
  }
  if (a.scenario === 'graceful-stop') {
    await gracefulStop(a);
    return;
  }
  const t0 = performance.now();
  let failures = 0;
  let done = 0;
  let ops = 0;
  let checks = 0;
  const sink = a.trace ? (l: string) => process.stdout.write(`${l}\n`) : undefined;
  const mutations = a.mutant !== undefined ? { [MUTANT_NAMES[a.mutant]!]: true } : undefined;
  for (let seed = a.start; seed < a.start + a.seeds; seed++) {
    const r = await runSimulation({
      seed,
      ...(a.nodes !== undefined ? { nodes: a.nodes } : {}),
      chaosMs: a.chaosMs,
      bug: a.bug,
      profile: PROFILES[a.profile] ?? {},
      ...(mutations ? { mutations } : {}),
      ...(sink ? { traceSink: sink } : {}),
    });
    done++;
    ops += r.stats.ops;
    checks += r.stats.checks;
    if (!r.ok) {
      failures++;
      process.stdout.write(`${formatFailure(r, a)}\n`);
      if (failures >= a.maxFailures) {
        process.stdout.write(`stopping after ${failures} failures (--max-failures)\n`);
        break;
      }
    }
    if (a.seeds > 1 && done % 100 === 0) {
      process.stderr.write(
        `${done}/${a.seeds} seeds, ${failures} failed, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
      );
    }
    if (a.timeLimitS > 0 && performance.now() - t0 > a.timeLimitS * 1000) {
      process.stdout.write(`time limit reached after ${done} seeds\n`);
      break;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${done} seeds (${a.start}..${a.start + done - 1}): ${failures} failed; ${ops} client ops, ${checks} invariant checks, ` +
      `${secs.toFixed(1)} s (${(done / secs).toFixed(1)} runs/s)\n`,
  );
  process.exitCode = failures > 0 ? 1 : 0;
}

void main();
