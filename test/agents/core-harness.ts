/**
 * In-process network for AgentCore: a pool of in-flight messages delivered in
 * seeded random order, with duplicates, drops, timer ticks, /run triggers and
 * crash-restarts from the last persisted snapshot. Every step checks that no
 * two agents ever hold different decisions for the same run.
 */
import { AgentCore, type Output, type PersistentState } from '../../src/agents/core.js';
import { createRng, type Rng } from '../../src/common/rng.js';
import {
  runKey,
  sameDecision,
  compareRun,
  type AgentMessage,
  type Decision,
  type RunId,
} from '../../src/agents/types.js';

interface Flight {
  to: number;
  /** Who gets the replies; null for replies themselves (nobody answers an answer). */
  replyTo: number | null;
  msg: AgentMessage;
}

export interface HarnessOptions {
  seed: number;
  agents?: number;
  steps?: number;
  dropRate?: number;
  dupRate?: number;
  crashRate?: number;
  triggerRate?: number;
  /** Bare /reset and /new_round on one agent, as a user of the original demo would send. */
  userRate?: number;
  waitMs?: number;
}

export interface HarnessResult {
  runsTriggered: number;
  runsDecided: number;
  violations: string[];
  /** Agents of the newest run that had not decided after the fault-free drain. */
  undecidedAtEnd: number;
  messagesDelivered: number;
  /** Every agent's state at the end, for replaying a failing seed by eye. */
  finalStates: PersistentState[];
}

export function simulate(o: HarnessOptions): HarnessResult {
  const n = o.agents ?? 3;
  const rng: Rng = createRng(o.seed);
  const waitMs = o.waitMs ?? 100;
  const ids = Array.from({ length: n }, (_, i) => `agent${i + 1}`);
  const disks: (PersistentState | null)[] = ids.map(() => null);
  const mk = (i: number, now: number): AgentCore =>
    new AgentCore(
      { id: ids[i] as string, peerCount: n - 1, minValue: 1, maxValue: 3, waitMs, rng: rng.fork() },
      disks[i] ?? null,
      now,
    );
  let now = 0;
  const cores: AgentCore[] = ids.map((_, i) => mk(i, now));
  const pool: Flight[] = [];
  const decided = new Map<string, Decision>();
  const violations: string[] = [];
  let runsTriggered = 0;
  let delivered = 0;

  const check = (): void => {
    for (const c of cores) {
      const d = c.decision;
      const run = c.run;
      if (d === null || run === null) continue;
      const k = runKey(run);
      const prev = decided.get(k);
      if (prev === undefined) decided.set(k, d);
      else if (!sameDecision(prev, d))
        violations.push(`run ${k}: ${JSON.stringify(prev)} vs ${JSON.stringify(d)}`);
    }
  };
  // The runtime persists before anything leaves, so the snapshot is taken before queuing.
  const emit = (i: number, out: Output, replyTo: number | null): void => {
    if (out.persist) disks[i] = cores[i]!.snapshot();
    for (let k = 0; k < n; k++)
      if (k !== i) for (const msg of out.send) pool.push({ to: k, replyTo: i, msg });
    if (replyTo !== null) for (const msg of out.reply) pool.push({ to: replyTo, replyTo: null, msg });
    check();
  };
  const deliver = (f: Flight): void => {
    delivered++;
    emit(f.to, cores[f.to]!.step(f.msg, now), f.replyTo);
  };

  const steps = o.steps ?? 400;
  const dropRate = o.dropRate ?? 0.1;
  const dupRate = o.dupRate ?? 0.1;
  const crashRate = o.crashRate ?? 0.01;
  const triggerRate = o.triggerRate ?? 0.01;
  const userRate = o.userRate ?? 0.005;
  for (let s = 0; s < steps; s++) {
    const r = rng.next();
    if (s === 0 || r < triggerRate) {
      const i = rng.int(0, n - 1);
      runsTriggered++;
      emit(i, cores[i]!.trigger(rng.int(1, 3), now), null);
    } else if (r < triggerRate + userRate) {
      // A user poking one agent through the bare compatible endpoints.
      const i = rng.int(0, n - 1);
      const out = rng.next() < 0.5 ? cores[i]!.localReset() : cores[i]!.newRound(rng.int(1, 6), now);
      emit(i, out, null);
    } else if (r < triggerRate + userRate + crashRate) {
      const i = rng.int(0, n - 1);
      cores[i] = mk(i, now);
      check();
    } else if (r < 0.75 && pool.length > 0) {
      const idx = rng.int(0, pool.length - 1);
      const f = pool[idx]!;
      const fate = rng.next();
      if (fate >= dupRate) pool.splice(idx, 1);
      if (fate < dupRate || fate >= dupRate + dropRate) deliver(f);
    } else {
      now += rng.int(0, waitMs);
      for (let i = 0; i < n; i++) emit(i, cores[i]!.tick(now), null);
    }
  }

  // Fault-free drain after one more /run (a bare reset may have left an idle run on top):
  // everything in flight arrives, timers keep firing, so every agent should decide.
  {
    const i = rng.int(0, n - 1);
    runsTriggered++;
    emit(i, cores[i]!.trigger(1, now), null);
  }
  let newest: RunId | null = null;
  const settled = (): boolean => {
    newest = null;
    for (const c of cores) if (compareRun(c.run, newest) > 0) newest = c.run;
    return cores.every((c) => c.decision !== null && compareRun(c.run, newest) === 0);
  };
  for (let round = 0; round < 200; round++) {
    while (pool.length > 0) deliver(pool.splice(rng.int(0, pool.length - 1), 1)[0]!);
    if (settled()) break;
    now += waitMs * 2;
    for (let i = 0; i < n; i++) emit(i, cores[i]!.tick(now), null);
  }
  settled();
  const undecidedAtEnd = cores.filter((c) => c.decision === null || compareRun(c.run, newest) !== 0).length;
  return {
    runsTriggered,
    runsDecided: decided.size,
    violations,
    undecidedAtEnd,
    messagesDelivered: delivered,
    finalStates: cores.map((c) => c.snapshot()),
  };
}
