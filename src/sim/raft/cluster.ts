/**
 * Deterministic Raft cluster simulation: N RaftNode cores on one virtual
 * clock and a SimNetwork, with crashes that lose unsynced writes, partitions,
 * clock skew and a client workload; every invariant is checked as the run
 * goes. A run is a pure function of its options (seed included).
 *
 * The driver performs the runtime duties exactly as src/node must: for each
 * Ready, persist (snapshot, entries, hard state; one sync) BEFORE sending its
 * messages, then apply committed entries, answer reads whose index has been
 * applied, then advance. Clients are acknowledged only when the leader that
 * took their proposal applies an entry with the same index and term.
 */
import { createRng, type Rng } from '../../common/rng.js';
import { RaftNode, type Ready } from '../../raft/raft-node.js';
import type { RaftMessage } from '../../raft/messages.js';
import { EntryType, type ConfState, type Entry, type NodeId, type Snapshot } from '../../raft/types.js';
import { decodeConfChange } from '../../raft/confchange.js';
import { EventQueue } from '../event-queue.js';
import { checkLinearizable, describeLinearizability, type KvHistoryOp } from '../linearizability.js';
import { SimNetwork, type LinkModel } from '../network.js';
import { SimDisk, type DiskFault } from './disk.js';
import { describeFault, drawProfile, nextFault, type FaultAction, type FaultProfile } from './faults.js';
import { InvariantChecker, InvariantViolation, type LogView } from './invariants.js';
import type { SimCodec, SimStateMachine } from './state-machine.js';
import { DEFAULT_MIX, describeOp, nextOp, type ClientOp, type WorkloadMix } from './workload.js';
import { kvCodec } from './kv-codec.js';

/** Deliberate bugs, to prove the checker catches what it claims to. */
export type SimBug =
  | 'none'
  /** Send a Ready's messages and apply it before its sync, which happens a little later. */
  | 'send-before-sync'
  /** The disk acknowledges syncs it never performs. */
  | 'lying-sync'
  /** Acknowledge a client write as soon as the leader appends it, before it commits. */
  | 'ack-before-commit';

export interface SimOptions {
  readonly seed: number;
  readonly nodes: number;
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
  readonly heartbeatMs?: number;
  readonly electionMinMs?: number;
  readonly electionMaxMs?: number;
  readonly tickMs?: number;
  /** Take a state-machine snapshot and compact every this many applied entries (0 = never). */
  readonly snapshotEvery?: number;
  readonly clientTimeoutMs?: number;
  /** Pause between a client's operations, ms. */
  readonly thinkMs?: readonly [number, number];
  readonly bug?: SimBug;
  /** Operation mix of the clients (default: reads, writes and cas over 3 keys). */
  readonly mix?: WorkloadMix;
  readonly checkLinearizability?: boolean;
  /** Receives every trace line as it happens (replay with --trace). */
  readonly traceSink?: (line: string) => void;
  readonly codec?: SimCodec;
}

export interface SimStats {
  simMs: number;
  events: number;
  messages: number;
  elections: number;
  crashes: number;
  faults: number;
  ops: number;
  acked: number;
  unknown: number;
  applied: number;
  checks: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly invariant?: string;
  readonly message?: string;
  readonly traceTail: readonly string[];
  readonly stats: SimStats;
  /** Commit latency of each acknowledged write, ms of virtual time. */
  readonly writeLatencies: readonly number[];
  /** Virtual time at which the chaos phase ended. */
  readonly chaosEndMs: number;
}

type Ev =
  | { readonly k: 'tick'; readonly node: number; readonly inc: number }
  | { readonly k: 'msg'; readonly msg: RaftMessage }
  | { readonly k: 'client'; readonly c: number }
  | { readonly k: 'timeout'; readonly c: number; readonly seq: number }
  | { readonly k: 'fault' }
  | { readonly k: 'restart'; readonly node: number }
  | { readonly k: 'sync'; readonly node: number; readonly inc: number }
  /** A Ready's fsync has completed: send the rest of it, apply, advance. */
  | { readonly k: 'synced'; readonly node: number; readonly inc: number; readonly rd: Ready }
  | { readonly k: 'heal' }
  | { readonly k: 'unreachable'; readonly node: number; readonly peer: NodeId };

interface PendingOp {
  readonly client: number;
  readonly seq: number;
  readonly op: ClientOp;
  readonly call: number;
  readonly node: number;
  index?: number;
  term?: number;
}

interface SimNode {
  readonly id: NodeId;
  readonly idx: number;
  readonly disk: SimDisk;
  readonly rate: number;
  core: RaftNode | null;
  sm: SimStateMachine;
  /** Configuration as of the applied index (what a snapshot taken now must record). */
  conf: ConfState;
  inc: number;
  applied: number;
  appliedTerm: number;
  lastSnapshot: number;
  role: string;
  term: number;
  leaderTermSeen: number;
  /** Proposals taken as leader, by index. */
  proposals: Map<number, PendingOp>;
  /** Reads waiting for their ReadState, by request id. */
  reads: Map<string, PendingOp>;
  /** Reads whose index is known, waiting for apply. */
  readyReads: { index: number; op: PendingOp }[];
}

interface ClientState {
  busy: PendingOp | null;
  seq: number;
  leaderHint: number | null;
  stopped: boolean;
}

class TraceRing {
  private readonly lines: string[] = [];
  constructor(
    private readonly cap: number,
    private readonly sink?: (line: string) => void,
  ) {}
  add(line: string): void {
    this.sink?.(line);
    this.lines.push(line);
    if (this.lines.length > this.cap * 2) this.lines.splice(0, this.lines.length - this.cap);
  }
  tail(): string[] {
    return this.lines.slice(-this.cap);
  }
}

export class RaftSimulation {
  private readonly rng: Rng;
  private readonly faultRng: Rng;
  private readonly clientRng: Rng;
  /** fsync durations; its own stream, so that drawing them leaves the other streams as they were. */
  private readonly diskRng: Rng;
  private readonly q = new EventQueue<Ev>();
  private readonly net: SimNetwork<NodeId>;
  private readonly nodes: SimNode[] = [];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly clients: ClientState[] = [];
  private readonly checker = new InvariantChecker();
  private readonly history: KvHistoryOp[] = [];
  private readonly trace: TraceRing;
  private readonly profile: FaultProfile;
  private readonly conf: ConfState;
  private readonly codec: SimCodec;
  private readonly o: Required<Omit<SimOptions, 'link' | 'profile' | 'traceSink' | 'codec' | 'mix'>>;
  private readonly mix: WorkloadMix;
  private readonly writeLatencies: number[] = [];
  private readonly stats: SimStats = {
    simMs: 0,
    events: 0,
    messages: 0,
    elections: 0,
    crashes: 0,
    faults: 0,
    ops: 0,
    acked: 0,
    unknown: 0,
    applied: 0,
    checks: 0,
  };
  private chaos = true;
  private healedAt = -1;
  /** First write acknowledged after healing: proof of progress. */
  private progressIndex = 0;
  private readonly traceMessages: boolean;

  constructor(opts: SimOptions) {
    this.o = {
      seed: opts.seed,
      nodes: opts.nodes,
      chaosMs: opts.chaosMs ?? 6000,
      settleMs: opts.settleMs ?? 20000,
      clients: opts.clients ?? 3,
      faults: opts.faults ?? 1,
      heartbeatMs: opts.heartbeatMs ?? 50,
      electionMinMs: opts.electionMinMs ?? 300,
      electionMaxMs: opts.electionMaxMs ?? 600,
      tickMs: opts.tickMs ?? 10,
      snapshotEvery: opts.snapshotEvery ?? 25,
      clientTimeoutMs: opts.clientTimeoutMs ?? 1000,
      thinkMs: opts.thinkMs ?? [0, 40],
      bug: opts.bug ?? 'none',
      checkLinearizability: opts.checkLinearizability ?? true,
    };
    this.codec = opts.codec ?? kvCodec;
    this.mix = opts.mix ?? DEFAULT_MIX;
    this.traceMessages = opts.traceSink !== undefined;
    this.trace = new TraceRing(40, opts.traceSink);
    this.rng = createRng(opts.seed);
    const profileRng = this.rng.fork();
    this.faultRng = this.rng.fork();
    this.clientRng = this.rng.fork();
    this.diskRng = createRng((opts.seed ^ 0x5eed_d15c) >>> 0);
    const drawn = drawProfile(profileRng, opts.nodes, this.o.faults);
    this.profile = { ...drawn, ...opts.profile, ...(opts.link ? { link: opts.link } : {}) };
    this.net = new SimNetwork<NodeId>(this.rng.fork(), this.profile.link);
    const ids = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`);
    this.conf = { voters: ids, learners: [] };
    const diskFault: DiskFault = this.o.bug === 'lying-sync' ? 'lying-sync' : 'none';
    ids.forEach((id, idx) => {
      const node: SimNode = {
        id,
        idx,
        disk: new SimDisk(diskFault),
        rate: this.profile.clockRates[idx] ?? 1,
        core: null,
        sm: this.codec.create(),
        conf: this.conf,
        inc: 0,
        applied: 0,
        appliedTerm: 0,
        lastSnapshot: 0,
        role: 'follower',
        term: 0,
        leaderTermSeen: 0,
        proposals: new Map(),
        reads: new Map(),
        readyReads: [],
      };
      this.nodes.push(node);
      this.byId.set(id, node);
    });
  }

  run(): SimResult {
    const p = this.profile;
    this.log(
      `seed ${this.o.seed}: ${this.o.nodes} nodes, link ${p.link.latencyMs}+${p.link.jitterMs}ms loss ${p.link.loss} dup ${p.link.duplicate}, ` +
        `clock rates ${p.clockRates.map((r) => r.toFixed(3)).join('/')}, fault every ${p.faultEveryMs}ms, bug ${this.o.bug}`,
    );
    try {
      for (const n of this.nodes) this.boot(n);
      for (let c = 0; c < this.o.clients; c++) {
        this.clients.push({ busy: null, seq: 0, leaderHint: null, stopped: false });
        this.q.schedule(this.clientRng.int(0, 50), { k: 'client', c });
      }
      if (Number.isFinite(p.faultEveryMs)) this.q.schedule(p.faultEveryMs, { k: 'fault' });
      this.q.schedule(this.o.chaosMs, { k: 'heal' });
      this.loop();
      this.finalChecks();
      return this.result(null);
    } catch (err) {
      if (err instanceof InvariantViolation) return this.result(err);
      const e = err instanceof Error ? err : new Error(String(err));
      return this.result(
        new InvariantViolation('exception', `driver or core threw: ${e.stack ?? e.message}`),
      );
    }
  }

  // ------------------------------------------------------------------------ main loop

  private loop(): void {
    const hardStop = this.o.chaosMs + this.o.settleMs;
    for (;;) {
      const ev = this.q.pop();
      if (ev === undefined) throw new InvariantViolation('liveness', 'event queue ran dry');
      const now = ev.at;
      if (now > hardStop) {
        throw new InvariantViolation(
          'liveness',
          this.progressIndex === 0
            ? `no write was acknowledged within ${this.o.settleMs} ms after healing`
            : `replicas did not converge within ${this.o.settleMs} ms after healing (applied: ${this.nodes.map((n) => `${n.id}=${n.applied}`).join(' ')})`,
        );
      }
      this.stats.events++;
      this.handle(ev.payload, now);
      if (!this.chaos && this.settled()) {
        this.stats.simMs = now;
        return;
      }
    }
  }

  private handle(ev: Ev, now: number): void {
    switch (ev.k) {
      case 'tick': {
        const n = this.nodes[ev.node]!;
        if (n.inc !== ev.inc || n.core === null) return;
        n.core.tick(this.localNow(n, now));
        this.process(n, now);
        this.q.schedule(now + this.o.tickMs, ev);
        return;
      }
      case 'msg': {
        const n = this.byId.get(ev.msg.to);
        if (n === undefined || n.core === null) return;
        // A partition that started while the message was in flight still cuts it.
        if (!this.net.canReach(ev.msg.from, ev.msg.to)) return;
        if (this.traceMessages) this.log(`t=${fmt(now)} ${n.id} <- ${ev.msg.from} ${summarize(ev.msg)}`);
        n.core.step(ev.msg, this.localNow(n, now));
        this.process(n, now);
        return;
      }
      case 'client':
        this.clientStep(ev.c, now);
        return;
      case 'timeout': {
        const c = this.clients[ev.c]!;
        if (c.busy === null || c.busy.seq !== ev.seq) return;
        this.finish(c.busy, now, null, 'timeout');
        return;
      }
      case 'fault':
        if (!this.chaos) return;
        this.applyFault(nextFault(this.faultRng, this.profile, this.view()), now);
        this.q.schedule(now + this.profile.faultEveryMs * (0.5 + this.faultRng.next()), { k: 'fault' });
        return;
      case 'restart': {
        const n = this.nodes[ev.node]!;
        if (n.core === null) this.boot(n);
        return;
      }
      case 'sync': {
        const n = this.nodes[ev.node]!;
        if (n.inc === ev.inc && n.core !== null) n.disk.syncNow();
        return;
      }
      case 'synced': {
        const n = this.nodes[ev.node]!;
        // A crash meanwhile threw the unsynced writes away; the restarted core never saw this Ready.
        if (n.inc !== ev.inc || n.core === null) return;
        n.disk.syncNow();
        this.finishReady(n, ev.rd, ev.rd.earlyCount, now);
        this.process(n, now);
        return;
      }
      case 'unreachable': {
        const n = this.nodes[ev.node]!;
        if (n.core === null) return;
        if (n.core.peerUnreachable(ev.peer, this.localNow(n, now)))
          this.log(`t=${fmt(now)} ${n.id} hears ${ev.peer} is unreachable`);
        this.process(n, now);
        return;
      }
      case 'heal':
        this.chaos = false;
        this.healedAt = now;
        this.net.heal();
        this.log(`t=${fmt(now)} chaos ends: network healed, crashed nodes restart`);
        for (const n of this.nodes) if (n.core === null) this.boot(n);
        return;
    }
  }

  /** After the Ready is durable: send messages[from..], restore, apply, answer reads, advance. */
  private finishReady(n: SimNode, rd: Ready, from: number, now: number): void {
    const core = n.core!;
    for (let i = from; i < rd.messages.length; i++) this.send(rd.messages[i]!, now);
    if (rd.snapshot) this.restoreSnapshot(n, rd.snapshot);
    for (const e of rd.committed) this.applyEntry(n, e, now);
    for (const rs of rd.readStates) {
      const op = n.reads.get(rs.requestId);
      if (op === undefined) continue;
      n.reads.delete(rs.requestId);
      n.readyReads.push({ index: rs.index, op });
    }
    this.serveReads(n, now);
    if (rd.softState) this.onSoftState(n, rd, now);
    core.advance(rd);
    this.maybeSnapshot(n);
  }

  /** The runtime duties for every Ready the core has. */
  private process(n: SimNode, now: number): void {
    const core = n.core!;
    while (core.hasReady()) {
      const rd = core.ready();
      const deferSync = this.o.bug === 'send-before-sync';
      if (rd.snapshot) n.disk.saveSnapshotNow(rd.snapshot);
      if (rd.entries.length > 0) n.disk.appendNow(rd.entries);
      if (rd.hardState) n.disk.setHardStateNow(rd.hardState);
      if (rd.entries.length > 0) this.checker.observeStored(n.id, rd.entries, n.disk.viewLog());
      const needsSync = rd.mustSync || rd.snapshot !== undefined;
      const [lo, hi] = this.profile.syncMs;
      if (needsSync && hi > 0 && !deferSync) {
        // A slow fsync, as the daemon awaits it: early messages leave now, the rest when it completes.
        for (let i = 0; i < rd.earlyCount; i++) this.send(rd.messages[i]!, now);
        const at = now + lo + this.diskRng.next() * (hi - lo);
        this.q.schedule(at, { k: 'synced', node: n.idx, inc: n.inc, rd });
        break;
      }
      if (needsSync) {
        if (deferSync) this.q.schedule(now + 5, { k: 'sync', node: n.idx, inc: n.inc });
        else n.disk.syncNow();
      }
      this.finishReady(n, rd, 0, now);
    }
    const st = core.status();
    n.term = st.term;
    this.checker.observeTerm(st.term);
    if (st.role === 'leader' && n.leaderTermSeen !== st.term) {
      n.leaderTermSeen = st.term;
      this.stats.elections++;
      this.log(`t=${fmt(now)} ${n.id} leads term ${st.term} (last ${st.lastIndex}, commit ${st.commit})`);
      this.checker.observeLeader(n.id, st.term, n.disk.viewLog());
    }
  }

  private onSoftState(n: SimNode, rd: Ready, now: number): void {
    const ss = rd.softState!;
    if (n.role === 'leader' && ss.role !== 'leader') {
      this.log(`t=${fmt(now)} ${n.id} steps down (${ss.role}, leader ${ss.leader ?? '-'})`);
      // Pending proposals may still commit under the next leader: their clients time out (unknown outcome).
      n.proposals.clear();
      n.reads.clear();
      n.readyReads = [];
    }
    n.role = ss.role;
  }

  private send(m: RaftMessage, now: number): void {
    this.stats.messages++;
    for (const d of this.net.route(m.from, m.to)) this.q.schedule(now + d, { k: 'msg', msg: m });
  }

  private applyEntry(n: SimNode, e: Entry, now: number): void {
    if (e.index <= n.applied) return;
    if (e.index !== n.applied + 1) {
      throw new InvariantViolation(
        'state-machine-safety',
        `${n.id} asked to apply ${e.index} after ${n.applied}`,
      );
    }
    this.checker.observeApplied(n.id, e);
    n.applied = e.index;
    n.appliedTerm = e.term;
    this.stats.applied++;
    if (e.type === EntryType.ConfChange) {
      n.conf = decodeConfChange(e.data).conf;
      this.log(
        `t=${fmt(now)} ${n.id} applies conf ${e.index}: voters ${n.conf.voters.join(',')} learners ${n.conf.learners.join(',') || '-'}`,
      );
    }
    const result = n.sm.apply(e);
    const p = n.proposals.get(e.index);
    if (p === undefined) return;
    n.proposals.delete(e.index);
    if (p.term !== e.term) {
      // Another leader's entry took this index: ours can never commit. Definite failure.
      this.finish(p, now, 'dropped', `lost index ${e.index} to term ${e.term}`);
      return;
    }
    if (this.o.bug !== 'ack-before-commit') {
      this.checker.observeAck(e.index, e.term);
      this.finish(p, now, result, `applied at ${e.index}/${e.term}`);
    }
  }

  private serveReads(n: SimNode, now: number): void {
    if (n.readyReads.length === 0) return;
    const still: { index: number; op: PendingOp }[] = [];
    for (const r of n.readyReads) {
      if (r.index > n.applied) {
        still.push(r);
        continue;
      }
      this.finish(r.op, now, { kind: 'read', value: n.sm.read(r.op.op.key) }, `read at ${r.index}`);
    }
    n.readyReads = still;
  }

  private restoreSnapshot(n: SimNode, s: Snapshot): void {
    n.sm.restore(s.data);
    n.conf = s.meta.conf;
    n.applied = s.meta.index;
    n.appliedTerm = s.meta.term;
    n.lastSnapshot = s.meta.index;
  }

  private maybeSnapshot(n: SimNode): void {
    if (this.o.snapshotEvery <= 0 || n.applied - n.lastSnapshot < this.o.snapshotEvery) return;
    const snap: Snapshot = {
      meta: { index: n.applied, term: n.appliedTerm, conf: n.conf },
      data: n.sm.snapshot(),
    };
    n.disk.saveSnapshotNow(snap);
    n.core!.compact(snap);
    n.lastSnapshot = n.applied;
  }

  // ------------------------------------------------------------------------ crash and restart

  private boot(n: SimNode): void {
    n.inc++;
    const recovered = n.disk.loadNow();
    n.core = new RaftNode(
      {
        id: n.id,
        electionTimeoutMinMs: this.o.electionMinMs,
        electionTimeoutMaxMs: this.o.electionMaxMs,
        heartbeatIntervalMs: this.o.heartbeatMs,
        rng: this.rng.fork(),
      },
      recovered,
      this.conf,
    );
    n.sm = this.codec.create();
    n.conf = this.conf;
    n.applied = 0;
    n.appliedTerm = 0;
    n.lastSnapshot = 0;
    if (recovered.snapshot) this.restoreSnapshot(n, recovered.snapshot);
    n.role = 'follower';
    n.proposals = new Map();
    n.reads = new Map();
    n.readyReads = [];
    const now = this.q.now;
    if (n.inc > 1) {
      this.log(
        `t=${fmt(now)} ${n.id} restarts: term ${recovered.hardState.term} vote ${recovered.hardState.vote ?? '-'} ` +
          `commit ${recovered.hardState.commit}, snapshot ${recovered.snapshot?.meta.index ?? 0}, ${recovered.entries.length} entries`,
      );
    }
    // Stagger first ticks so nodes do not act in lockstep.
    this.q.schedule(now + this.rng.next() * this.o.tickMs, { k: 'tick', node: n.idx, inc: n.inc });
  }

  private crash(n: SimNode, downMs: number, now: number): void {
    if (n.core === null) return;
    this.stats.crashes++;
    const lost = n.disk.unsyncedWrites;
    n.disk.crash();
    n.core = null;
    n.inc++;
    n.proposals = new Map();
    n.reads = new Map();
    n.readyReads = [];
    n.role = 'down';
    this.log(`t=${fmt(now)} CRASH ${n.id} (${lost} unsynced writes lost), down ${Math.round(downMs)} ms`);
    const images = new Map<NodeId, LogView>();
    for (const x of this.nodes) images.set(x.id, x.disk.durableLog());
    // No majority of the committed voter set may lack an acknowledged entry: count copies among those voters.
    const voters = this.committedConf().voters;
    const voterImages = new Map([...images].filter(([id]) => voters.includes(id)));
    this.checker.checkDurable(voterImages, voters.length - Math.floor(voters.length / 2));
    this.q.schedule(now + downMs, { k: 'restart', node: n.idx });
    // The runtime's crash hint: a dead process's Raft port refuses the peers that can reach it.
    for (const x of this.nodes) {
      if (x === n || x.core === null || !this.net.canReach(x.id, n.id)) continue;
      this.q.schedule(now + 2 * this.profile.link.latencyMs, { k: 'unreachable', node: x.idx, peer: n.id });
    }
  }

  // ------------------------------------------------------------------------ faults

  /** The configuration of the node that has applied the most: the latest committed one. */
  private committedConf(): ConfState {
    let best = this.nodes[0]!;
    for (const n of this.nodes) if (n.applied > best.applied) best = n;
    return best.conf;
  }

  private view(): { nodes: NodeId[]; up: Set<NodeId>; leader: NodeId | null; voters: readonly NodeId[] } {
    let leader: NodeId | null = null;
    let best = -1;
    for (const n of this.nodes) {
      if (n.core !== null && n.role === 'leader' && n.term > best) {
        best = n.term;
        leader = n.id;
      }
    }
    return {
      nodes: this.nodes.map((n) => n.id),
      up: new Set(this.nodes.filter((n) => n.core).map((n) => n.id)),
      leader,
      voters: this.committedConf().voters,
    };
  }

  private applyFault(a: FaultAction, now: number): void {
    if (a.kind === 'none') return;
    this.stats.faults++;
    this.log(`t=${fmt(now)} FAULT ${describeFault(a)}`);
    switch (a.kind) {
      case 'partition':
        this.net.heal();
        this.net.partition(a.groups);
        return;
      case 'bridge':
        this.net.heal();
        for (const l of a.left) {
          for (const r of a.right) {
            this.net.cutLink(l, r);
            this.net.cutLink(r, l);
          }
        }
        return;
      case 'heal':
        this.net.heal();
        return;
      case 'crash':
        this.crash(this.byId.get(a.node)!, a.downMs, now);
        return;
      case 'conf': {
        const n = this.byId.get(a.leader)!;
        if (n.core === null) return;
        const r = n.core.proposeConfChange({ type: a.change, node: a.node }, this.localNow(n, now));
        if (!r.ok) this.log(`t=${fmt(now)} conf change refused: ${r.reason}`);
        this.process(n, now);
        return;
      }
      case 'unreachable':
        this.q.schedule(now, { k: 'unreachable', node: this.byId.get(a.node)!.idx, peer: a.peer });
        return;
      case 'transfer': {
        const n = this.byId.get(a.from)!;
        if (n.core === null) return;
        n.core.transferLeadership(a.to, this.localNow(n, now));
        this.process(n, now);
        return;
      }
    }
  }

  // ------------------------------------------------------------------------ clients

  private clientStep(ci: number, now: number): void {
    const c = this.clients[ci]!;
    if (c.busy !== null || c.stopped) return;
    if (!this.chaos && this.progressIndex > 0) {
      c.stopped = true;
      return;
    }
    const op = nextOp(this.clientRng, this.mix);
    const up = this.nodes.filter((n) => n.core !== null);
    let target = c.leaderHint !== null ? this.nodes[c.leaderHint]! : undefined;
    if (target === undefined || target.core === null || this.clientRng.next() < 0.1) {
      target = up.length > 0 ? up[this.clientRng.int(0, up.length - 1)] : undefined;
    }
    if (target === undefined || target.core === null) {
      this.q.schedule(now + 20, { k: 'client', c: ci });
      return;
    }
    const p: PendingOp = { client: ci, seq: ++c.seq, op, call: now, node: target.idx };
    const core = target.core;
    const local = this.localNow(target, now);
    if (op.kind === 'read') {
      const requestId = `c${ci}.${p.seq}`;
      const r = core.readIndex(requestId, local);
      if (!r.ok) return this.redirect(c, ci, r.leader, now);
      target.reads.set(requestId, p);
    } else {
      const r = core.propose(this.codec.encode(op), local);
      if (!r.ok) return this.redirect(c, ci, r.leader, now);
      p.index = r.index;
      p.term = r.term;
      target.proposals.set(r.index, p);
    }
    this.stats.ops++;
    c.busy = p;
    c.leaderHint = target.idx;
    this.q.schedule(now + this.o.clientTimeoutMs, { k: 'timeout', c: ci, seq: p.seq });
    if (this.o.bug === 'ack-before-commit' && op.kind === 'write') {
      this.checker.observeAck(p.index!, p.term!);
      this.finish(p, now, { kind: 'write' }, 'acked early (bug)');
    }
    this.process(target, now);
  }

  private redirect(c: ClientState, ci: number, leader: NodeId | null, now: number): void {
    c.leaderHint = leader === null ? null : (this.byId.get(leader)?.idx ?? null);
    this.q.schedule(now + (leader === null ? 20 : 1), { k: 'client', c: ci });
  }

  /** Ends a client operation: `result` null = unknown outcome, 'dropped' = definitely did not happen. */
  private finish(
    p: PendingOp,
    now: number,
    result: ReturnType<SimStateMachine['apply']> | 'dropped',
    why: string,
  ): void {
    const c = this.clients[p.client]!;
    if (c.busy === null || c.busy.seq !== p.seq) return;
    c.busy = null;
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
        this.log(`t=${fmt(now)} progress after healing: ${describeOp(op)} committed at ${p.index ?? '?'}`);
      }
    }
    if (this.traceMessages)
      this.log(
        `t=${fmt(now)} client ${p.client} ${describeOp(op)} -> ${result === null ? 'unknown' : JSON.stringify(result)} (${why})`,
      );
    if (!c.stopped) {
      const [lo, hi] = this.o.thinkMs;
      this.q.schedule(now + lo + this.clientRng.next() * (hi - lo), { k: 'client', c: p.client });
    }
  }

  // ------------------------------------------------------------------------ end of run

  private settled(): boolean {
    if (this.progressIndex === 0) return false;
    if (this.clients.some((c) => c.busy !== null)) return false;
    const target = Math.max(...this.nodes.map((n) => n.applied));
    return this.nodes.every((n) => n.core !== null && n.applied === target);
  }

  private finalChecks(): void {
    this.checker.checkAckedApplied();
    const images = this.nodes.map((n) => Buffer.from(n.sm.snapshot()).toString('base64'));
    const first = images[0];
    images.forEach((img, i) => {
      if (img !== first) {
        throw new InvariantViolation(
          'replica-divergence',
          `${this.nodes[i]!.id} and ${this.nodes[0]!.id} have different state after convergence`,
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
    this.stats.simMs = this.stats.simMs || this.q.now;
    this.stats.checks = this.checker.checks;
    return {
      seed: this.o.seed,
      ok: v === null,
      ...(v ? { invariant: v.invariant, message: v.message } : {}),
      traceTail: this.trace.tail(),
      stats: this.stats,
      writeLatencies: this.writeLatencies,
      chaosEndMs: this.o.chaosMs,
    };
  }

  private localNow(n: SimNode, now: number): number {
    return now * n.rate;
  }

  private log(line: string): void {
    this.trace.add(line);
  }
}

function fmt(t: number): string {
  return t.toFixed(1);
}

function summarize(m: RaftMessage): string {
  switch (m.type) {
    case 'append_entries':
      return `append t${m.term} prev ${m.prevLogIndex}/${m.prevLogTerm} +${m.entries.length} commit ${m.commit}`;
    case 'append_entries_response':
      return `append_resp t${m.term} ${m.success ? 'ok' : 'reject'} match ${m.matchIndex}`;
    case 'request_vote':
      return `${m.preVote ? 'prevote' : 'vote'} req t${m.term} last ${m.lastLogIndex}/${m.lastLogTerm}`;
    case 'request_vote_response':
      return `${m.preVote ? 'prevote' : 'vote'} resp t${m.term} ${m.granted ? 'granted' : 'denied'}`;
    default:
      return `${m.type} t${m.term}`;
  }
}

/** Convenience wrapper. */
export function runSimulation(opts: SimOptions): SimResult {
  return new RaftSimulation(opts).run();
}
