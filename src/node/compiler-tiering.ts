/**
 * V8's compilers above the interpreter (Sparkplug, TurboFan) held back while
 * the node idles, and turned on for good the first time it works.
 *
 * Why: an idle node's memory is mostly pages of the node binary it has
 * touched, and the optimizing compiler is 3.5 MB of them: on a 3-node idle
 * swarm the heartbeat and gossip paths (msgpack's string loops, path joins)
 * turn hot within seconds of forming and the first TurboFan job maps the
 * compiler in, where it stays; Sparkplug is 1-2 MB more. With both off the
 * idle daemon is 5-6 MB smaller (bench `daemon-rss`; docs/operations.md,
 * "Memory"). Off for good (`--no-opt`) costs 10-40% CPU per Raft write under
 * load, so they come back as soon as the process uses more than
 * BUSY_FRACTION of a core over a sampling window (in the start grace, START_BUSY_FRACTION unless
 * Raft applies entries at a client's pace: START_GRACE_MS below): V8 reads these flags at
 * every tiering decision, so code that is hot from then on is compiled as
 * with the defaults, after a few seconds of load at the slower tier.
 *
 * Left alone: a process whose Node options already choose the compilers
 * (`--lite-mode` of a `minimal` device, `--jitless`, `--no-opt`, `--max-lazy`,
 * an explicit `--opt` or `--sparkplug`), and a node without a chore host
 * (nothing to sample on without a wake-up of its own).
 *
 * A detached daemon starts lean from its command line: the launcher adds
 * LEAN_FLAGS (src/cli/daemon.ts) and the daemon entry, whose command line
 * only the launcher writes, says so (`launchedLean`), so the compilers are
 * off from the daemon's first line on, and node:v8 (which sets flags at run
 * time, about 0.2 MB of RSS) is loaded only when they come on
 * (src/common/builtins.ts).
 *
 * Lean also holds the heap of code that ran once (LEAN_HEAP): bytecode not
 * run since the last full collection is flushed at the next one (V8 keeps it
 * for 5), and a function gets its feedback vector only after running 64 times
 * its bytecode length (V8: 8). Start-up's code (config, recovery, formation,
 * the bundle's top level) then leaves the heap at the memory reducer's
 * collections a few seconds after start, and the idle paths that run again
 * are compiled again (a lean node collects fully a few times an hour at most).
 * Idle 3-node swarms side by side, median RSS: 46.0 -> 45.2 and 45.9 -> 45.1
 * MB (docs/operations.md, "Memory"). And the young generation is collected
 * once 40% of it is used, not 80%: an idle node allocates about 0.1 MB/s
 * (gossip, heartbeats, timers), so its RSS rose by most of the 1 MB
 * semi-space between two scavenges and fell back at each; the teeth are
 * half as high (45.5 -> 45.0 and 45.5 -> 44.9 MB, wake-ups the same: a
 * scavenge task runs in a turn the node is awake for anyway). With the
 * compilers, V8's defaults come back (a busy node keeps what it runs), but
 * for the scavenge trigger, which goes to BUSY_SCAVENGE_TRIGGER (below).
 */
import type * as NodeV8 from 'node:v8';
import { lazyBuiltin } from '../common/builtins.js';
import type { Chore, ChoreHost } from './chores.js';
import type { NodeComponent, SwarmNode } from './node.js';

/** Share of one core, over one window, that counts as working. An idle node uses under 1%. */
export const BUSY_FRACTION = 0.05;
/** Sampling window, ms; the check rides the chore host's wake-ups (up to a window late). */
export const WINDOW_MS = 2000;
/**
 * The node's first START_GRACE_MS count as busy only above START_BUSY_FRACTION of a core.
 *
 * Why: a node's start in a swarm is a burst, not a load. Joining 24 members (their alive records,
 * push-pull, formation, a learner's catch-up) took 5-6% of a core for a window or two on the first
 * daemons of a 25-node swarm started at once, so 11 of 25 turned the compilers on for good within
 * 3 s of starting and idled 5-6 MB larger (50 against 44.7 MB): the swarm's median RSS then sat on
 * whichever side of 13 the count fell. A real load spends the higher budget (10% of a window, 200
 * ms of CPU) within a fraction of a second: a Raft write costs a lean leader about 1 ms of CPU, and
 * a follower a good part of that, so even one client writing turns every voter's compilers on.
 */
export const START_GRACE_MS = 30_000;
export const START_BUSY_FRACTION = 0.1;
/**
 * Raft entries applied within one window that end the grace's leniency for that window: a client's
 * writes are a load from their first second (one client writing makes a follower apply hundreds a
 * second for 5-10% of a core, which must turn its compilers on as before: its acknowledgements are
 * in every write's latency), while forming a 25-node swarm applies a few dozen in all.
 */
export const START_GRACE_WORK = 100;
/** poke() reads the CPU clock at most this often, ms (a getrusage call; pokes come per request). */
export const POKE_EVERY_MS = 50;

const v8 = lazyBuiltin<typeof NodeV8>('node:v8');

/**
 * The young generation's scavenge task trigger of a busy node: percent of the semi-space in use
 * (V8: 80). Why: under writes a scavenge's pause grows with the bytes allocated since the previous
 * one, so the few long ones are what one client's slowest writes wait on. The leader allocates
 * about 37 KB per write (V8's sampling heap profiler, bench/raft-write-tail.ts HEAP=1) and 4 MB
 * semi-spaces (src/cli/daemon.ts) scavenged at 80% gave it 13-17 scavenges a second at one client
 * (1,100-1,400 writes/s) of 1.0-1.2 ms each (max 2.2), the followers 5-7 of 0.8 ms, the pause
 * mostly the survivors' copy (about 330 KB each, `--trace-gc-nvp`): in the quietest runs about a
 * third of the writes at or over p99 overlapped one of the leader's. The survivors grow with the
 * interval (16 MB semi-spaces: 3.5 scavenges a second of 3.9-4.4 ms, the same GC time in fewer,
 * longer pauses), so triggering earlier makes them short rather than rare: at 20% the leader ran
 * 57 a second of 0.42 ms (max 0.86) and the followers 24 of 0.38 ms; at 10%, 117 of 0.24 ms
 * (max 0.59). The task runs in a turn of the event loop, often while the write in flight waits
 * for its acknowledgements rather than on its path. Each scavenge costs about 0.1 ms more than
 * its copy, so 20% rather than 10%: about 1% of a core more at one client's pace. One client to
 * the leader, same build alternating: p99 1.95 and 1.90 ms against 2.16 and 2.00 at 80%; spread
 * over the members no gain (2.86-3.18 against 2.80-2.87; what is left there is mostly not GC);
 * writes/s at 16 and 64 clients unchanged (raft-kv against the build before, docs/operations.md
 * "Memory").
 * `--minor-gc-task-trigger` is read at each allocation step, so it takes effect from the switch
 * on (a static `--max-semi-space-size` would not: V8 sizes the young generation at start).
 */
export const BUSY_SCAVENGE_TRIGGER = 20;

/** Off: no Sparkplug, no TurboFan. */
const COMPILERS_OFF: readonly string[] = ['--no-opt', '--no-sparkplug'];
/**
 * The lean heap settings (above), each with the value it goes back to with the compilers: V8's
 * default in Node 20 (V8 11.3), but the scavenge trigger's (BUSY_SCAVENGE_TRIGGER). One the user's
 * options name is theirs: neither set nor restored.
 * Only on that V8: later ones renamed some of these flags (an unknown flag on the command line
 * stops Node with "bad option") and may have other defaults to go back to.
 */
const LEAN_HEAP_V8 = '11.3.';
const LEAN_HEAP: readonly (readonly [lean: string, full: string])[] = !process.versions.v8.startsWith(
  LEAN_HEAP_V8,
)
  ? []
  : [
      ['--bytecode-old-age=0', '--bytecode-old-age=5'],
      [
        '--interrupt-budget-factor-for-feedback-allocation=64',
        '--interrupt-budget-factor-for-feedback-allocation=8',
      ],
      ['--interrupt-budget-for-feedback-allocation=7520', '--interrupt-budget-for-feedback-allocation=940'],
      ['--minor-gc-task-trigger=40', `--minor-gc-task-trigger=${BUSY_SCAVENGE_TRIGGER}`],
    ];
/** What a lean process runs with: compilers off and the lean heap settings. */
export const LEAN_FLAGS: readonly string[] = [...COMPILERS_OFF, ...LEAN_HEAP.map(([lean]) => lean)];

/** LEAN_FLAGS but the lean heap settings `options` (Node options, either spelling) already name. */
export function leanFlags(options: string): string[] {
  return [...COMPILERS_OFF, ...leanHeap(options).map(([lean]) => lean)];
}

/** The lean heap settings `options` (Node options, either spelling) leave to the node. */
export function leanHeap(options: string): (readonly [lean: string, full: string])[] {
  const given = options.replace(/_/g, '-');
  return LEAN_HEAP.filter(([lean]) => !given.includes(lean.split('=')[0]!));
}
let launchedLeanProcess = false;

/**
 * Called by the daemon entry (src/cli/daemon-main.ts): its execArgv is the launcher's, so
 * LEAN_FLAGS there are the launcher's start, not a user's choice (a user's go in NODE_OPTIONS,
 * which execArgv does not show). Nodes of this process then take them as their lean state.
 */
export function noteLauncherFlags(execArgv: readonly string[] = process.execArgv): void {
  launchedLeanProcess = COMPILERS_OFF.every((f) => execArgv.includes(f));
}
/**
 * On: the compilers, with V8's own tick count before TurboFan (V8's defaults, which is also what a
 * process started lean with nothing to sample on gets). One tick
 * (`--ticks-before-optimization=1`) was tried for a faster warm-up: at one client the leader's CPU
 * per write fell within 2 s instead of 4-6 s. But code optimized after one tick keeps what it
 * learned then: on the raft-kv load at 16 clients, 4-5 s after 2 s of warm-up and 20-30 s after
 * the start, the leader wrote 6,556 writes/s (4 runs, 6,352-6,665) with one tick against 7,068
 * (2 runs, 6,942-7,194) with V8's default and 7,134 (5 runs) for the build before tiering, whose
 * compilers were on from the start (ours only, alternating, shared 2-core machine; 29 of the
 * leader's 61 deoptimizations in a run were "insufficient type feedback"). A 2 s warm-up covers
 * the slower climb.
 */
const COMPILERS_ON = ['--opt', '--sparkplug'];
/** Node/V8 options by which the user (or the launcher) already decided the compilers. */
export const COMPILERS_CHOSEN =
  /--(no-)?(opt|turbofan|sparkplug|lite-mode|jitless|max-lazy)\b|--lite_mode|--no_opt/;

export interface CompilerTieringOptions {
  host?: ChoreHost | null;
  busyFraction?: number;
  windowMs?: number;
  /** From start, this long counts as busy only above startBusyFraction (START_GRACE_MS; 0: none). */
  startGraceMs?: number;
  startBusyFraction?: number;
  /** Work (Raft entries applied, as poke reports them) in one window that counts at busyFraction even in the grace. */
  startGraceWork?: number;
  /** CPU time of the process so far, microseconds (user + system). */
  cpuMicros?: () => number;
  setFlags?: (flags: string) => void;
  /** The process's own options (execArgv and NODE_OPTIONS joined), without the launcher's LEAN_FLAGS. */
  nodeOptions?: string;
  /** Started with LEAN_FLAGS by the launcher (default: as noteLauncherFlags found). */
  launchedLean?: boolean;
  /** The clock windows start from, ms (default performance.now; tests pass their own). */
  now?: () => number;
}

export type TieringState = 'lean' | 'full' | 'untouched';

export class CompilerTiering implements NodeComponent {
  readonly name = 'compiler-tiering';
  private stateNow: TieringState = 'untouched';
  private removeChore: (() => void) | null = null;
  private lastAt = 0;
  private lastCpu = 0;
  private nextAt = Infinity;
  private pokeAt = 0;
  private node: SwarmNode | null = null;
  private heap: (readonly [lean: string, full: string])[] = [];
  private readonly busy: number;
  private readonly windowMs: number;
  private readonly startBusy: number;
  /** Until then (the window clock, opts.now) the busy share is startBusy's. */
  private graceUntil = 0;
  /** The work count poke last reported, and its value at the window's start (NaN: none reported yet). */
  private work = Number.NaN;
  private workAt = Number.NaN;
  private readonly cpu: () => number;
  private readonly setFlags: (flags: string) => void;
  private readonly now: () => number;

  constructor(private readonly opts: CompilerTieringOptions = {}) {
    this.busy = opts.busyFraction ?? BUSY_FRACTION;
    this.windowMs = opts.windowMs ?? WINDOW_MS;
    this.startBusy = Math.max(this.busy, opts.startBusyFraction ?? START_BUSY_FRACTION);
    this.cpu =
      opts.cpuMicros ??
      (() => {
        const u = process.cpuUsage();
        return u.user + u.system;
      });
    this.setFlags = opts.setFlags ?? ((flags) => v8().setFlagsFromString(flags));
    this.now = opts.now ?? (() => performance.now());
  }

  get state(): TieringState {
    return this.stateNow;
  }

  async start(node: SwarmNode): Promise<void> {
    this.node = node;
    const launchedLean = this.opts.launchedLean ?? launchedLeanProcess;
    const argv = launchedLean ? process.execArgv.filter((f) => !LEAN_FLAGS.includes(f)) : process.execArgv;
    const options = this.opts.nodeOptions ?? `${argv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
    const host = this.opts.host;
    this.heap = leanHeap(options);
    if (!host || COMPILERS_CHOSEN.test(options)) {
      // Started lean by the launcher, but nothing to sample on: V8's defaults back.
      if (launchedLean && !host) this.full();
      return;
    }
    if (!launchedLean)
      for (const f of [...COMPILERS_OFF, ...this.heap.map(([lean]) => lean)]) this.setFlags(f);
    this.stateNow = 'lean';
    const chore: Chore = {
      name: 'compiler tiering',
      due: () => this.nextAt,
      slackMs: () => this.windowMs,
      run: (now) => this.sample(now),
    };
    this.lastAt = this.now();
    this.lastCpu = this.cpu();
    this.graceUntil = this.lastAt + (this.opts.startGraceMs ?? START_GRACE_MS);
    this.nextAt = this.lastAt + this.windowMs;
    this.removeChore = host.addChore(chore);
  }

  async stop(): Promise<void> {
    this.removeChore?.();
    this.removeChore = null;
  }

  /** poke() at this tiering's own clock (opts.now): the daemon's activity hook, on the clock its windows use. */
  activity(work?: number): void {
    this.poke(this.now(), work);
  }

  /**
   * Work arrived (a Raft proposal, read or peer message): the window's CPU so far is checked now
   * rather than at gossip's next wake-up, up to a window late. Measured on the raft-kv bench: a
   * client writing to an idle cluster ran 2-4 s at the lean tiers before the sampler noticed, and
   * its writes then took longer (1-client writes/s 0.84x etcd's, p99 4 ms against 1.5 ms; 1.19x and
   * 1.59 ms once the compilers were on). A window's budget (busyFraction of windowMs) already spent
   * turns them on at once: 100 ms of CPU, a fraction of a second of load, and more than an idle node
   * spends in a window stretched by its slack (under 1% of a core).
   */
  poke(now: number = this.now(), work?: number): void {
    if (work !== undefined) {
      // Counted from the first report: what a restart recovered before it is not this window's work.
      if (Number.isNaN(this.work)) this.workAt = work;
      this.work = work;
    }
    if (this.stateNow !== 'lean' || now < this.pokeAt) return;
    this.pokeAt = now + POKE_EVERY_MS;
    if (now >= this.nextAt) {
      this.sample(now);
      return;
    }
    const cpu = this.cpu();
    if ((cpu - this.lastCpu) / 1000 >= this.busyAt(now) * this.windowMs)
      this.goFull((cpu - this.lastCpu) / 1000 / (now - this.lastAt));
  }

  /** Busy over the window since the last sample: compilers on, for the rest of the process's life. */
  sample(now: number): void {
    if (this.stateNow !== 'lean') return;
    const cpu = this.cpu();
    const elapsed = now - this.lastAt;
    const fraction = elapsed > 0 ? (cpu - this.lastCpu) / 1000 / elapsed : 0;
    const busy = this.busyAt(now);
    this.lastAt = now;
    this.lastCpu = cpu;
    this.workAt = this.work;
    this.nextAt = now + this.windowMs;
    if (fraction < busy) return;
    this.goFull(fraction);
  }

  /** The share of a core that counts as busy in the window so far (START_GRACE_MS, START_GRACE_WORK). */
  private busyAt(now: number): number {
    // NaN (no work reported) compares false: not working.
    const working = this.work - this.workAt >= (this.opts.startGraceWork ?? START_GRACE_WORK);
    return now < this.graceUntil && !working ? this.startBusy : this.busy;
  }

  /** The compilers on, and the lean heap settings this node set back to V8's defaults. */
  private full(): void {
    for (const f of [...COMPILERS_ON, ...this.heap.map(([, full]) => full)]) this.setFlags(f);
  }

  private goFull(fraction: number): void {
    this.full();
    this.stateNow = 'full';
    this.nextAt = Infinity;
    this.removeChore?.();
    this.removeChore = null;
    this.node?.log.info('optimizing compilers on', { cpu_share: Math.round(fraction * 1000) / 1000 });
  }
}
