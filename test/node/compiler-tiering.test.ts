/**
 * V8's upper compilers held back while a node idles (src/node/compiler-tiering.ts):
 * off at start, on for good the first window the process is busy; left alone
 * when the process's options chose them; and V8 honours the switch at run time.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ChoreSet, type Chore, type ChoreHost } from '../../src/node/chores.js';
import {
  BUSY_SCAVENGE_TRIGGER,
  CompilerTiering,
  LEAN_FLAGS,
  leanHeap,
  noteLauncherFlags,
} from '../../src/node/compiler-tiering.js';
import { nullLogger } from '../../src/node/log.js';
import type { SwarmNode } from '../../src/node/node.js';

const node = { log: nullLogger } as unknown as SwarmNode;
/** Lean: compilers off, start-up's bytecode flushed at the next full GC, feedback vectors later, young GC at 40%. */
const LEAN = [
  '--no-opt',
  '--no-sparkplug',
  '--bytecode-old-age=0',
  '--interrupt-budget-factor-for-feedback-allocation=64',
  '--interrupt-budget-for-feedback-allocation=7520',
  '--minor-gc-task-trigger=40',
];
/** Full: the compilers, V8's (11.3) defaults for the lean heap settings, and young GC at 20% (busy). */
const FULL = [
  '--opt',
  '--sparkplug',
  '--bytecode-old-age=5',
  '--interrupt-budget-factor-for-feedback-allocation=8',
  '--interrupt-budget-for-feedback-allocation=940',
  '--minor-gc-task-trigger=20',
];

function rig(nodeOptions = '--max-semi-space-size=4 --v8-pool-size=1', launchedLean = false) {
  const set = new ChoreSet();
  const host: ChoreHost = { addChore: (c: Chore) => set.add(c) };
  const flags: string[] = [];
  let cpuUs = 0;
  // The tiering's own clock (its windows start at start()); runDue and poke are given times from it.
  // Read from performance.now, a loaded machine's pause between the test's reading and the
  // tiering's moved every window by that much.
  const t0 = 10_000;
  const tiering = new CompilerTiering({
    host,
    nodeOptions,
    windowMs: 2000,
    busyFraction: 0.05,
    cpuMicros: () => cpuUs,
    setFlags: (f) => flags.push(f),
    launchedLean,
    now: () => t0,
  });
  return {
    t0,
    set,
    flags,
    tiering,
    spend: (ms: number) => {
      cpuUs += ms * 1000;
    },
  };
}

describe('CompilerTiering', () => {
  it('starts lean and turns the compilers on for good the first busy window', async () => {
    const r = rig();
    const { t0 } = r;
    await r.tiering.start(node);
    expect(r.flags).toEqual(LEAN);
    expect(r.tiering.state).toBe('lean');
    // Not due before its window, and due by the window plus its slack.
    r.set.runDue(t0 + 1000, () => {});
    expect(r.set.deadline()).toBe(t0 + 4000);
    // Idle: 20 ms of CPU over 2 s is 1% of a core.
    r.spend(20);
    r.set.runDue(t0 + 2000, () => {});
    expect(r.tiering.state).toBe('lean');
    expect(r.flags).toHaveLength(LEAN.length);
    // Busy: 400 ms over the next 2 s is 20%.
    r.spend(400);
    r.set.runDue(t0 + 4000, () => {});
    expect(r.tiering.state).toBe('full');
    expect(r.flags.slice(LEAN.length)).toEqual(FULL);
    // Done for good: the chore is gone, nothing to wake for, an idle spell changes nothing.
    expect(r.set.deadline()).toBe(Infinity);
    r.tiering.sample(t0 + 60_000);
    expect(r.flags).toHaveLength(LEAN.length + FULL.length);
    await r.tiering.stop();
  });

  it("turns the compilers on at the poke that finds a window's budget spent, not a window later", async () => {
    const r = rig();
    const { t0 } = r;
    await r.tiering.start(node);
    // Idle work between pokes: 30 ms of CPU in 1 s is under the window's 100 ms budget.
    r.spend(30);
    r.tiering.poke(t0 + 1000);
    expect(r.tiering.state).toBe('lean');
    // Pokes come per request: the CPU clock is read at most every POKE_EVERY_MS.
    r.spend(200);
    r.tiering.poke(t0 + 1010);
    expect(r.tiering.state).toBe('lean');
    // A burst of load: 230 ms of CPU in 1.1 s, before the window ends at t0 + 2000.
    r.tiering.poke(t0 + 1100);
    expect(r.tiering.state).toBe('full');
    expect(r.flags.slice(LEAN.length)).toEqual(FULL);
    expect(r.set.deadline()).toBe(Infinity);
    await r.tiering.stop();
  });

  it("counts a start-up burst as busy only above the start budget, for the start grace's length", async () => {
    /** A node whose first `graceMs` count as busy above 10% of a core, then above 5%. */
    const graced = (graceMs: number) => {
      const set = new ChoreSet();
      const flags: string[] = [];
      const cpu = { us: 0 };
      const tiering = new CompilerTiering({
        host: { addChore: (c: Chore) => set.add(c) },
        nodeOptions: '--max-semi-space-size=4',
        windowMs: 2000,
        busyFraction: 0.05,
        startGraceMs: graceMs,
        startBusyFraction: 0.1,
        cpuMicros: () => cpu.us,
        setFlags: (f) => flags.push(f),
        // Its windows start at 10 s on its own clock; runDue and poke are given times from it.
        now: () => 10_000,
      });
      return { set, flags, cpu, tiering };
    };
    const a = graced(30_000);
    const t0 = 10_000;
    await a.tiering.start(node);
    // Joining a swarm: 6% of a core (120 ms of 2 s) for three windows, and a poke amid each.
    for (const at of [2000, 4000, 6000]) {
      a.cpu.us += 120_000;
      a.tiering.poke(t0 + at - 100);
      a.set.runDue(t0 + at, () => {});
    }
    expect(a.tiering.state).toBe('lean');
    // A load within the grace: the start budget (200 ms) spent half way through a window, at a poke.
    a.cpu.us += 210_000;
    a.tiering.poke(t0 + 7000);
    expect(a.tiering.state).toBe('full');
    expect(a.flags).toEqual([...LEAN, ...FULL]);

    // A client's writes are a load even in the grace: 6% with 100 entries applied in the window.
    // The first report is the baseline (what a restart recovered does not count).
    const w = graced(30_000);
    const t2 = 10_000;
    await w.tiering.start(node);
    w.tiering.poke(t2 + 100, 5000);
    w.cpu.us += 60_000;
    w.tiering.poke(t2 + 1000, 5050);
    w.cpu.us += 60_000;
    w.set.runDue(t2 + 2000, () => {});
    expect(w.tiering.state).toBe('lean');
    w.cpu.us += 110_000;
    w.tiering.poke(t2 + 3000, 5160);
    expect(w.tiering.state).toBe('full');

    // Past the grace the idle budget is back: the same 6% in one window turns them on.
    const b = graced(5000);
    const t1 = 10_000;
    await b.tiering.start(node);
    for (const at of [2000, 4000]) {
      b.cpu.us += 120_000;
      b.set.runDue(t1 + at, () => {});
    }
    expect(b.tiering.state).toBe('lean');
    b.cpu.us += 120_000;
    b.set.runDue(t1 + 6000, () => {});
    expect(b.tiering.state).toBe('full');
  });

  it('leaves V8 as started when the options already chose the compilers', async () => {
    for (const opts of [
      '--lite-mode',
      '--jitless',
      '--no-opt',
      '--max-semi-space-size=4 --opt',
      '--sparkplug',
    ]) {
      const r = rig(opts);
      await r.tiering.start(node);
      expect(r.tiering.state, opts).toBe('untouched');
      expect(r.flags, opts).toEqual([]);
      expect(r.set.deadline(), opts).toBe(Infinity);
    }
    // Options that merely look alike do not count.
    const r = rig('--optimize-for-size --trace-opt');
    await r.tiering.start(node);
    expect(r.tiering.state).toBe('lean');
  });

  it('a daemon the launcher started lean sets no flag at start, and turns the compilers on when busy', async () => {
    const r = rig('--max-semi-space-size=4 --v8-pool-size=1', true);
    const { t0 } = r;
    await r.tiering.start(node);
    expect(r.tiering.state).toBe('lean');
    expect(r.flags).toEqual([]);
    r.spend(400);
    r.set.runDue(t0 + 2500, () => {});
    expect(r.tiering.state).toBe('full');
    expect(r.flags).toEqual(FULL);
    // Without a chore host to sample on, V8's defaults come back at once.
    const flags: string[] = [];
    const t = new CompilerTiering({
      host: null,
      nodeOptions: '',
      launchedLean: true,
      setFlags: (f) => flags.push(f),
    });
    await t.start(node);
    expect(t.state).toBe('untouched');
    expect(flags).toEqual(FULL);
  });

  it("leaves a lean heap setting the user's options name to them, at start and when busy", async () => {
    const r = rig('--max-semi-space-size=4 --bytecode_old_age=3');
    const { t0 } = r;
    await r.tiering.start(node);
    expect(r.flags).toEqual(LEAN.filter((f) => !f.startsWith('--bytecode-old-age')));
    r.spend(400);
    r.set.runDue(t0 + 2500, () => {});
    expect(r.flags.slice(LEAN.length - 1)).toEqual(FULL.filter((f) => !f.startsWith('--bytecode-old-age')));
    expect(leanHeap('--interrupt-budget-for-feedback-allocation=1').map(([l]) => l)).toEqual([
      '--bytecode-old-age=0',
      '--interrupt-budget-factor-for-feedback-allocation=64',
      '--minor-gc-task-trigger=40',
    ]);
  });

  it("the daemon entry takes LEAN_FLAGS on its own command line as the launcher's", async () => {
    const started = async (): Promise<string[]> => {
      const flags: string[] = [];
      await new CompilerTiering({ host: null, nodeOptions: '', setFlags: (f) => flags.push(f) }).start(node);
      return flags;
    };
    try {
      noteLauncherFlags(['--max-semi-space-size=4', ...LEAN_FLAGS]);
      expect(await started()).toEqual(FULL);
      noteLauncherFlags(['--max-semi-space-size=4', '--no-opt']);
      expect(await started()).toEqual([]);
    } finally {
      noteLauncherFlags([]);
    }
  });

  it('leaves V8 as started without a chore host to sample on', async () => {
    const flags: string[] = [];
    const t = new CompilerTiering({ host: null, nodeOptions: '', setFlags: (f) => flags.push(f) });
    await t.start(node);
    expect(t.state).toBe('untouched');
    expect(flags).toEqual([]);
  });
});

/** Runs `script` under --trace-opt with `flags`: V8 compiles `hot` only after it prints SWITCH. */
function expectHotOptimizedOnlyAfterSwitch(flags: readonly string[], script: string): void {
  const r = spawnSync(process.execPath, ['--trace-opt', ...flags, '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const [before, after] = r.stdout.split('SWITCH');
  expect(before).not.toMatch(/completed (optimizing|compiling).*hot/);
  expect(after).toMatch(/completed (optimizing|compiling).*hot/);
}

describe("V8's compilers switched at run time", () => {
  it('optimizes nothing while off and the same hot function once on again', () => {
    const script = `
      const { setFlagsFromString } = require('node:v8');
      setFlagsFromString('--no-opt'); setFlagsFromString('--no-sparkplug');
      function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += (i * 7) % 13; return s; }
      for (let k = 0; k < 300; k++) hot(20000);
      console.log('SWITCH');
      setFlagsFromString('--opt'); setFlagsFromString('--sparkplug');
      for (let k = 0; k < 300; k++) hot(20000);
    `;
    expectHotOptimizedOnlyAfterSwitch([], script);
  });

  it('also when they were off from the command line, as a launched daemon starts', () => {
    const script = `
      const hot = (n) => { let s = 0; for (let i = 0; i < n; i++) s += (i * 7) % 13; return s; };
      for (let k = 0; k < 300; k++) hot(20000);
      console.log('SWITCH');
      const { setFlagsFromString } = require('node:v8');
      setFlagsFromString('--opt'); setFlagsFromString('--sparkplug');
      for (let k = 0; k < 300; k++) hot(20000);
    `;
    expectHotOptimizedOnlyAfterSwitch(LEAN_FLAGS, script);
  });
});

/** Runs `script` with --expose-gc and `flags`; it prints numbers. */
function numbersOf(flags: readonly string[], script: string, env: NodeJS.ProcessEnv = {}): number[] {
  const r = spawnSync(process.execPath, ['--expose-gc', ...flags, '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split(/\s+/).map(Number);
}

describe("V8's bytecode flushing switched at run time", () => {
  // A batch of 400 functions compiled and run once each, kept alive, then two full collections:
  // how much of the batch's bytecode they took. Twice, the second time maybe after V8's default
  // came back (part of a batch goes with its scripts' top-level code, whatever the setting).
  const script = `
    const { getHeapCodeStatistics, setFlagsFromString } = require('node:v8');
    const size = () => getHeapCodeStatistics().bytecode_and_metadata_size;
    const batch = (k) => { const fs = []; for (let i = 0; i < 400; i++) fs.push(new Function('a', 'let s = a; for (let j = 0; j < 3; j++) s += j * ' + (k * 1000 + i) + '; return s;')); for (const f of fs) f(1); return fs; };
    const keep = [];
    const b0 = size(); keep.push(batch(1)); const b1 = size(); gc(); gc(); const b2 = size();
    if (process.env.FULL_AGAIN) setFlagsFromString('--bytecode-old-age=5');
    keep.push(batch(2)); const b3 = size(); gc(); gc(); const b4 = size();
    console.log(b1 - b0, b1 - b2, b3 - b2, b3 - b4);
  `;
  const lean = LEAN_FLAGS.filter((f) => f.startsWith('--bytecode'));

  it('flushes code that ran once at the next full collections while lean', () => {
    const [grew, flushed, grew2, flushed2] = numbersOf(lean, script);
    expect(grew).toBeGreaterThan(0);
    expect(flushed).toBeGreaterThan(grew! * 0.9);
    expect(flushed2).toBeGreaterThan(grew2! * 0.9);
  });

  it("keeps it once V8's default is back, as a busy node's", () => {
    const [, , grew2, flushed2] = numbersOf(lean, script, { FULL_AGAIN: '1' });
    expect(grew2).toBeGreaterThan(0);
    expect(flushed2).toBeLessThan(grew2! * 0.6);
    const [, , d2, dFlushed2] = numbersOf([], script);
    expect(dFlushed2).toBeLessThan(d2! * 0.6);
  });
});

describe("V8's scavenge trigger switched at run time", () => {
  // About 100 MB of small objects allocated in 3,000 turns of the event loop, so that the scavenge
  // task gets to run; young generation fixed at 4 MB per semi-space as a daemon's under load; the
  // process started at the lean trigger (40 %), then set to `TRIGGER` as the tiering sets it.
  const script = `
    const { setFlagsFromString } = require('node:v8');
    const { PerformanceObserver, constants } = require('node:perf_hooks');
    let n = 0;
    new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) n++; }).observe({ entryTypes: ['gc'] });
    setFlagsFromString('--minor-gc-task-trigger=' + process.env.TRIGGER);
    let sink = null, turns = 0;
    const step = () => {
      for (let i = 0; i < 1000; i++) sink = { a: i, b: [i, i] };
      if (++turns < 3000) setImmediate(step);
      else setTimeout(() => console.log(n), 10);
    };
    step();
  `;
  const flags = [
    '--max-semi-space-size=4',
    '--min-semi-space-size=4',
    '--single-threaded-gc',
    '--minor-gc-task-trigger=40',
  ];

  it(`scavenges about four times as often at the busy trigger (${BUSY_SCAVENGE_TRIGGER} %) as at V8's 80 %`, () => {
    const [v8Default] = numbersOf(flags, script, { TRIGGER: '80' });
    const [busy] = numbersOf(flags, script, { TRIGGER: String(BUSY_SCAVENGE_TRIGGER) });
    expect(v8Default).toBeGreaterThan(10);
    expect(busy).toBeGreaterThan(v8Default! * 2.5);
  });
});
