/**
 * The simulated world the Raft simulator runs nodes in: each node is the
 * production stack (RaftDriver + RaftNode + KvApplier + FileRaftStorage) over a
 * simulated file system (disk/sim-fs.ts), a simulated network that enforces
 * the TCP transport's real frame limit, and a virtual clock. Everything
 * asynchronous (fsyncs, the driver's next-turn yields, timers, deliveries) is
 * an event on one agenda; after each event the world lets every promise chain
 * that event started run to completion, so a run is a pure function of its seed.
 *
 * Safety invariants are observed through the driver's hooks as the run goes
 * (see invariants.ts); a violation is recorded and thrown by the run loop.
 */
import { createRng, type Rng } from '../../common/rng.js';
import { walStorage } from '../../driver/file-storage.js';
import type { DriverClock, DriverTransport, SendOutcome } from '../../driver/interfaces.js';
import { RaftDriver, type Applied } from '../../driver/raft-driver.js';
import { ENCRYPTION_OVERHEAD } from '../../net/crypto.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../net/framing.js';
import { RAFT_LIMITS, raftCodec } from '../../net/raft-codec.js';
import { decodeConfChange } from '../../raft/confchange.js';
import { KvApplier } from '../../raft/kv-applier.js';
import type { RaftMessage } from '../../raft/messages.js';
import { RaftNode, type Ready } from '../../raft/raft-node.js';
import { SnapshotCorruptionError, StorageError, WalCorruptionError } from '../../raft/storage/errors.js';
import { FileRaftStorage, readDataDir } from '../../raft/storage/file-storage.js';
import { EntryType, type ConfState, type NodeId } from '../../raft/types.js';
import { SimFs } from '../disk/sim-fs.js';
import { EventQueue } from '../event-queue.js';
import { SimNetwork, type LinkModel } from '../network.js';
import { InvariantChecker, InvariantViolation, type LogView } from './invariants.js';

export interface WorldConfig {
  readonly seed: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxEntriesPerMsg?: number;
  readonly maxInflightMsgs?: number;
  readonly commitNotifyDelayMs?: number;
  readonly heartbeatMs: number;
  readonly electionMinMs: number;
  readonly electionMaxMs: number;
  readonly tickMs: number;
  /** Applied entries between snapshots (0: never). */
  readonly snapshotEvery: number;
  /** Snapshot rows encoded per turn (the daemon's 1000 unless a test wants finer interleaving). */
  readonly snapshotRowsPerTurn?: number;
  readonly link: LinkModel;
  /** How long an fsync takes, ms, uniform in [lo, hi]. */
  readonly syncMs: readonly [number, number];
  /** [p, k]: an fsync takes k times as long with probability p (default none). */
  readonly syncSpike?: readonly [number, number];
  /** The driver's asyncLeaderPersist (default off). */
  readonly asyncLeaderPersist?: boolean;
  /** Clock rate per node (1 = true time). */
  readonly clockRates?: readonly number[];
  /** The transport's frame limit (default: the TCP transport's). */
  readonly maxFrameBytes?: number;
  /** Disks that acknowledge syncs they never perform. */
  readonly lyingSync?: boolean;
  /**
   * Check at each restart that the node kept every vote and acknowledgement it sent (default true).
   * Off for scenarios that make a disk lose acknowledged data on purpose.
   */
  readonly checkPromises?: boolean;
  /**
   * Messages cut by a partition wait in the sender's queue and arrive once the link heals, as the TCP
   * transport's per-peer queue does while it redials; a deposed leader's appends then land late.
   */
  readonly holdAcrossPartitions?: boolean;
  readonly traceSink?: (line: string) => void;
}

export interface WorldStats {
  events: number;
  messages: number;
  /** Messages over the frame limit, or whose payload the codec refuses (RAFT_LIMITS): never sent. */
  oversize: number;
  bytesSent: number;
  elections: number;
  crashes: number;
  refusedStarts: number;
  storageFailures: number;
  /** Entries leaders applied on their followers' quorum while their own fsync ran. */
  appliedAhead: number;
}

export class SimNode {
  readonly fs: SimFs;
  /** Incarnation: bumped by every boot and crash; callbacks of an older one do nothing. */
  inc = 0;
  up = false;
  /** The node refused to start (corrupted synced data) and stays down. */
  refused = false;
  /** A bit of its synced data was flipped (the `corrupt` fault). */
  corrupted = false;
  driver: RaftDriver | null = null;
  applier: KvApplier | null = null;
  role = 'down';
  term = 0;
  /** Highest index whose application was observed (the checker sees every one, in order). */
  observed = 0;
  /** Configuration as of the applied index. */
  conf: ConfState;
  /** The last vote this node cast on the wire: it must survive any crash. */
  votedOnWire: { term: number; candidate: NodeId } | null = null;
  /** The highest index this node acknowledged on the wire (lowered when it rewrites its log below). */
  ackedOnWire = 0;
  /** The term of the leader those acknowledgements went to. */
  ackedTerm = 0;
  /** What this node's disk holds durably, as its driver reported it (see SimWorld.checkSend). */
  durable = { term: 0, vote: null as NodeId | null, lastIndex: 0, lastTerm: 0 };
  /** A leader's commit index as last checked (see SimWorld.checkCommitSafe). */
  checkedCommit = 0;
  /** The terms of the durable log as the driver reported it: index base+1+k has term terms[k]. */
  durableLog = { base: 0, baseTerm: 0, terms: [] as number[] };
  /** When the node last crashed or refused; boots are scheduled by the world's owner. */
  downSince = 0;

  constructor(
    readonly id: NodeId,
    readonly idx: number,
    readonly rate: number,
    rng: Rng,
    conf: ConfState,
    delaySync: (fn: () => void) => void,
    lyingSync: boolean,
  ) {
    this.fs = new SimFs({ rng, delaySync, lyingSync });
    this.conf = conf;
  }

  get core(): RaftNode | null {
    return this.driver?.core ?? null;
  }
}

const NO_EVENT = (): void => undefined;
const EMPTY = new Uint8Array(0);

/** Size of msgpack's bin header for a payload of `n` bytes. */
function binHeader(n: number): number {
  return n < 256 ? 2 : n < 65536 ? 3 : 5;
}

/** Lets every promise chain started by the last event run to completion (no real I/O is involved). */
function drain(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

export class SimWorld {
  readonly q = new EventQueue<() => void>();
  readonly net: SimNetwork<NodeId>;
  readonly nodes: SimNode[] = [];
  readonly byId = new Map<NodeId, SimNode>();
  readonly checker = new InvariantChecker();
  readonly stats: WorldStats = {
    events: 0,
    messages: 0,
    oversize: 0,
    bytesSent: 0,
    elections: 0,
    crashes: 0,
    refusedStarts: 0,
    storageFailures: 0,
    appliedAhead: 0,
  };
  readonly initialConf: ConfState;
  readonly maxFrameBytes: number;
  /** Messages waiting behind a partition (see WorldConfig.holdAcrossPartitions), oldest first. */
  private held: RaftMessage[] = [];
  private readonly rng: Rng;
  private readonly diskRng: Rng;
  private readonly spikeRng: Rng;
  private violation: InvariantViolation | null = null;
  /** Called when a node's storage fails (fail-stop): the owner decides when it restarts. */
  onNodeStopped: (n: SimNode, why: string) => void = NO_EVENT;
  /** Called when a node has just become leader (after its election Ready). */
  onLeader: (n: SimNode) => void = NO_EVENT;
  /** Called when a node's driver exists after a boot (scenarios attach node-side components). */
  onBoot: (n: SimNode) => void = NO_EVENT;
  /** Called after each soft-state change of a node (role, known leader). */
  onSoftState: (n: SimNode) => void = NO_EVENT;
  /** Called after each Ready a node applied. */
  onApplied: (n: SimNode) => void = NO_EVENT;
  /** Called when a leader applied entries on its followers' quorum while its own fsync runs. */
  onAppliedAhead: (n: SimNode) => void = NO_EVENT;

  constructor(readonly cfg: WorldConfig) {
    this.rng = createRng(cfg.seed ^ 0x3c6e_f372);
    this.diskRng = createRng((cfg.seed ^ 0x5eed_d15c) >>> 0);
    this.spikeRng = createRng((cfg.seed ^ 0x0b5e_55ed) >>> 0);
    this.net = new SimNetwork<NodeId>(this.rng.fork(), cfg.link);
    this.maxFrameBytes = cfg.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.initialConf = { voters: [...cfg.voters], learners: [...cfg.learners] };
    [...cfg.voters, ...cfg.learners].forEach((id, idx) => {
      const n = new SimNode(
        id,
        idx,
        cfg.clockRates?.[idx] ?? 1,
        this.rng.fork(),
        this.initialConf,
        (fn) => this.delaySync(fn),
        cfg.lyingSync === true,
      );
      this.nodes.push(n);
      this.byId.set(id, n);
    });
  }

  get now(): number {
    return this.q.now;
  }

  node(id: NodeId): SimNode {
    const n = this.byId.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  at(t: number, fn: () => void): void {
    this.q.schedule(t, fn);
  }

  log(line: string): void {
    this.cfg.traceSink?.(line);
    this.traceLines.push(line);
    if (this.traceLines.length > 400) this.traceLines.splice(0, 200);
  }

  readonly traceLines: string[] = [];

  /** Records a violation found inside a promise chain; the run loop throws it after the event. */
  fail(v: unknown): void {
    if (this.violation !== null) return;
    this.violation =
      v instanceof InvariantViolation
        ? v
        : new InvariantViolation(
            'exception',
            `driver or core threw: ${v instanceof Error ? (v.stack ?? v.message) : String(v)}`,
          );
  }

  /** The live node that leads in the highest term, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes) {
      if (n.core?.isLeader === true && (best === null || n.term > best.term)) best = n;
    }
    return best;
  }

  /** Runs events until `until` (virtual ms) or until `stop` holds after an event. */
  async run(until: number, stop?: () => boolean): Promise<void> {
    for (;;) {
      if (this.violation) throw this.violation;
      const t = this.q.peekTime();
      if (t === undefined || t > until) {
        this.q.advanceTo(until);
        return;
      }
      const ev = this.q.pop()!;
      this.stats.events++;
      try {
        ev.payload();
      } catch (err) {
        this.fail(err);
      }
      await drain();
      if (this.violation) throw this.violation;
      if (stop?.()) return;
    }
  }

  // ------------------------------------------------------------------------ node lifecycle

  /**
   * Schedules a boot now. Booting reads and syncs the simulated disk, whose fsyncs complete as events:
   * callers outside the run loop use this and then run(), never `await boot()` directly.
   */
  start(n: SimNode): void {
    this.at(this.now, () => {
      this.boot(n).catch((err: unknown) => this.fail(err));
    });
  }

  /** Starts a node from its disk, as the daemon does: load (repairing a torn tail), core, driver. */
  async boot(n: SimNode): Promise<void> {
    if (n.up || n.refused) return;
    n.inc++;
    const inc = n.inc;
    n.up = true;
    n.role = 'starting';
    // Preallocated segments, off in the daemon for now, are what the simulator keeps exercising.
    const storage = new FileRaftStorage(`/${n.id}/raft`, { fs: n.fs.view(), preallocate: true });
    let recovered;
    try {
      recovered = await storage.load();
    } catch (err) {
      if (err instanceof WalCorruptionError || err instanceof SnapshotCorruptionError) {
        // The daemon refuses to start on corrupted synced data (it may have lost entries it acknowledged).
        this.stats.refusedStarts++;
        n.refused = true;
        n.up = false;
        n.role = 'refused';
        this.log(`t=${fmt(this.now)} ${n.id} refuses to start: ${err.message}`);
        return;
      }
      throw err;
    }
    if (n.inc !== inc) return;
    const lastIndex = (recovered.snapshot?.meta.index ?? 0) + recovered.entries.length;
    // A node whose recovery found damage in synced data declares it (recoveringUntil): it neither votes
    // nor counts toward a commit until caught up (Protocol-Aware Recovery), so what it lost is not a
    // broken promise. Without that declaration every vote and acknowledgement must have survived.
    if (this.cfg.checkPromises !== false && recovered.recoveringUntil === undefined)
      this.checkPromises(n, recovered.hardState.term, recovered.hardState.vote, lastIndex);
    else {
      n.ackedOnWire = Math.min(n.ackedOnWire, lastIndex);
      if (recovered.recoveringUntil !== undefined) n.votedOnWire = null;
    }
    const lastTerm =
      recovered.entries[recovered.entries.length - 1]?.term ?? recovered.snapshot?.meta.term ?? 0;
    n.durable = { term: recovered.hardState.term, vote: recovered.hardState.vote, lastIndex, lastTerm };
    n.checkedCommit = 0;
    n.durableLog = {
      base: recovered.snapshot?.meta.index ?? 0,
      baseTerm: recovered.snapshot?.meta.term ?? 0,
      terms: recovered.entries.map((e) => e.term),
    };
    const cfg = this.cfg;
    const core = new RaftNode(
      {
        id: n.id,
        electionTimeoutMinMs: cfg.electionMinMs,
        electionTimeoutMaxMs: cfg.electionMaxMs,
        heartbeatIntervalMs: cfg.heartbeatMs,
        rng: this.rng.fork(),
        preVote: cfg.preVote,
        checkQuorum: cfg.checkQuorum,
        ...(cfg.maxEntriesPerMsg !== undefined ? { maxEntriesPerMsg: cfg.maxEntriesPerMsg } : {}),
        ...(cfg.maxInflightMsgs !== undefined ? { maxInflightMsgs: cfg.maxInflightMsgs } : {}),
        ...(cfg.commitNotifyDelayMs !== undefined ? { commitNotifyDelayMs: cfg.commitNotifyDelayMs } : {}),
      },
      recovered,
      this.initialConf,
    );
    const applier = new KvApplier();
    n.observed = 0;
    n.conf = this.initialConf;
    if (recovered.snapshot) {
      applier.restore(recovered.snapshot);
      n.observed = recovered.snapshot.meta.index;
      n.conf = recovered.snapshot.meta.conf;
    }
    n.applier = applier;
    n.role = 'follower';
    n.term = recovered.hardState.term;
    n.driver = new RaftDriver({
      core,
      storage: walStorage(storage),
      transport: this.transportFor(n, inc),
      clock: this.clockFor(n, inc),
      applier,
      tickMs: cfg.tickMs,
      snapshotEvery: cfg.snapshotEvery,
      ...(cfg.snapshotRowsPerTurn !== undefined ? { snapshotRowsPerTurn: cfg.snapshotRowsPerTurn } : {}),
      asyncLeaderPersist: cfg.asyncLeaderPersist === true,
      hooks: this.hooksFor(n, inc),
    });
    n.driver.updateTimer();
    this.onBoot(n);
    if (n.fs.stats.crashes > 0 || recovered.entries.length > 0) {
      this.log(
        `t=${fmt(this.now)} ${n.id} starts: term ${recovered.hardState.term} vote ${recovered.hardState.vote ?? '-'} ` +
          `commit ${recovered.hardState.commit}, snapshot ${recovered.snapshot?.meta.index ?? 0}, ${recovered.entries.length} entries`,
      );
    }
  }

  /**
   * What a node said on the wire must survive its crash: a vote it granted (else it may vote
   * twice in one term) and the entries it acknowledged (else a leader counted a copy that is gone).
   * Raft requires both to be durable before the reply leaves (paper figure 2, "persistent state").
   */
  private checkPromises(n: SimNode, term: number, vote: NodeId | null, lastIndex: number): void {
    const v = n.votedOnWire;
    if (v !== null && (term < v.term || (term === v.term && vote !== v.candidate))) {
      throw new InvariantViolation(
        'vote-durability',
        `${n.id} granted its vote in term ${v.term} to ${v.candidate} but restarted with term ${term} vote ${vote ?? '-'}`,
      );
    }
    if (lastIndex < n.ackedOnWire) {
      throw new InvariantViolation(
        'ack-durability',
        `${n.id} acknowledged entries up to ${n.ackedOnWire} but restarted with its log ending at ${lastIndex}`,
      );
    }
  }

  private hold(m: RaftMessage): void {
    this.held.push(m);
    // Bounded, as the transport's queue is (maxQueueBytes): the oldest go first.
    if (this.held.length > 2000) this.held.splice(0, this.held.length - 2000);
  }

  /** After a change of the partitions: queued messages whose link works again are delivered. */
  releaseHeld(): void {
    if (this.held.length === 0) return;
    const still: RaftMessage[] = [];
    for (const m of this.held) {
      if (!this.net.canReach(m.from, m.to)) {
        still.push(m);
        continue;
      }
      for (const d of this.net.route(m.from, m.to)) this.q.schedule(this.now + d, () => this.deliver(m));
    }
    this.held = still;
  }

  /** Power loss: the process is gone, unsynced writes are lost or torn. */
  crash(n: SimNode, why = 'crash'): void {
    if (!n.up) return;
    this.stats.crashes++;
    const lost = n.fs.crash();
    n.inc++;
    n.up = false;
    n.driver = null;
    n.applier = null;
    n.role = 'down';
    n.downSince = this.now;
    // Its transport's queues die with the process.
    this.held = this.held.filter((m) => m.from !== n.id);
    this.log(`t=${fmt(this.now)} CRASH ${n.id} (${why}; ${lost} unsynced bytes lost or torn)`);
  }

  /**
   * Every acknowledged write must be durable on a majority of the voters' disks at any instant
   * (else a crash of the others could elect a leader without it). Read through the real recovery code.
   */
  async checkDurable(voters: readonly NodeId[]): Promise<void> {
    const images = new Map<NodeId, LogView>();
    // A disk whose recovery refuses (corruption detected) never votes again: it cannot help elect a
    // leader that lacks an entry, so it counts as holding every entry.
    let refusing = 0;
    for (const id of voters) {
      const n = this.byId.get(id);
      if (n === undefined) continue;
      if (n.refused) {
        refusing++;
        continue;
      }
      const img = await readDataDir(`/${n.id}/raft`, n.fs.cloneDurable().view()).catch(() => null);
      // A disk that recovery would mark as recovering (it lost acknowledged entries) does not vote
      // until caught up: like a refusing one, it cannot help elect a leader without an entry.
      if (img && img.recoveringUntil === 0) images.set(id, { snapshot: img.snapshot, entries: img.entries });
      else refusing++;
    }
    this.checker.checkDurable(images, voters.length - Math.floor(voters.length / 2) - refusing);
  }

  // ------------------------------------------------------------------------ the driver's world

  private delaySync(fn: () => void): void {
    const [lo, hi] = this.cfg.syncMs;
    if (hi <= 0) {
      fn();
      return;
    }
    const ms = lo + this.diskRng.next() * (hi - lo);
    // Its own generator, so that seeds without spikes keep their disk timings.
    const spike = this.cfg.syncSpike;
    const k = spike !== undefined && spike[0] > 0 && this.spikeRng.next() < spike[0] ? spike[1] : 1;
    this.q.schedule(this.now + ms * k, fn);
  }

  private clockFor(n: SimNode, inc: number): DriverClock {
    return {
      now: () => this.q.now * n.rate,
      preciseNow: () => this.q.now,
      nextTurn: () =>
        new Promise<void>((resolve) => {
          // A crashed process never gets its next turn.
          this.q.schedule(this.q.now, () => {
            if (n.inc === inc) resolve();
          });
        }),
      every: (ms, fn) => {
        let live = true;
        const period = ms / n.rate;
        const fire = (): void => {
          if (!live || n.inc !== inc) return;
          fn();
          this.q.schedule(this.q.now + period, fire);
        };
        // Nodes started together do not tick in lockstep.
        this.q.schedule(this.q.now + period * this.rng.next(), fire);
        return () => {
          live = false;
        };
      },
      after: (ms, fn) => {
        let live = true;
        this.q.schedule(this.q.now + ms / n.rate, () => {
          if (live && n.inc === inc) fn();
        });
        return () => {
          live = false;
        };
      },
    };
  }

  private transportFor(n: SimNode, inc: number): DriverTransport {
    return {
      maxFrameBytes: this.maxFrameBytes,
      send: (m: RaftMessage): SendOutcome => {
        if (n.inc !== inc) return 'closed';
        this.checkSend(n, m);
        if (m.type === 'request_vote_response' && m.granted && !m.preVote) {
          if (n.votedOnWire === null || m.term >= n.votedOnWire.term)
            n.votedOnWire = { term: m.term, candidate: m.to };
        } else if (m.type === 'append_entries_response' && m.success) {
          if (m.term > n.ackedTerm) {
            n.ackedTerm = m.term;
            n.ackedOnWire = m.matchIndex;
          } else if (m.term === n.ackedTerm && m.matchIndex > n.ackedOnWire) n.ackedOnWire = m.matchIndex;
        }
        const size = this.frameBytes(m);
        if (size < 0) {
          this.stats.oversize++;
          return 'invalid';
        }
        this.stats.messages++;
        this.stats.bytesSent += size;
        // The TCP transport drops a message whose sealed frame exceeds its limit (TcpTransport.send).
        if (size > this.maxFrameBytes) {
          this.stats.oversize++;
          return 'oversize';
        }
        if (this.cfg.holdAcrossPartitions === true && !this.net.canReach(m.from, m.to)) {
          this.hold(m);
          return 'queued';
        }
        for (const d of this.net.route(m.from, m.to, size))
          this.q.schedule(this.now + d, () => this.deliver(m));
        return 'queued';
      },
    };
  }

  /**
   * The driver contract at the moment a reply leaves: a granted vote and an acknowledged entry must
   * already be durable (a crash right now must not take them back). Checked against what the
   * driver reported persisted, so a reply sent early fails here even when no crash follows.
   */
  private checkSend(n: SimNode, m: RaftMessage): void {
    const d = n.durable;
    if (
      m.type === 'request_vote_response' &&
      m.granted &&
      !m.preVote &&
      // A disk already in a later term covers the vote: the node can never vote in that term again.
      (d.term < m.term || (d.term === m.term && d.vote !== m.to))
    ) {
      this.fail(
        new InvariantViolation(
          'vote-durability',
          `${n.id} grants its vote in term ${m.term} to ${m.to} while its disk holds term ${d.term} vote ${d.vote ?? '-'}`,
        ),
      );
    } else if (m.type === 'append_entries_response' && m.success) {
      if (m.matchIndex > d.lastIndex) {
        this.fail(
          new InvariantViolation(
            'ack-durability',
            `${n.id} acknowledges entries up to ${m.matchIndex} while its disk holds up to ${d.lastIndex}`,
          ),
        );
      }
      // A success answers an append of the same term, sent by that term's leader, whose term is durable
      // before it leads: an acknowledgement to a node still below that term answered a stale leader.
      const to = this.byId.get(m.to);
      if (to !== undefined && to.durable.term < m.term) {
        this.fail(
          new InvariantViolation(
            'stale-term-ack',
            `${n.id} acknowledges entries up to ${m.matchIndex} in term ${m.term} to ${m.to}, whose term is ${to.durable.term}`,
          ),
        );
      }
    }
  }

  private deliver(m: RaftMessage): void {
    const to = this.byId.get(m.to);
    if (to === undefined || to.driver === null) return;
    // A partition that started while the message was in flight still cuts it.
    if (!this.net.canReach(m.from, m.to)) {
      if (this.cfg.holdAcrossPartitions === true) this.hold(m);
      return;
    }
    to.driver.receive(m);
  }

  /**
   * The sealed frame size the TCP transport would see: estimated for small messages, encoded with
   * the real codec near the limit. -1 when the codec refuses the message (it would not be sent).
   */
  private frameBytes(m: RaftMessage): number {
    // msgpack adds a few bytes per entry (index, term, type, bin header): the estimate is within a few
    // percent, so only messages near the limit pay for an exact encoding.
    let est = 96;
    if (m.type === 'append_entries') for (const e of m.entries) est += e.data.byteLength + 24;
    else if (m.type === 'install_snapshot') est += m.data.byteLength + 256;
    if (est < this.maxFrameBytes * 0.9) return est + ENCRYPTION_OVERHEAD;
    // Exact without copying megabytes: encode the message with empty payloads, then add each payload
    // and the growth of its msgpack bin header (2 bytes for an empty one).
    let extra = 0;
    const payload = (d: Uint8Array): boolean => {
      if (d.byteLength > RAFT_LIMITS.dataBytes) return false;
      extra += d.byteLength + binHeader(d.byteLength) - 2;
      return true;
    };
    let skeleton: RaftMessage;
    if (m.type === 'append_entries') {
      if (!m.entries.every((e) => payload(e.data))) return -1;
      skeleton = { ...m, entries: m.entries.map((e) => ({ ...e, data: EMPTY })) };
    } else if (m.type === 'install_snapshot') {
      if (!payload(m.data)) return -1;
      skeleton = { ...m, data: EMPTY };
    } else skeleton = m;
    try {
      // The daemon stamps its cluster id on every Raft message (RaftComponent.sendTo).
      return raftCodec.encode({ ...skeleton, cluster: 'c' }).byteLength + extra + ENCRYPTION_OVERHEAD;
    } catch {
      return -1;
    }
  }

  private hooksFor(n: SimNode, inc: number): ConstructorParameters<typeof RaftDriver>[0]['hooks'] {
    const live = (): boolean => n.inc === inc;
    return {
      onPersisted: (rd: Ready) => {
        if (!live()) return;
        if (rd.hardState) {
          this.checker.observeTerm(rd.hardState.term);
          n.durable.term = rd.hardState.term;
          n.durable.vote = rd.hardState.vote;
        }
        const last = rd.entries[rd.entries.length - 1];
        const dl = n.durableLog;
        if (rd.snapshot) {
          const { index, term } = rd.snapshot.meta;
          const keep = dl.terms[index - dl.base - 1] === term ? dl.terms.slice(index - dl.base) : [];
          n.durableLog = { base: index, baseTerm: term, terms: keep };
        }
        if (last !== undefined) {
          const log = n.durableLog;
          const first = rd.entries[0]!.index;
          // A write that starts past the log's end leaves a hole no recovery could fill, and the
          // log-matching check below could not see the term before it.
          if (first > log.base + log.terms.length + 1) {
            this.fail(
              new InvariantViolation(
                'log-matching',
                `${n.id} persists entries from ${first} past its log's end ${log.base + log.terms.length}`,
              ),
            );
          }
          log.terms.length = Math.max(0, first - log.base - 1);
          for (const e of rd.entries) log.terms.push(e.term);
          n.durable.lastIndex = last.index;
          n.durable.lastTerm = last.term;
        }
        if (rd.snapshot && rd.snapshot.meta.index > n.durable.lastIndex) {
          n.durable.lastIndex = rd.snapshot.meta.index;
          n.durable.lastTerm = rd.snapshot.meta.term;
        }
        if (rd.hardState && n.core?.isLeader === true && rd.hardState.commit > n.checkedCommit) {
          n.checkedCommit = rd.hardState.commit;
          this.guard(() => this.checkCommitSafe(n, rd.hardState!.commit));
        }
        // A log rewritten below an acknowledged index (a new leader's suffix) or replaced by a snapshot
        // takes back the acknowledgement, durably, from here on.
        const first = rd.entries[0]?.index;
        if (first !== undefined && first <= n.ackedOnWire) {
          // Only a leader of a later term may make a follower drop what it acknowledged: the leader
          // it acknowledged to counted those copies toward a commit and never takes them back.
          if (n.durable.term <= n.ackedTerm) {
            this.fail(
              new InvariantViolation(
                'ack-durability',
                `${n.id} overwrites from ${first} entries it acknowledged up to ${n.ackedOnWire} in term ${n.ackedTerm}, still in that term`,
              ),
            );
          }
          n.ackedOnWire = first - 1;
        }
        if (rd.snapshot) n.ackedOnWire = 0;
        if (rd.entries.length > 0) {
          // Terms from the log as the persisted Readys left it (the world's record, not SimDisk's
          // bytes), not from the core: a core stepped during the persist (a leader's early commit)
          // may already hold a newer log.
          const dl = n.durableLog;
          const termOf = (i: number): number | undefined =>
            i === dl.base ? dl.baseTerm : i > dl.base ? dl.terms[i - dl.base - 1] : undefined;
          this.guard(() => this.checker.observeStored(n.id, rd.entries, termOf));
        }
      },
      onApplied: (rd: Applied) => {
        if (!live()) return;
        this.guard(() => {
          if (rd.snapshot && rd.snapshot.meta.index > n.observed) {
            n.observed = rd.snapshot.meta.index;
            n.conf = rd.snapshot.meta.conf;
          }
          for (const e of rd.committed) {
            if (e.index <= n.observed) continue;
            if (e.index !== n.observed + 1)
              throw new InvariantViolation(
                'state-machine-safety',
                `${n.id} asked to apply ${e.index} after ${n.observed}`,
              );
            this.checker.observeApplied(n.id, e);
            n.observed = e.index;
            if (e.type === EntryType.ConfChange) {
              n.conf = decodeConfChange(e.data).conf;
              this.log(
                `t=${fmt(this.now)} ${n.id} applies conf ${e.index}: voters ${n.conf.voters.join(',')} learners ${n.conf.learners.join(',') || '-'}`,
              );
            }
          }
        });
        this.onApplied(n);
        if (n.driver?.leaderPersistInFlight === true) {
          this.stats.appliedAhead += rd.committed.length;
          this.onAppliedAhead(n);
        }
      },
      onSoftState: (ss, term) => {
        if (!live()) return;
        n.role = ss.role;
        n.term = term;
        this.checker.observeTerm(term);
        if (ss.role === 'leader' && ss.leader === n.id) {
          const core = n.core!;
          this.stats.elections++;
          const st = core.status();
          this.log(
            `t=${fmt(this.now)} ${n.id} leads term ${term} (last ${st.lastIndex}, commit ${st.commit})`,
          );
          this.guard(() =>
            this.checker.observeLeader(n.id, term, {
              termAt: (i) => core.termAt(i),
              snapshotIndex: st.snapshotIndex,
            }),
          );
          this.onLeader(n);
        }
        this.onSoftState(n);
      },
      onFailure: (err, stage) => {
        if (!live()) return;
        if (err instanceof StorageError) {
          // Fail-stop, as the daemon does (requestShutdown): the process exits; its unsynced writes are gone.
          this.stats.storageFailures++;
          this.crash(n, `storage failed in ${stage}: ${err.message}`);
          this.onNodeStopped(n, err.message);
          return;
        }
        this.fail(err);
      },
    };
  }

  /**
   * An entry a leader counts committed must survive every future election: no voter that lacks it
   * may be at least as up to date as a majority of the voters (it could win their votes and
   * overwrite it). The commit rule of the paper (only entries of the leader's own term are
   * committed by counting, figure 8) is what makes this hold.
   */
  private checkCommitSafe(leader: SimNode, commit: number): void {
    const lc = leader.core;
    if (lc === null) return;
    const term = lc.termAt(commit);
    if (term === undefined) return;
    const voters = lc.confState.voters;
    const logs = new Map<NodeId, { lastIndex: number; lastTerm: number }>();
    for (const id of voters) {
      const v = this.byId.get(id);
      if (v === undefined || v.refused) continue;
      const st = v.core?.status();
      logs.set(id, st ? { lastIndex: st.lastIndex, lastTerm: st.lastTerm } : v.durable);
    }
    for (const id of voters) {
      const v = this.byId.get(id);
      if (v === undefined || v.refused) continue;
      // A live node campaigns with its log as it is in memory; a crashed one with what its disk kept.
      const core = v.core;
      let st: { lastIndex: number; lastTerm: number; snapshotIndex: number };
      let has: boolean;
      if (core !== null) {
        st = core.status();
        has = core.termAt(commit) === term;
      } else {
        const dl = v.durableLog;
        st = { lastIndex: v.durable.lastIndex, lastTerm: v.durable.lastTerm, snapshotIndex: dl.base };
        has = commit === dl.base ? dl.baseTerm === term : dl.terms[commit - dl.base - 1] === term;
      }
      if (commit <= st.snapshotIndex || has) continue;
      let votes = 0;
      for (const w of logs.values()) {
        if (st.lastTerm > w.lastTerm || (st.lastTerm === w.lastTerm && st.lastIndex >= w.lastIndex)) votes++;
      }
      if (votes > voters.length / 2) {
        throw new InvariantViolation(
          'commit-safety',
          `${leader.id} commits ${commit}/${term} in term ${leader.term}, but ${id} lacks it and is at least as up to date as ${votes} of ${voters.length} voters (last ${st.lastIndex}/${st.lastTerm})`,
        );
      }
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.fail(err);
    }
  }
}

export function fmt(t: number): string {
  return t.toFixed(1);
}
