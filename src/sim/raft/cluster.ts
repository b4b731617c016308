/**
 * The randomized Raft simulation: the production node stack (see world.ts)
 * under a seeded configuration (config.ts), fault schedule (faults.ts) and
 * client workload, with every invariant checked as the run goes and, at the
 * end, linearizability of the clients' history and liveness after healing.
 * A run is a pure function of its options (seed included).
 *
 * Clients are answered exactly as the daemon answers them: by the production
 * KvApplier, when the node that took the proposal applies an entry with the
 * same index and term.
 */
import { createRng, type Rng } from '../../common/rng.js';
import { encodeCommand, type JsonValue, type KvCommand, type KvResult } from '../../raft/kv.js';
import { setMutations, type Mutations } from '../../raft/mutations.js';
import type { ConfState, NodeId } from '../../raft/types.js';
import { checkLinearizable, describeLinearizability, type KvHistoryOp } from '../linearizability.js';
import type { LinkModel } from '../network.js';
import { describeConfig, drawConfig, type RunConfig } from './config.js';
import { describeFault, drawProfile, nextFault, type FaultAction, type FaultProfile } from './faults.js';
import { InvariantViolation } from './invariants.js';
import { fmt, SimWorld, type SimNode } from './world.js';
import { DEFAULT_MIX, describeOp, nextOp, type ClientOp, type WorkloadMix } from './workload.js';

/** Deliberate bugs outside the core, to prove the checker catches what it claims to. */
export type SimBug =
  | 'none'
  /** The driver sends a Ready's messages before its fsync (mutation driverSendBeforeSync). */
  | 'send-before-sync'
  /** The disk acknowledges syncs it never performs. */
  | 'lying-sync'
  /** Acknowledge a client write as soon as the leader appends it, before it commits. */
  | 'ack-before-commit';

export interface SimOptions extends Partial<RunConfig> {
  readonly seed: number;
  /** Virtual time with faults and workload, ms. */
  readonly chaosMs?: number;
  /** Bound on the healing phase that must end in progress, ms. */
  readonly settleMs?: number;
  readonly clients?: number;
  /** 0: no faults and a fixed link (benchmarks); 1: the seeded fault mix. */
  readonly faults?: 0 | 1;
  /** Overrides the profile's link model. */
  readonly link?: LinkModel;
  /** Overrides parts of the drawn fault profile. */
  readonly profile?: Partial<FaultProfile>;
  readonly clientTimeoutMs?: number;
  /** Pause between a client's operations, ms. */
  readonly thinkMs?: readonly [number, number];
  readonly bug?: SimBug;
  /** Core mutations in force for this run (the mutant runner). */
  readonly mutations?: Partial<Mutations>;
  readonly mix?: WorkloadMix;
  readonly checkLinearizability?: boolean;
  /** Receives every trace line as it happens (replay with --trace). */
  readonly traceSink?: (line: string) => void;
}

export interface SimStats {
  simMs: number;
  events: number;
  messages: number;
  oversize: number;
  elections: number;
  crashes: number;
  faults: number;
  ops: number;
  acked: number;
  unknown: number;
  applied: number;
  checks: number;
  /** Leaders crashed while their fsync ran, after applying ahead of it (crashLeaderInFsync). */
  fsyncCrashes: number;
  /** Entries leaders applied on their followers' quorum before their own fsync completed. */
  appliedAhead: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly invariant?: string;
  readonly message?: string;
  readonly config: RunConfig;
  readonly traceTail: readonly string[];
  readonly stats: SimStats;
  /** Commit latency of each acknowledged write, ms of virtual time. */
  readonly writeLatencies: readonly number[];
  /** Virtual time at which the chaos phase ended. */
  readonly chaosEndMs: number;
}

interface PendingOp {
  readonly client: number;
  readonly seq: number;
  readonly op: ClientOp;
  readonly call: number;
  readonly node: SimNode;
  readonly inc: number;
  index?: number;
  requestId?: string;
}

interface ClientState {
  busy: PendingOp | null;
  seq: number;
  leaderHint: NodeId | null;
  stopped: boolean;
}

type OpResult =
  | { readonly kind: 'read'; readonly value: number | null }
  | { readonly kind: 'write' }
  | { readonly kind: 'cas'; readonly ok: boolean };

export class RaftSimulation {
  readonly config: RunConfig;
  readonly world: SimWorld;
  private readonly faultRng: Rng;
  private readonly clientRng: Rng;
  private readonly clients: ClientState[] = [];
  private readonly history: KvHistoryOp[] = [];
  private readonly profile: FaultProfile;
  private readonly o: Required<
    Pick<
      SimOptions,
      | 'chaosMs'
      | 'settleMs'
      | 'clients'
      | 'faults'
      | 'clientTimeoutMs'
      | 'thinkMs'
      | 'bug'
      | 'checkLinearizability'
    >
  >;
  private readonly opts: SimOptions;
  private readonly mix: WorkloadMix;
  private readonly writeLatencies: number[] = [];
  private readonly stats = { faults: 0, ops: 0, acked: 0, unknown: 0, fsyncCrashes: 0 };
  private chaos = true;
  private healedAt = -1;
  /** First write acknowledged after healing: proof of progress. */
  private progressIndex = 0;
  private readonly traceOps: boolean;

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.o = {
      chaosMs: opts.chaosMs ?? 6000,
      settleMs: opts.settleMs ?? 20000,
      clients: opts.clients ?? 3,
      faults: opts.faults ?? 1,
      clientTimeoutMs: opts.clientTimeoutMs ?? 1000,
      thinkMs: opts.thinkMs ?? [0, 40],
      bug: opts.bug ?? 'none',
      checkLinearizability: opts.checkLinearizability ?? true,
    };
    this.config = drawConfig(opts.seed, opts);
    this.mix = opts.mix ?? DEFAULT_MIX;
    this.traceOps = opts.traceSink !== undefined;
    const rng = createRng(opts.seed);
    const profileRng = rng.fork();
    this.faultRng = rng.fork();
    this.clientRng = rng.fork();
    const c = this.config;
    const drawn = drawProfile(profileRng, c.nodes, this.o.faults);
    this.profile = { ...drawn, ...opts.profile, ...(opts.link ? { link: opts.link } : {}) };
    const ids = Array.from({ length: c.nodes }, (_, i) => `n${i + 1}`);
    this.world = new SimWorld({
      seed: opts.seed,
      voters: ids.slice(0, c.nodes - c.learners),
      learners: ids.slice(c.nodes - c.learners),
      preVote: c.preVote,
      checkQuorum: c.checkQuorum,
      maxEntriesPerMsg: c.maxEntriesPerMsg,
      maxInflightMsgs: c.maxInflightMsgs,
      commitNotifyDelayMs: c.commitNotifyDelayMs,
      heartbeatMs: c.heartbeatMs,
      electionMinMs: c.electionMinMs,
      electionMaxMs: c.electionMaxMs,
      tickMs: c.tickMs,
      snapshotEvery: c.snapshotEvery,
      asyncLeaderPersist: c.asyncLeaderPersist,
      link: this.profile.link,
      syncMs: this.profile.syncMs,
      ...(this.profile.syncSpike ? { syncSpike: this.profile.syncSpike } : {}),
      clockRates: this.profile.clockRates,
      lyingSync: this.o.bug === 'lying-sync',
      holdAcrossPartitions: this.profile.holdAcrossPartitions ?? false,
      ...(opts.traceSink ? { traceSink: opts.traceSink } : {}),
    });
    this.world.onLeader = (n) => {
      const p = this.profile.crashNewLeader ?? 0;
      if (!this.chaos || p <= 0 || this.faultRng.next() >= p) return;
      const w = this.world;
      const within = 4 * (this.profile.link.latencyMs + this.profile.link.jitterMs) + 2;
      const [lo, hi] = this.profile.downtimeMs;
      const downMs = lo + this.faultRng.next() * (hi - lo);
      w.at(w.now + this.faultRng.next() * within, () => {
        if (!this.chaos || n.role !== 'leader') return;
        w.log(`t=${fmt(w.now)} FAULT crash new leader ${n.id}`);
        this.stats.faults++;
        this.crash(n, downMs);
      });
    };
    // Its own generator: seeds whose leaders never apply ahead keep their fault schedule.
    const fsyncCrashRng = createRng((opts.seed ^ 0x1f83_d9ab) >>> 0);
    this.world.onAppliedAhead = (n) => {
      const p = this.profile.crashLeaderInFsync ?? 0;
      if (!this.chaos || p <= 0 || fsyncCrashRng.next() >= p) return;
      const w = this.world;
      const [lo, hi] = this.profile.downtimeMs;
      const downMs = lo + fsyncCrashRng.next() * (hi - lo);
      this.stats.faults++;
      this.stats.fsyncCrashes++;
      // Right now, inside the step that committed: the leader's fsync is still running.
      w.log(
        `t=${fmt(w.now)} FAULT crash leader ${n.id} while its fsync runs (applied ahead to ${n.observed})`,
      );
      this.crash(n, downMs);
    };
    this.world.onNodeStopped = (n) => {
      // A node that stopped on a storage error is restarted by its supervisor, with space freed.
      const [lo, hi] = this.profile.downtimeMs;
      this.world.at(this.world.now + lo + this.faultRng.next() * (hi - lo), () => this.restart(n));
    };
  }

  async run(): Promise<SimResult> {
    const p = this.profile;
    const w = this.world;
    w.log(
      `seed ${this.opts.seed}: ${describeConfig(this.config)}; link ${p.link.latencyMs}+${p.link.jitterMs}ms loss ${p.link.loss} dup ${p.link.duplicate}, ` +
        `sync ${p.syncMs[0]}-${p.syncMs[1]} ms, fault every ${p.faultEveryMs}ms, bug ${this.o.bug}`,
    );
    const muts: Partial<Mutations> = {
      ...this.opts.mutations,
      ...(this.o.bug === 'send-before-sync' ? { driverSendBeforeSync: true } : {}),
    };
    setMutations(muts);
    try {
      for (const n of w.nodes) this.restart(n);
      for (let c = 0; c < this.o.clients; c++) {
        this.clients.push({ busy: null, seq: 0, leaderHint: null, stopped: false });
        w.at(this.clientRng.int(0, 50), () => this.clientStep(c));
      }
      if (Number.isFinite(p.faultEveryMs)) w.at(p.faultEveryMs, () => this.faultStep());
      w.at(this.o.chaosMs, () => this.heal());
      const hardStop = this.o.chaosMs + this.o.settleMs;
      await w.run(hardStop, () => !this.chaos && this.settled());
      // Raft promises progress only when a round trip fits well inside the shortest election
      // timeout (broadcastTime << electionTimeout, thesis 3.6). A drawn link whose worst round trip
      // reaches that timeout (seed 552: 20+80 ms one way against 100 ms) can elect leaders forever
      // without committing; such a run still checks safety (linearizability of what was answered)
      // but not liveness.
      const worstRttMs = 2 * (p.link.latencyMs + p.link.jitterMs);
      if (!this.settled() && worstRttMs >= this.config.electionMinMs) {
        w.log(
          `t=${fmt(w.now)} liveness not checked: worst round trip ${worstRttMs} ms >= minimum election timeout ${this.config.electionMinMs} ms`,
        );
        this.safetyChecksOnly();
        return this.result(null);
      }
      if (!this.settled()) {
        throw new InvariantViolation(
          'liveness',
          this.progressIndex === 0
            ? `no write was acknowledged within ${this.o.settleMs} ms after healing`
            : `replicas did not converge within ${this.o.settleMs} ms after healing (applied: ${w.nodes.map((n) => `${n.id}=${n.applier?.appliedIndex ?? n.role}`).join(' ')})`,
        );
      }
      this.finalChecks();
      return this.result(null);
    } catch (err) {
      if (err instanceof InvariantViolation) return this.result(err);
      const e = err instanceof Error ? err : new Error(String(err));
      return this.result(
        new InvariantViolation('exception', `driver or core threw: ${e.stack ?? e.message}`),
      );
    } finally {
      setMutations({});
    }
  }

  // ------------------------------------------------------------------------ nodes

  private restart(n: SimNode): void {
    if (n.up || n.refused) return;
    n.fs.capacityBytes = Number.POSITIVE_INFINITY;
    this.world.boot(n).catch((err: unknown) => this.world.fail(err));
  }

  private crash(n: SimNode, downMs: number): void {
    const w = this.world;
    if (!n.up) return;
    w.crash(n, `down ${Math.round(downMs)} ms`);
    // No majority of the committed voter set may lack an acknowledged entry.
    w.checkDurable(this.committedConf().voters).catch((err: unknown) => w.fail(err));
    w.at(w.now + downMs, () => {
      if (this.chaos) this.restart(n);
    });
    // The runtime's crash hint: a dead process's Raft port refuses the peers that can reach it.
    for (const x of w.nodes) {
      if (x === n || !x.up || !w.net.canReach(x.id, n.id)) continue;
      w.at(w.now + 2 * this.profile.link.latencyMs, () => this.unreachable(x, n.id));
    }
  }

  private unreachable(x: SimNode, peer: NodeId): void {
    const core = x.core;
    if (core === null) return;
    if (core.peerUnreachable(peer, this.world.now * x.rate))
      this.world.log(`t=${fmt(this.world.now)} ${x.id} hears ${peer} is unreachable`);
    x.driver!.kick();
  }

  /** The configuration of the node that has applied the most: the latest committed one. */
  private committedConf(): ConfState {
    let best = this.world.nodes[0]!;
    for (const n of this.world.nodes) if (n.observed > best.observed) best = n;
    return best.conf;
  }

  // ------------------------------------------------------------------------ faults

  private faultStep(): void {
    if (!this.chaos) return;
    const w = this.world;
    let leader: NodeId | null = null;
    let best = -1;
    for (const n of w.nodes) {
      if (n.up && n.role === 'leader' && n.term > best) {
        best = n.term;
        leader = n.id;
      }
    }
    const view = {
      nodes: w.nodes.map((n) => n.id),
      up: new Set(w.nodes.filter((n) => n.up).map((n) => n.id)),
      leader,
      voters: this.committedConf().voters,
    };
    this.applyFault(nextFault(this.faultRng, this.profile, view));
    w.at(w.now + this.profile.faultEveryMs * (0.5 + this.faultRng.next()), () => this.faultStep());
  }

  private applyFault(a: FaultAction): void {
    if (a.kind === 'none') return;
    const w = this.world;
    this.stats.faults++;
    w.log(`t=${fmt(w.now)} FAULT ${describeFault(a)}`);
    switch (a.kind) {
      case 'partition':
        w.net.heal();
        w.net.partition(a.groups);
        w.releaseHeld();
        return;
      case 'bridge':
        w.net.heal();
        for (const l of a.left) {
          for (const r of a.right) {
            w.net.cutLink(l, r);
            w.net.cutLink(r, l);
          }
        }
        w.releaseHeld();
        return;
      case 'heal':
        w.net.heal();
        w.releaseHeld();
        return;
      case 'crash':
        this.crash(w.node(a.node), a.downMs);
        return;
      case 'disk-full': {
        // The disk fills up (other files grew): the next write fails, the node fails stop.
        const n = w.node(a.node);
        n.fs.capacityBytes = n.fs.used + a.spareBytes;
        return;
      }
      case 'corrupt': {
        const n = w.node(a.node);
        if (w.nodes.some((x) => x.refused || x.corrupted)) return;
        const seg = n.fs
          .files()
          // syncedData: a preallocated segment's zeros after the log hold no records to corrupt.
          .filter((f) => f.path.endsWith('.wal') && f.syncedData > 0)
          .sort((x, y) => x.path.localeCompare(y.path))
          .at(-1);
        if (seg === undefined) return;
        n.fs.flipBit(
          seg.path,
          Math.min(seg.syncedData - 1, Math.floor(a.at * seg.syncedData)),
          this.faultRng.int(0, 7),
        );
        n.corrupted = true;
        const [lo, hi] = this.profile.downtimeMs;
        this.crash(n, lo + this.faultRng.next() * (hi - lo));
        return;
      }
      case 'conf': {
        const n = w.node(a.leader);
        const core = n.core;
        if (core === null) return;
        const r = core.proposeConfChange({ type: a.change, node: a.node }, w.now * n.rate);
        if (!r.ok) w.log(`t=${fmt(w.now)} conf change refused: ${r.reason}`);
        n.driver!.kick();
        return;
      }
      case 'unreachable':
        this.unreachable(w.node(a.node), a.peer);
        return;
      case 'transfer': {
        const n = w.node(a.from);
        const core = n.core;
        if (core === null) return;
        core.transferLeadership(a.to, w.now * n.rate);
        n.driver!.kick();
        return;
      }
    }
  }

  private heal(): void {
    const w = this.world;
    this.chaos = false;
    this.healedAt = w.now;
    w.net.heal();
    w.releaseHeld();
    w.log(`t=${fmt(w.now)} chaos ends: network healed, crashed nodes restart`);
    for (const n of w.nodes) this.restart(n);
  }

  // ------------------------------------------------------------------------ clients

  /** A value of about valueBytes whose number the checker reads back; the same number gives the same value. */
  private valueOf(v: number): JsonValue {
    const size = this.config.valueBytes;
    return size <= 0 ? v : `${v}:${'x'.repeat(size)}`;
  }

  private numberOf(v: JsonValue | undefined): number | null {
    if (typeof v === 'number') return v;
    if (typeof v === 'string') return Number(v.slice(0, v.indexOf(':')));
    return null;
  }

  private commandOf(op: Exclude<ClientOp, { kind: 'read' }>): KvCommand {
    return op.kind === 'write'
      ? { op: 'put', key: op.key, value: this.valueOf(op.value) }
      : { op: 'cas', key: op.key, expected: this.valueOf(op.from), value: this.valueOf(op.to) };
  }

  private clientStep(ci: number): void {
    const w = this.world;
    const now = w.now;
    const c = this.clients[ci]!;
    if (c.busy !== null || c.stopped) return;
    if (!this.chaos && this.progressIndex > 0) {
      c.stopped = true;
      return;
    }
    const op = nextOp(this.clientRng, this.mix);
    const up = w.nodes.filter((n) => n.core !== null);
    let target = c.leaderHint !== null ? w.byId.get(c.leaderHint) : undefined;
    if (target === undefined || target.core === null || this.clientRng.next() < 0.1) {
      target = up.length > 0 ? up[this.clientRng.int(0, up.length - 1)] : undefined;
    }
    if (target === undefined || target.core === null) {
      w.at(now + 20, () => this.clientStep(ci));
      return;
    }
    const core = target.core;
    const applier = target.applier!;
    const p: PendingOp = { client: ci, seq: ++c.seq, op, call: now, node: target, inc: target.inc };
    const local = now * target.rate;
    if (op.kind === 'read') {
      const requestId = `c${ci}.${p.seq}`;
      const r = core.readIndex(requestId, local);
      if (!r.ok) return this.redirect(c, ci, r.leader);
      p.requestId = requestId;
      applier.awaitRead(requestId, {
        ready: (kv) =>
          this.finish(p, { kind: 'read', value: this.numberOf(kv.get(op.key)?.value) }, 'read confirmed'),
      });
    } else {
      const r = core.propose(encodeCommand(this.commandOf(op)), local);
      if (!r.ok) return this.redirect(c, ci, r.leader);
      p.index = r.index;
      applier.awaitApply(r.index, {
        term: r.term,
        applied: (res: KvResult) => {
          if (this.o.bug !== 'ack-before-commit') {
            w.checker.observeAck(r.index, r.term);
            this.finish(p, this.resultOf(op, res), `applied at ${r.index}/${r.term}`);
          }
        },
        // Another leader's entry took this index: ours can never commit. Definite failure.
        superseded: (index, term) => this.finish(p, 'dropped', `lost index ${index} to term ${term}`),
        abandoned: () => this.finish(p, null, 'abandoned'),
      });
      if (this.o.bug === 'ack-before-commit') {
        w.checker.observeAck(r.index, r.term);
        this.finish(
          p,
          op.kind === 'write' ? { kind: 'write' } : { kind: 'cas', ok: true },
          'acked early (bug)',
        );
      }
    }
    this.stats.ops++;
    if (c.busy === null && !this.isFinished(p)) c.busy = p;
    c.leaderHint = target.id;
    w.at(now + this.o.clientTimeoutMs, () => this.timeout(p));
    target.driver!.kick();
  }

  private readonly finished = new Set<PendingOp>();

  private isFinished(p: PendingOp): boolean {
    return this.finished.has(p);
  }

  private resultOf(op: ClientOp, r: KvResult): OpResult | null {
    if (op.kind === 'write') return { kind: 'write' };
    if (op.kind === 'cas') return { kind: 'cas', ok: r.ok };
    return null;
  }

  private timeout(p: PendingOp): void {
    const c = this.clients[p.client]!;
    if (c.busy !== p) return;
    if (p.node.inc === p.inc && p.node.applier) {
      if (p.index !== undefined) p.node.applier.cancelApply(p.index);
      if (p.requestId !== undefined) p.node.applier.cancelRead(p.requestId);
    }
    this.finish(p, null, 'timeout');
  }

  private redirect(c: ClientState, ci: number, leader: NodeId | null): void {
    c.leaderHint = leader;
    this.world.at(this.world.now + (leader === null ? 20 : 1), () => this.clientStep(ci));
  }

  /** Ends a client operation: `result` null = unknown outcome, 'dropped' = definitely did not happen. */
  private finish(p: PendingOp, result: OpResult | null | 'dropped', why: string): void {
    const w = this.world;
    const now = w.now;
    const c = this.clients[p.client]!;
    if (this.finished.has(p)) return;
    this.finished.add(p);
    if (c.busy === p) c.busy = null;
    const op = p.op;
    if (result !== 'dropped') {
      const ret = result === null ? null : now;
      if (result === null) this.stats.unknown++;
      else this.stats.acked++;
      if (op.kind === 'read') {
        if (result !== null && result.kind === 'read')
          this.history.push({
            client: p.client,
            key: op.key,
            call: p.call,
            ret,
            op: { kind: 'read', value: result.value },
          });
      } else if (op.kind === 'write') {
        this.history.push({
          client: p.client,
          key: op.key,
          call: p.call,
          ret,
          op: { kind: 'write', value: op.value },
        });
        if (ret !== null) this.writeLatencies.push(ret - p.call);
      } else {
        const ok = result !== null && result.kind === 'cas' ? result.ok : false;
        this.history.push({
          client: p.client,
          key: op.key,
          call: p.call,
          ret,
          op: { kind: 'cas', from: op.from, to: op.to, ok },
        });
        if (ret !== null && ok) this.writeLatencies.push(ret - p.call);
      }
      if (
        result !== null &&
        op.kind !== 'read' &&
        !this.chaos &&
        this.progressIndex === 0 &&
        p.call >= this.healedAt
      ) {
        this.progressIndex = p.index ?? 0;
        w.log(`t=${fmt(now)} progress after healing: ${describeOp(op)} committed at ${p.index ?? '?'}`);
      }
    }
    if (this.traceOps)
      w.log(
        `t=${fmt(now)} client ${p.client} ${describeOp(op)} -> ${result === null ? 'unknown' : JSON.stringify(result)} (${why})`,
      );
    if (!c.stopped) {
      const [lo, hi] = this.o.thinkMs;
      w.at(now + lo + this.clientRng.next() * (hi - lo), () => this.clientStep(p.client));
    }
  }

  // ------------------------------------------------------------------------ end of run

  private live(): SimNode[] {
    return this.world.nodes.filter((n) => !n.refused);
  }

  private settled(): boolean {
    if (this.progressIndex === 0) return false;
    if (this.clients.some((c) => c.busy !== null)) return false;
    const live = this.live();
    if (live.some((n) => n.applier === null)) return false;
    const target = Math.max(...live.map((n) => n.applier!.appliedIndex));
    return live.every((n) => n.applier!.appliedIndex === target);
  }

  /** What still holds of a run that did not settle: every answer was linearizable. */
  private safetyChecksOnly(): void {
    if (!this.o.checkLinearizability) return;
    const r = checkLinearizable(this.history, { maxSteps: 2_000_000 });
    if (r.verdict === 'violation')
      throw new InvariantViolation('linearizability', describeLinearizability(r));
  }

  private finalChecks(): void {
    const w = this.world;
    w.checker.checkAckedApplied();
    const live = this.live();
    const images = live.map((n) => Buffer.from(n.applier!.kv.snapshot()).toString('base64'));
    images.forEach((img, i) => {
      if (img !== images[0]) {
        throw new InvariantViolation(
          'replica-divergence',
          `${live[i]!.id} and ${live[0]!.id} have different state after convergence`,
        );
      }
    });
    if (this.o.checkLinearizability) {
      const r = checkLinearizable(this.history, { maxSteps: 2_000_000 });
      if (r.verdict === 'violation')
        throw new InvariantViolation('linearizability', describeLinearizability(r));
    }
  }

  private result(v: InvariantViolation | null): SimResult {
    const w = this.world;
    if (v) w.log(`t=${fmt(w.now)} VIOLATION ${v.message}`);
    return {
      seed: this.opts.seed,
      ok: v === null,
      ...(v ? { invariant: v.invariant, message: v.message } : {}),
      config: this.config,
      traceTail: w.traceLines.slice(-40),
      stats: {
        simMs: w.now,
        events: w.stats.events,
        messages: w.stats.messages,
        oversize: w.stats.oversize,
        elections: w.stats.elections,
        crashes: w.stats.crashes,
        faults: this.stats.faults,
        ops: this.stats.ops,
        acked: this.stats.acked,
        unknown: this.stats.unknown,
        applied: w.checker.appliedCount,
        checks: w.checker.checks,
        fsyncCrashes: this.stats.fsyncCrashes,
        appliedAhead: w.stats.appliedAhead,
      },
      writeLatencies: this.writeLatencies,
      chaosEndMs: this.o.chaosMs,
    };
  }
}

/** Runs one seed. */
export function runSimulation(opts: SimOptions): Promise<SimResult> {
  return new RaftSimulation(opts).run();
}
