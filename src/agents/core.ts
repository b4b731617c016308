/**
 * The agent's protocol core, sans I/O: one agent's state machine for the
 * compatible round surface (proposals, rounds retried after a wait window) and
 * the single-decree Paxos instance per run that actually decides.
 *
 * Time arrives as `now` (ms), randomness from an injected Rng; every call
 * returns an `Output` that the runtime must honour in order: persist the
 * snapshot (fsync) if `persist`, then send `send` to every peer and `reply` to
 * whoever sent the message. Nothing leaves before the state it depends on is
 * durable, which is what lets a restarted agent keep its promises.
 */
import type { Rng } from '../common/rng.js';
import {
  compareBallot,
  compareRun,
  majorityOf,
  sameDecision,
  type AcceptedValue,
  type AgentMessage,
  type Ballot,
  type Decision,
  type RunId,
} from './types.js';

export interface CoreOptions {
  id: string;
  /** Number of other agents; the group is peers + 1. */
  peerCount: number;
  minValue: number;
  maxValue: number;
  /** How long a round may take before the agent moves to the next one. */
  waitMs: number;
  rng: Rng;
}

/**
 * What survives a restart. Field names follow the JSON of the original demo where one exists.
 * Round, attempts and proposals only inform /state and never decide anything, so a change to
 * them alone is not worth an fsync: they reach the disk with the next change that matters.
 */
export interface PersistentState {
  version: 1;
  agent_id: string;
  /** Largest run counter ever seen, so a new /run is larger than every earlier one. */
  max_run_n: number;
  run: RunId | null;
  round: number;
  attempts: number;
  my_value: number | null;
  proposals: Record<string, Record<string, number>>;
  promised: Ballot | null;
  accepted: AcceptedValue | null;
  decision: Decision | null;
  /**
   * Last round in which this agent opened a ballot. Persisted because a
   * restarted proposer must never reuse ballot (round, id) with another value.
   */
  led_round: number;
  /**
   * Highest run this agent left after doing anything in it (promise, accept,
   * round, decision). It never enters a run at or below it again; above it,
   * an agent that has done nothing yet may still join an older run (see step).
   */
  floor: RunId | null;
}

export type StepStatus =
  'ok' | 'stale-run' | 'stale-round' | 'already-decided' | 'unverified' | 'conflict' | 'ignored';

export interface Output {
  persist: boolean;
  send: AgentMessage[];
  reply: AgentMessage[];
  status: StepStatus;
}

export interface ConsensusView {
  reached: boolean;
  value: number | null;
  round: number;
  attempts: number;
  run: RunId | null;
}

interface ProposerState {
  ballot: Ballot;
  candidate: Decision;
  phase: 'prepare' | 'accept' | 'done';
  promises: Map<string, AcceptedValue | null>;
  acceptedBy: Set<string>;
  chosen: Decision | null;
}

/** Rounds of proposals kept for /state; older ones only cost memory and file size. */
const KEPT_ROUNDS = 5;
/** Times one /run restarts above a newer run it ran into (see step). */
const MAX_TRIGGER_RETRIES = 3;
/** Largest multiple of the wait window a round may take. */
const MAX_BACKOFF = 16;

export function freshState(id: string): PersistentState {
  return {
    version: 1,
    agent_id: id,
    max_run_n: 0,
    run: null,
    round: 0,
    attempts: 0,
    my_value: null,
    proposals: {},
    promised: null,
    accepted: null,
    decision: null,
    led_round: 0,
    floor: null,
  };
}

export class AgentCore {
  readonly id: string;
  private readonly opts: CoreOptions;
  private readonly majority: number;
  private s: PersistentState;
  private proposer: ProposerState | null = null;
  private deadline: number | null = null;
  /** Multiple of the wait window for the next round; grows when ballots run out of time. */
  private backoff = 1;
  /** The run this agent's last /run created and the round it asked for. */
  private triggered: { run: RunId; round: number; retries: number } | null = null;
  private out: Output = emptyOutput();

  constructor(opts: CoreOptions, state: PersistentState | null, now: number) {
    this.opts = opts;
    this.id = opts.id;
    this.majority = majorityOf(opts.peerCount + 1);
    this.s = state ? structuredClone(state) : freshState(opts.id);
    // A restarted agent in an undecided run picks the retry loop up again.
    if (this.s.run !== null && this.s.decision === null && this.s.round > 0)
      this.deadline = now + opts.waitMs;
  }

  snapshot(): PersistentState {
    return structuredClone(this.s);
  }

  get run(): RunId | null {
    return this.s.run;
  }

  get decision(): Decision | null {
    return this.s.decision;
  }

  /**
   * The /consensus view. The runtime passes the state last written to disk: a decision is
   * only reported once it is durable, so a restart can never take back a `reached: true`.
   */
  consensus(durable: PersistentState | null = this.s): ConsensusView {
    const d = this.durableDecision(durable);
    return {
      reached: d !== null,
      value: d ? d.value : null,
      round: d ? d.round : this.s.round,
      attempts: d ? d.attempts : this.s.attempts,
      run: this.s.run,
    };
  }

  /** The /state body of the original demo, plus the run id; the decision as in consensus(). */
  stateView(durable: PersistentState | null = this.s): Record<string, unknown> {
    const d = this.durableDecision(durable);
    return {
      agent_id: this.id,
      round: this.s.round,
      my_value: this.s.my_value,
      proposals: this.s.proposals,
      attempts: this.s.attempts,
      consensus_value: d ? d.value : null,
      consensus_round: d ? d.round : null,
      run: this.s.run,
      promised: this.s.promised,
      accepted: this.s.accepted,
    };
  }

  private durableDecision(durable: PersistentState | null): Decision | null {
    if (durable === null || compareRun(durable.run, this.s.run) !== 0) return null;
    return durable.decision;
  }

  // ---- entry points used by the HTTP surface ------------------------------------------------

  /** POST /run: a new run larger than any seen, reset on every peer, then round `round` everywhere. */
  trigger(round: number, now: number): Output {
    this.begin();
    this.startRun(this.s.max_run_n + 1, round, now);
    return this.end();
  }

  private startRun(n: number, round: number, now: number, retries = 0): void {
    const run: RunId = { n, by: this.id };
    this.adopt(run);
    this.triggered = { run, round, retries };
    this.out.send.push({ type: 'reset', run }, { type: 'new_round', run, round });
    this.startRound(round, now);
  }

  /** Bare POST /reset from a user: a private new run, so old promises are never forgotten in place. */
  localReset(): Output {
    this.begin();
    this.adopt({ n: this.s.max_run_n + 1, by: this.id });
    return this.end();
  }

  /** Bare POST /new_round: round `round` of the current run (a fresh one if the agent never ran). */
  newRound(round: number, now: number): Output {
    this.begin();
    if (this.s.run === null) this.adopt({ n: this.s.max_run_n + 1, by: this.id });
    this.onNewRound(round, now);
    return this.end();
  }

  /** Bare POST /proposal from a user: counted in the current run like a peer's proposal. */
  externalProposal(agentId: string, value: number, round: number, now: number): Output {
    this.begin();
    if (this.s.run === null) this.adopt({ n: this.s.max_run_n + 1, by: this.id });
    this.onProposal(agentId, value, round, now);
    return this.end();
  }

  /**
   * Bare POST /final from a user carries no proof that a majority accepted it,
   * so it is only confirmed when it matches what this agent already knows.
   */
  externalFinal(value: number, round: number): Output {
    this.begin();
    const d = this.s.decision;
    this.out.status = d !== null && d.value === value && d.round === round ? 'ok' : 'unverified';
    return this.end();
  }

  /** A protocol message from a peer (or a reply to one of ours). */
  step(msg: AgentMessage, now: number): Output {
    this.begin();
    let cmp = compareRun(msg.run, this.s.run);
    // This agent's /run picked a run number below one that exists elsewhere (it had missed
    // it, maybe decided long ago): joining could only repeat an old decision, so the /run
    // starts again above it. A few times per /run only, so two concurrent triggers cannot
    // leapfrog each other for ever: after that the later run is simply joined.
    const t = this.triggered;
    if (
      cmp > 0 &&
      t !== null &&
      t.retries < MAX_TRIGGER_RETRIES &&
      this.s.decision === null &&
      compareRun(this.s.run, t.run) === 0
    ) {
      this.startRun(Math.max(this.s.max_run_n, msg.run.n) + 1, t.round, now, t.retries + 1);
      return this.end();
    }
    // An agent that only reset itself (a private run, nothing done in it) joins a
    // run started elsewhere meanwhile, as long as it never took part in that run:
    // runs above its floor were never entered with state, so nothing is forgotten.
    if (cmp < 0 && this.idle() && compareRun(msg.run, this.s.floor) > 0) {
      this.enter(msg.run);
      cmp = 0;
    }
    if (cmp < 0) {
      this.out.status = 'stale-run';
      // A peer left behind in an old run (its reset was lost) is pulled into this one.
      if (
        msg.type === 'proposal' ||
        msg.type === 'prepare' ||
        msg.type === 'accept' ||
        msg.type === 'new_round'
      ) {
        this.replyCurrentRun();
      }
      return this.end();
    }
    if (cmp > 0) this.enter(msg.run);
    switch (msg.type) {
      case 'reset':
        break;
      case 'new_round':
        this.onNewRound(msg.round, now);
        break;
      case 'proposal':
        this.onProposal(msg.agent_id, msg.value, msg.round, now);
        break;
      // A decided agent answers with the decision instead: its state stays frozen.
      case 'prepare':
        if (this.s.decision === null) this.out.reply.push(this.acceptPrepare(msg.ballot));
        this.replyFinalIfDecided();
        break;
      case 'accept':
        if (this.s.decision === null) this.out.reply.push(this.acceptAccept(msg.ballot, msg.decision));
        this.replyFinalIfDecided();
        break;
      case 'promise':
        this.onPromise(msg);
        break;
      case 'accepted':
        this.onAccepted(msg);
        break;
      case 'final':
        this.learn(msg.decision);
        break;
    }
    return this.end();
  }

  /** Timers: a round that has not decided within its window gives way to the next. */
  tick(now: number): Output {
    this.begin();
    if (this.deadline !== null && now >= this.deadline && this.s.decision === null && this.s.run !== null) {
      // A round that had a majority yet did not decide ran out of time for its ballot: give the
      // next ones longer. A round without a majority was just unlucky and keeps the window.
      if (this.nominate() !== null) this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
      this.startRound(this.s.round + 1, now);
    }
    return this.end();
  }

  // ---- the round surface --------------------------------------------------------------------

  private onNewRound(round: number, now: number): void {
    if (this.s.decision !== null) {
      this.out.status = 'already-decided';
      this.replyFinalIfDecided();
      return;
    }
    if (round <= this.s.round) {
      this.out.status = 'stale-round';
      return;
    }
    this.startRound(round, now);
  }

  private startRound(round: number, now: number): void {
    const run = this.s.run;
    if (run === null || this.s.decision !== null || round <= this.s.round) return;
    this.s.round = round;
    this.s.attempts += 1;
    this.s.my_value = this.opts.rng.int(this.opts.minValue, this.opts.maxValue);
    this.s.proposals[String(round)] = { [this.id]: this.s.my_value };
    for (const k of Object.keys(this.s.proposals)) {
      if (Number(k) <= round - KEPT_ROUNDS) delete this.s.proposals[k];
    }
    // The window grows when ballots do not finish in time (see tick), so slow disks or links
    // cannot keep every round too short for its ballot. Jitter keeps agents out of lock step.
    const window = this.opts.waitMs * this.backoff;
    this.deadline = now + window + this.opts.rng.int(0, Math.floor(window / 2));
    this.out.send.push({ type: 'proposal', run, agent_id: this.id, value: this.s.my_value, round });
    this.maybeStartPaxos();
  }

  private onProposal(agentId: string, value: number, round: number, now: number): void {
    if (this.s.decision !== null) {
      this.replyFinalIfDecided();
      return;
    }
    if (round > this.s.round) this.startRound(round, now);
    if (round < this.s.round) {
      this.out.status = 'stale-round';
      return;
    }
    (this.s.proposals[String(round)] ??= {})[agentId] = value;
    this.maybeStartPaxos();
  }

  /**
   * The original finalised as soon as it saw a majority for a value. Here that
   * majority only nominates the value: this agent runs a Paxos ballot for it.
   */
  private maybeStartPaxos(): void {
    const run = this.s.run;
    if (run === null || this.s.decision !== null || this.s.led_round >= this.s.round) return;
    const bucket = this.s.proposals[String(this.s.round)] ?? {};
    const nominated = this.nominate();
    if (nominated === null) return;
    // One ballot per round: the highest id among the agents that proposed the nominated value
    // leads it. Every agent that saw the majority names the same leader, so ballots of one
    // round do not pre-empt each other; if the leader is slow or cut off, the round times out.
    let leader = '';
    for (const [agent, v] of Object.entries(bucket)) if (v === nominated && agent > leader) leader = agent;
    if (leader !== this.id) return;
    this.s.led_round = this.s.round;
    this.out.persist = true;
    const ballot: Ballot = { round: this.s.round, by: this.id };
    this.proposer = {
      ballot,
      candidate: { value: nominated, round: this.s.round, attempts: this.s.attempts },
      phase: 'prepare',
      promises: new Map(),
      acceptedBy: new Set(),
      chosen: null,
    };
    const own = this.acceptPrepare(ballot);
    this.out.send.push({ type: 'prepare', run, from: this.id, ballot });
    this.onPromise(own);
  }

  /** The value a majority proposed in the current round, if any. */
  private nominate(): number | null {
    const counts = new Map<number, number>();
    for (const v of Object.values(this.s.proposals[String(this.s.round)] ?? {}))
      counts.set(v, (counts.get(v) ?? 0) + 1);
    let nominated: number | null = null;
    for (const [v, c] of counts)
      if (c >= this.majority && (nominated === null || v < nominated)) nominated = v;
    return nominated;
  }

  // ---- Paxos acceptor -----------------------------------------------------------------------

  private acceptPrepare(ballot: Ballot): AgentMessage & { type: 'promise' } {
    const run = this.s.run as RunId;
    if (compareBallot(ballot, this.s.promised) < 0) {
      return {
        type: 'promise',
        run,
        from: this.id,
        ballot,
        ok: false,
        promised: this.s.promised,
        accepted: null,
      };
    }
    if (compareBallot(ballot, this.s.promised) > 0) {
      this.s.promised = ballot;
      this.out.persist = true;
    }
    return {
      type: 'promise',
      run,
      from: this.id,
      ballot,
      ok: true,
      promised: this.s.promised,
      accepted: this.s.accepted,
    };
  }

  private acceptAccept(ballot: Ballot, decision: Decision): AgentMessage & { type: 'accepted' } {
    const run = this.s.run as RunId;
    if (compareBallot(ballot, this.s.promised) < 0)
      return { type: 'accepted', run, from: this.id, ballot, ok: false };
    const same =
      this.s.accepted !== null &&
      compareBallot(this.s.accepted.ballot, ballot) === 0 &&
      sameDecision(this.s.accepted.decision, decision);
    if (!same) {
      this.s.promised = ballot;
      this.s.accepted = { ballot, decision: { ...decision } };
      this.out.persist = true;
    }
    return { type: 'accepted', run, from: this.id, ballot, ok: true };
  }

  // ---- Paxos proposer -----------------------------------------------------------------------

  private onPromise(msg: AgentMessage & { type: 'promise' }): void {
    const p = this.proposer;
    if (this.s.decision !== null) return;
    if (p === null || p.phase !== 'prepare' || compareBallot(p.ballot, msg.ballot) !== 0 || !msg.ok) return;
    p.promises.set(msg.from, msg.accepted);
    if (p.promises.size < this.majority) return;
    // The value accepted under the highest ballot may already be chosen: it must win.
    let best: AcceptedValue | null = null;
    for (const a of p.promises.values())
      if (a !== null && (best === null || compareBallot(a.ballot, best.ballot) > 0)) best = a;
    const decision = best ? { ...best.decision } : p.candidate;
    p.phase = 'accept';
    p.chosen = decision;
    const run = this.s.run as RunId;
    this.out.send.push({ type: 'accept', run, from: this.id, ballot: p.ballot, decision });
    const own = this.acceptAccept(p.ballot, decision);
    this.onAccepted(own);
  }

  private onAccepted(msg: AgentMessage & { type: 'accepted' }): void {
    const p = this.proposer;
    if (p === null || p.phase !== 'accept' || compareBallot(p.ballot, msg.ballot) !== 0 || !msg.ok) return;
    p.acceptedBy.add(msg.from);
    if (p.acceptedBy.size < this.majority || p.chosen === null) return;
    p.phase = 'done';
    this.learn(p.chosen);
    if (this.s.decision !== null && sameDecision(this.s.decision, p.chosen)) {
      this.out.send.push({ type: 'final', run: this.s.run as RunId, decision: p.chosen });
    }
  }

  // ---- learner ------------------------------------------------------------------------------

  private learn(decision: Decision): void {
    if (this.s.decision !== null) {
      if (!sameDecision(this.s.decision, decision)) this.out.status = 'conflict';
      return;
    }
    this.s.decision = { ...decision };
    this.deadline = null;
    this.out.persist = true;
  }

  /** Peers still proposing in a decided run learn the decision from the answer. */
  private replyFinalIfDecided(): void {
    const d = this.s.decision;
    if (d === null || this.s.run === null) return;
    this.out.reply.push({ type: 'final', run: this.s.run, decision: d });
  }

  private replyCurrentRun(): void {
    const run = this.s.run;
    if (run === null) return;
    if (this.s.decision !== null) this.out.reply.push({ type: 'final', run, decision: this.s.decision });
    else if (this.s.round > 0) this.out.reply.push({ type: 'new_round', run, round: this.s.round });
    // An idle run (a bare reset) has nothing to offer: pulling the sender in would stall its run.
  }

  /** Nothing done in the current run yet: no round, no promise, no acceptance, no decision. */
  private idle(): boolean {
    return (
      this.s.round === 0 && this.s.promised === null && this.s.accepted === null && this.s.decision === null
    );
  }

  // ---- runs ---------------------------------------------------------------------------------

  /** Enter a newer run: a new, empty Paxos instance. Older runs are never re-entered. */
  private adopt(run: RunId): void {
    if (compareRun(run, this.s.run) <= 0) return;
    this.enter(run);
  }

  private enter(run: RunId): void {
    const left = this.s.run;
    const floor = left !== null && !this.idle() && compareRun(left, this.s.floor) > 0 ? left : this.s.floor;
    this.s = {
      ...freshState(this.id),
      max_run_n: Math.max(this.s.max_run_n, run.n),
      run: { ...run },
      floor: floor === null ? null : { ...floor },
    };
    this.proposer = null;
    this.deadline = null;
    this.backoff = 1;
    this.out.persist = true;
  }

  private begin(): void {
    this.out = emptyOutput();
  }

  private end(): Output {
    const o = this.out;
    this.out = emptyOutput();
    return o;
  }
}

function emptyOutput(): Output {
  return { persist: false, send: [], reply: [], status: 'ok' };
}
