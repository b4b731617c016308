/**
 * The one Ready loop that runs the Raft core, for the daemon, the simulator and
 * the Maelstrom node alike (see interfaces.ts for what it runs over).
 *
 * One Ready at a time, in the only safe order: early messages (they depend on
 * nothing unsynced) -> apply committed entries that an earlier Ready already
 * made durable -> persist (fsync) -> send the rest -> apply the rest -> answer
 * reads -> advance -> maybe start a background snapshot. Steps, ticks and
 * proposals may arrive while a Ready is being persisted; the core holds them
 * for the next one.
 *
 * With `asyncLeaderPersist`, a leader also applies (and answers) entries of the
 * Ready being persisted as soon as its followers' acknowledgements, stepped
 * during that persist, commit them (thesis 10.2.1; etcd-io/raft's asynchronous
 * storage writes): the core counts the leader's own copy only in advance(), so
 * its commit index then means "durable on a quorum of followers"
 * (docs/raft-runtime.md, "Commit on the followers' quorum").
 */
import { countOp, opCountsOn } from '../common/op-counts.js';
import { encodeSnapshotParts } from '../raft/kv.js';
import type { KvApplier } from '../raft/kv-applier.js';
import type { RaftMessage } from '../raft/messages.js';
import { mutations } from '../raft/mutations.js';
import type { RaftNode, Ready } from '../raft/raft-node.js';
import type { SoftState } from '../raft/types.js';
import type { DriverClock, DriverStorage, DriverTransport } from './interfaces.js';

/** Snapshot rows encoded per event-loop turn: about 1 ms of work, so commits are not held up. */
export const SNAPSHOT_ROWS_PER_TURN = 1000;
const EMPTY_BYTES = new Uint8Array(0);

export interface DriverHooks {
  /** After every tick of the core (the daemon manages membership and silent links here). */
  onTick?(now: number): void;
  /** The known leader may have changed, or this node just won: wake requests waiting for a leader. */
  onLeaderChange?(): void;
  /** Role or leader changed (logging), with the term the Ready was handed out in. */
  onSoftState?(ss: SoftState, term: number): void;
  /** A Ready that needed an fsync was persisted in `seconds`. */
  onFsync?(seconds: number): void;
  /** A Ready is durable (before its messages go out); the simulator checks log invariants here. */
  onPersisted?(rd: Ready): void;
  /** A Ready was advanced (the daemon tells its forwarder what was applied, advertises voters). */
  onAdvanced?(rd: Ready): void;
  /** A Ready's committed entries (and snapshot) were applied, or entries ahead of their Ready. */
  onApplied?(rd: Applied): void;
  /** The loop or a snapshot failed on storage: the log is in an unknown state, the node must stop. */
  onFailure?(err: unknown, stage: 'ready' | 'snapshot'): void;
  /** Whether the core needs ticks (default: while it is a voter; learners have no timers to run). */
  shouldTick?(core: RaftNode): boolean;
  /** When onTick next has periodic work of its own (absolute, the clock's ms; default: never). */
  nextWork?(core: RaftNode): number;
}

export interface RaftDriverOptions {
  readonly core: RaftNode | null;
  readonly storage: DriverStorage;
  readonly transport: DriverTransport;
  readonly clock: DriverClock;
  readonly applier: KvApplier;
  readonly tickMs: number;
  /** Applied entries between snapshots (0: never). */
  readonly snapshotEvery: number;
  readonly snapshotRowsPerTurn?: number;
  readonly hooks?: DriverHooks;
  /**
   * Leader: apply the entries of the Ready in flight once the followers' quorum commits them, before
   * its own fsync completes (see the module comment). Only useful when the storage's fsync leaves the
   * event loop free meanwhile (an inline fsync blocks the acknowledgements from being read).
   */
  readonly asyncLeaderPersist?: boolean;
}

/** What apply() and onApplied read of a Ready; entries applied ahead of their Ready carry only these. */
export type Applied = Pick<Ready, 'snapshot' | 'committed' | 'readStates'>;

/** How far a deadline may move later before the armed timer is re-armed (see updateTimer). */
export const KEEP_ARMED_MS = 20;

export class RaftDriver {
  private coreRef: RaftNode | null;
  private readonly o: RaftDriverOptions;
  private readonly hooks: DriverHooks;
  private processing = false;
  private again = false;
  private idle: Promise<void> = Promise.resolve();
  /** The snapshot being encoded and written in the background, if any (see maybeSnapshot). */
  private snapshotting: Promise<void> | null = null;
  private cancelTick: (() => void) | null = null;
  /** The deadline the one-shot timer is armed for (deadline mode, see DriverClock.after). */
  private armedAt = Number.NaN;
  /** When that timer was armed (the clock's ms), see updateTimer. */
  private armedWhen = Number.NEGATIVE_INFINITY;
  private stopping = false;
  private failed = false;
  /**
   * The leader's Ready whose persist is in flight, while its entries may be applied ahead of it
   * (asyncLeaderPersist), and the term it was handed out in.
   */
  private inflight: Ready | null = null;
  private inflightTerm = 0;
  /** Ticks since start, reported so the idle cost is visible. */
  ticks = 0;
  /** Entries applied ahead of their own Ready, on the followers' quorum (asyncLeaderPersist). */
  appliedEarly = 0;
  /** Messages the transport refused (oversize, back-pressure, unknown peer). */
  dropped = 0;

  constructor(opts: RaftDriverOptions) {
    this.o = opts;
    this.coreRef = opts.core;
    this.hooks = opts.hooks ?? {};
  }

  get core(): RaftNode | null {
    return this.coreRef;
  }

  /**
   * Replaces the core (bootstrap: only while no Ready is in flight, see `busy`; stop: null). The
   * owner calls updateTimer() once the rest of its wiring is ready, so no tick fires before that.
   */
  set core(core: RaftNode | null) {
    this.coreRef = core;
  }

  /** A Ready loop is running (or about to): the core must not be replaced now. */
  get busy(): boolean {
    return this.processing;
  }

  /** A leader's Ready is being persisted while its entries may be applied ahead (asyncLeaderPersist). */
  get leaderPersistInFlight(): boolean {
    return this.inflight !== null;
  }

  get snapshotInProgress(): boolean {
    return this.snapshotting !== null;
  }

  /** A message from a peer. */
  receive(m: RaftMessage): void {
    const core = this.coreRef;
    if (core === null || this.failed) return;
    const before = core.leaderId;
    core.step(m, this.o.clock.now());
    if (this.inflight !== null) this.applyAhead(core, this.inflight);
    // Wake requests waiting for a leader now, before the Ready loop runs: a node that has just won
    // proposes them in the same Ready as its first entry instead of one fsync round later.
    if (core.leaderId !== before) this.hooks.onLeaderChange?.();
    this.kick();
  }

  /**
   * Tick only while the core needs it (see DriverHooks.shouldTick). With a one-shot timer
   * (DriverClock.after) the driver wakes only at the core's next deadline, re-armed after every step,
   * tick, kick and Ready: an idle follower then wakes for the leader's heartbeats alone. Without
   * one it ticks every tickMs (the core's timers are absolute deadlines, so both behave the same).
   */
  updateTimer(): void {
    const core = this.coreRef;
    const needed =
      core !== null &&
      !this.stopping &&
      !this.failed &&
      (this.hooks.shouldTick ? this.hooks.shouldTick(core) : core.confState.voters.includes(core.id));
    const after = this.o.clock.after;
    if (!needed || after === undefined) {
      if (needed && this.cancelTick === null) {
        this.cancelTick = this.o.clock.every(this.o.tickMs, () => this.onTick());
      } else if (!needed) this.disarm();
      return;
    }
    const at = Math.min(core.nextDeadline(), this.hooks.nextWork?.(core) ?? Infinity);
    // A timer armed for a slightly earlier time is kept: under writes each append pushes the
    // leader's heartbeat back by a millisecond or so, and re-arming for each was a timer and two
    // closures per write. The kept timer is re-armed once the deadline has moved KEEP_ARMED_MS on,
    // or wakes us early once (the core's deadlines are absolute, so that tick finds nothing due).
    // Only small moves keep it: an idle follower's election deadline jumps a heartbeat interval per
    // heartbeat, and keeping that timer would cost a wasted wake-up every election period.
    // And a timer armed less than KEEP_ARMED_MS ago is kept for any later deadline: a follower draws
    // a new random election timeout at every append it takes, so under writes its deadline jumps
    // later by up to the timeout spread most of the time, and re-arming for each was a clearTimeout
    // and a setTimeout per append (3% of a follower's CPU at 16 clients). A kept timer may fire early
    // once, at the end of a burst (the tick finds nothing due and re-arms); an idle follower's
    // heartbeats come further apart than the window, so it re-arms at each as before.
    if (this.cancelTick !== null && at >= this.armedAt) {
      if (at - this.armedAt < KEEP_ARMED_MS) return;
      if (this.o.clock.now() - this.armedWhen < KEEP_ARMED_MS) return;
    }
    this.disarm();
    if (!Number.isFinite(at)) return;
    this.armedAt = at;
    const now = this.o.clock.now();
    this.armedWhen = now;
    // At least 1 ms: a deadline already due fires on the next timer phase, never in a busy loop.
    const delay = Math.max(1, Math.ceil(at - now));
    this.cancelTick = after.call(this.o.clock, delay, () => {
      this.cancelTick = null;
      this.armedAt = Number.NaN;
      this.onTick();
    });
  }

  private disarm(): void {
    if (this.cancelTick === null) return;
    this.cancelTick();
    this.cancelTick = null;
    this.armedAt = Number.NaN;
  }

  private onTick(): void {
    const core = this.coreRef;
    if (core === null) return;
    this.ticks++;
    const now = this.o.clock.now();
    core.tick(now);
    this.hooks.onTick?.(now);
    this.kick();
  }

  /** Run the Ready loop unless it already runs; a run in progress picks up new work itself. */
  kick(): void {
    if (this.failed) return;
    // A step, a proposal or a tick may have moved the core's next deadline (deadline mode).
    if (this.o.clock.after !== undefined) this.updateTimer();
    if (this.processing) {
      this.again = true;
      return;
    }
    this.processing = true;
    // Start on the next turn of the event loop, not now: requests parsed in the same turn (a burst from
    // many clients) then join one Ready, so one fsync and one append carry them all.
    this.idle = this.o.clock.nextTurn().then(this.runLoop);
  }

  // Bound once, not two closures per kick: a leader kicks at each proposal, answer and tick, about
  // three times per write under one client (issue #16, garbage per write).
  private readonly onLoopError = (err: unknown): void => this.fail(err, 'ready');
  private readonly runLoop = (): Promise<void> => this.loop().catch(this.onLoopError);

  /** Stops ticking and waits for the Ready in flight and a background snapshot to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.updateTimer();
    await this.idle;
    await this.snapshotting;
  }

  private fail(err: unknown, stage: 'ready' | 'snapshot'): void {
    // A failed fsync leaves the log in an unknown state: stop the node rather than continue.
    this.failed = true;
    this.updateTimer();
    this.hooks.onFailure?.(err, stage);
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        const core = this.coreRef;
        if (core === null || this.failed) return;
        while (core.hasReady()) {
          const rd = core.ready();
          if (opCountsOn) {
            countOp('ready');
            countOp('ready.entries', rd.entries.length);
            countOp('ready.messages', rd.messages.length);
            countOp('ready.committed', rd.committed.length);
            if (rd.mustSync) countOp('ready.mustSync');
          }
          // The term the Ready's soft state belongs to: steps during its persist may move the core on
          // (a candidate that won on its peers' votes, then heard of a later term before its fsync
          // ended, must not be reported as leader of that later term).
          const rdTerm = core.term;
          // Appends of a leader whose term is durable and a candidate's vote requests travel while
          // this Ready is being written (see RaftNode's durability contract); the rest waits for it.
          const early = mutations().driverSendBeforeSync ? rd.messages.length : rd.earlyCount;
          if (early > 0) this.send(rd, 0, early);
          // Committed entries written by an earlier Ready are already durable here and on a
          // majority: apply them (and answer their clients) without waiting for this Ready's fsync.
          const applyFirst = this.committedAlreadyStable(rd);
          if (applyFirst) this.apply(rd);
          // Only a leader's own appends may be counted by its followers alone; a snapshot or a Ready
          // whose committed entries wait for this persist keeps the one-Ready order.
          // A snapshot that is due also keeps it: it waits for the core's applied index to reach the
          // applier's, which under steady load it would never do if every Ready applied ahead.
          if (
            this.o.asyncLeaderPersist === true &&
            applyFirst &&
            core.isLeader &&
            rd.entries.length > 0 &&
            !this.snapshotDue()
          ) {
            this.inflight = rd;
            this.inflightTerm = rdTerm;
          }
          const t0 = this.o.clock.preciseNow();
          try {
            await this.o.storage.persist(rd);
          } finally {
            this.inflight = null;
          }
          if (rd.mustSync || rd.entries.length > 0)
            this.hooks.onFsync?.((this.o.clock.preciseNow() - t0) / 1000);
          this.hooks.onPersisted?.(rd);
          this.send(rd, early, rd.messages.length);
          if (!applyFirst) this.apply(rd);
          const wasLeader = core.isLeader;
          core.advance(rd);
          if (rd.softState) {
            this.hooks.onSoftState?.(rd.softState, rdTerm);
            this.hooks.onLeaderChange?.();
          }
          this.hooks.onAdvanced?.(rd);
          this.updateTimer();
          if (!wasLeader && core.isLeader) {
            // Won in advance(), when our own vote became durable: requests waiting for a leader (a
            // hand-over relays them here) propose during this turn and join the no-op's Ready, one
            // replication round instead of two (a new leader probes each follower before pipelining).
            this.hooks.onLeaderChange?.();
            await this.o.clock.nextTurn();
          }
          this.maybeSnapshot(core);
        }
      } while (this.again);
    } finally {
      this.processing = false;
    }
  }

  private apply(rd: Applied): void {
    this.o.applier.apply(rd);
    this.hooks.onApplied?.(rd);
  }

  /**
   * Applies the committed prefix of `rd`'s entries while `rd` is being persisted. Safe because the
   * core's commit index counts this leader's copy only once advance() says it is durable: an entry
   * at or below it is on a quorum of the followers' disks, so no election can lose it, whatever
   * this node's own fsync does. Only while we still lead in the term `rd` was handed out in: after
   * a step-down the commit index may come from a new leader whose entries at these indexes differ
   * from rd's. The entries come again in a later Ready's `committed`, where the applier skips them.
   */
  private applyAhead(core: RaftNode, rd: Ready): void {
    if (!core.isLeader || core.term !== this.inflightTerm) return;
    const applied = this.o.applier.appliedIndex;
    const commit = core.commitIndex;
    if (commit <= applied) return;
    const first = rd.entries[0]!.index;
    // Committed entries before rd's (a capped `committed`) come first, in a later Ready.
    if (applied + 1 < first) return;
    const last = Math.min(commit, rd.entries[rd.entries.length - 1]!.index);
    if (last <= applied) return;
    this.appliedEarly += last - applied;
    const committed = rd.entries.slice(applied + 1 - first, last - first + 1);
    this.apply({ snapshot: undefined, committed, readStates: [] });
  }

  /** No snapshot to restore and no committed entry among the entries this Ready still has to write. */
  private committedAlreadyStable(rd: Ready): boolean {
    if (rd.snapshot) return false;
    const last = rd.committed[rd.committed.length - 1];
    const first = rd.entries[0];
    return last === undefined || first === undefined || last.index < first.index;
  }

  /** Sends rd.messages[from, to). */
  private send(rd: Ready, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      if (this.o.transport.send(rd.messages[i]!) !== 'queued') this.dropped++;
    }
  }

  /**
   * Every snapshotEvery applied entries, snapshot the KV state and compact the log,
   * off the Ready loop: the state is captured now (cheap: immutable records), then encoded a part
   * per event-loop turn, written and fsynced beside the WAL (prepareSnapshot), and only renamed into
   * place under the storage's write lock. Done in one piece inside the loop, 16,000 keys stalled
   * every commit of the swarm for 30-100 ms (all nodes snapshot at about the same index).
   */
  private maybeSnapshot(core: RaftNode): void {
    if (this.snapshotDue() && this.snapshotSafe(core)) this.startSnapshot(core);
  }

  /** The applier is a snapshot interval past the last snapshot and none is being taken. */
  private snapshotDue(): boolean {
    const applier = this.o.applier;
    return (
      this.snapshotting === null &&
      this.o.snapshotEvery > 0 &&
      applier.appliedIndex - applier.snapshotIndex >= this.o.snapshotEvery
    );
  }

  /** The applied state may be snapshotted now: everything in it is in the core's log and on this disk. */
  private snapshotSafe(core: RaftNode): boolean {
    const applied = this.o.applier.appliedIndex;
    // Entries applied ahead of their Ready (asyncLeaderPersist) are not yet applied for the core, and
    // may not yet be durable here: snapshot only at an index the core has applied (it is then local).
    // A leader's snapshot stepped during the last persist has already replaced the core's log (it is
    // installed by the next Ready): our applied index is no longer in it, and that snapshot is newer.
    return applied <= core.appliedIndex && core.termAt(applied) !== undefined;
  }

  /**
   * After stop(), on a graceful stop: snapshot the applied state when at least `minEntries` were
   * applied since the last snapshot, so that the next start restores it instead of replaying up to
   * 1.5 x snapshotEvery committed entries before it can serve a read. Bounded: one snapshot, as a
   * periodic one costs. Resolves to the entries it covered (0: none taken).
   */
  async snapshotAtStop(minEntries: number): Promise<number> {
    await this.snapshotting;
    const core = this.coreRef;
    const applier = this.o.applier;
    const since = applier.appliedIndex - applier.snapshotIndex;
    if (core === null || this.failed || !this.stopping || since < Math.max(1, minEntries)) return 0;
    if (!this.snapshotSafe(core)) return 0;
    this.startSnapshot(core);
    await this.snapshotting;
    return this.failed ? 0 : since;
  }

  private startSnapshot(core: RaftNode): void {
    const applier = this.o.applier;
    const applied = applier.appliedIndex;
    const view = applier.kv.capture();
    const meta = core.createSnapshot(applied, EMPTY_BYTES).meta;
    const storage = this.o.storage;
    const rows = this.o.snapshotRowsPerTurn ?? SNAPSHOT_ROWS_PER_TURN;
    this.snapshotting = (async () => {
      const parts: Uint8Array[] = [];
      for (const part of encodeSnapshotParts(view, rows)) {
        parts.push(part);
        await this.o.clock.nextTurn();
      }
      const snap = { meta, data: Buffer.concat(parts) };
      const prepared = await storage.prepareSnapshot(snap);
      // A snapshot from the leader may have been restored meanwhile; saveSnapshot then keeps the newer.
      await storage.saveSnapshot(snap, prepared);
      if (this.coreRef === core && applied > applier.snapshotIndex) {
        core.compact(snap);
        applier.snapshotTaken(applied);
      }
    })()
      .catch((err: unknown) => {
        // The storage fails stop on an I/O error (see FileRaftStorage.io): stop the node as for a failed fsync.
        this.fail(err, 'snapshot');
      })
      .finally(() => {
        this.snapshotting = null;
      });
  }
}
