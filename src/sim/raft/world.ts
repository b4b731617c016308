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
import { RaftDriver } from '../../driver/raft-driver.js';
import { ENCRYPTION_OVERHEAD } from '../../net/crypto.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../net/framing.js';
import { raftCodec } from '../../net/raft-codec.js';
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
  /** Clock rate per node (1 = true time). */
  readonly clockRates?: readonly number[];
  /** The transport's frame limit (default: the TCP transport's). */
  readonly maxFrameBytes?: number;
  /** Disks that acknowledge syncs they never perform. */
  readonly lyingSync?: boolean;
  readonly traceSink?: (line: string) => void;
}

export interface WorldStats {
  events: number;
  messages: number;
  oversize: number;
  bytesSent: number;
  elections: number;
  crashes: number;
  refusedStarts: number;
  storageFailures: number;
}

export class SimNode {
  readonly fs: SimFs;
  /** Incarnation: bumped by every boot and crash; callbacks of an older one do nothing. */
  inc = 0;
  up = false;
  /** The node refused to start (corrupted synced data) and stays down. */
  refused = false;
  driver: RaftDriver | null = null;
  applier: KvApplier | null = null;
  role = 'down';
  term = 0;
  /** Highest index whose application was observed (the checker sees every one, in order). */
  observed = 0;
  /** Configuration as of the applied index. */
  conf: ConfState;
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
  };
  readonly initialConf: ConfState;
  readonly maxFrameBytes: number;
  private readonly rng: Rng;
  private readonly diskRng: Rng;
  private violation: InvariantViolation | null = null;
  /** Called when a node's storage fails (fail-stop): the owner decides when it restarts. */
  onNodeStopped: (n: SimNode, why: string) => void = NO_EVENT;

  constructor(readonly cfg: WorldConfig) {
    this.rng = createRng(cfg.seed ^ 0x3c6e_f372);
    this.diskRng = createRng((cfg.seed ^ 0x5eed_d15c) >>> 0);
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

  /** Starts a node from its disk, as the daemon does: load (repairing a torn tail), core, driver. */
  async boot(n: SimNode): Promise<void> {
    if (n.up || n.refused) return;
    n.inc++;
    const inc = n.inc;
    n.up = true;
    n.role = 'starting';
    const storage = new FileRaftStorage(`/${n.id}/raft`, { fs: n.fs.view() });
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
      hooks: this.hooksFor(n, inc),
    });
    n.driver.updateTimer();
    if (n.fs.stats.crashes > 0 || recovered.entries.length > 0) {
      this.log(
        `t=${fmt(this.now)} ${n.id} starts: term ${recovered.hardState.term} vote ${recovered.hardState.vote ?? '-'} ` +
          `commit ${recovered.hardState.commit}, snapshot ${recovered.snapshot?.meta.index ?? 0}, ${recovered.entries.length} entries`,
      );
    }
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
    this.log(`t=${fmt(this.now)} CRASH ${n.id} (${why}; ${lost} unsynced bytes lost or torn)`);
  }

  /**
   * Every acknowledged write must be durable on a majority of the voters' disks at any instant
   * (else a crash of the others could elect a leader without it). Read through the real recovery code.
   */
  async checkDurable(voters: readonly NodeId[]): Promise<void> {
    const images = new Map<NodeId, LogView>();
    for (const id of voters) {
      const n = this.byId.get(id);
      if (n === undefined || n.refused) continue;
      const img = await readDataDir(`/${n.id}/raft`, n.fs.cloneDurable().view()).catch(() => null);
      if (img) images.set(id, { snapshot: img.snapshot, entries: img.entries });
    }
    this.checker.checkDurable(images, voters.length - Math.floor(voters.length / 2));
  }

  // ------------------------------------------------------------------------ the driver's world

  private delaySync(fn: () => void): void {
    const [lo, hi] = this.cfg.syncMs;
    if (hi <= 0) {
      fn();
      return;
    }
    this.q.schedule(this.now + lo + this.diskRng.next() * (hi - lo), fn);
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
    };
  }

  private transportFor(n: SimNode, inc: number): DriverTransport {
    return {
      maxFrameBytes: this.maxFrameBytes,
      send: (m: RaftMessage): SendOutcome => {
        if (n.inc !== inc) return 'closed';
        const size = this.frameBytes(m);
        if (size < 0) return 'invalid';
        this.stats.messages++;
        this.stats.bytesSent += size;
        // The TCP transport drops a message whose sealed frame exceeds its limit (TcpTransport.send).
        if (size > this.maxFrameBytes) {
          this.stats.oversize++;
          return 'oversize';
        }
        for (const d of this.net.route(m.from, m.to, size))
          this.q.schedule(this.now + d, () => this.deliver(m));
        return 'queued';
      },
    };
  }

  private deliver(m: RaftMessage): void {
    const to = this.byId.get(m.to);
    if (to === undefined || to.driver === null) return;
    // A partition that started while the message was in flight still cuts it.
    if (!this.net.canReach(m.from, m.to)) return;
    to.driver.receive(m);
  }

  /**
   * The sealed frame size the TCP transport would see: estimated for small messages, encoded with
   * the real codec near the limit. -1 when the codec refuses the message (it would not be sent).
   */
  private frameBytes(m: RaftMessage): number {
    let est = 96;
    if (m.type === 'append_entries') for (const e of m.entries) est += e.data.byteLength + 24;
    else if (m.type === 'install_snapshot') est += m.snapshot.data.byteLength + 256;
    if (est < this.maxFrameBytes * 0.9) return est + ENCRYPTION_OVERHEAD;
    try {
      return raftCodec.encode(m).byteLength + ENCRYPTION_OVERHEAD;
    } catch {
      return -1;
    }
  }

  private hooksFor(n: SimNode, inc: number): ConstructorParameters<typeof RaftDriver>[0]['hooks'] {
    const live = (): boolean => n.inc === inc;
    return {
      onPersisted: (rd: Ready) => {
        if (!live()) return;
        if (rd.hardState) this.checker.observeTerm(rd.hardState.term);
        if (rd.entries.length > 0) {
          const core = n.core!;
          this.guard(() => this.checker.observeStored(n.id, rd.entries, (i) => core.termAt(i)));
        }
      },
      onApplied: (rd: Ready) => {
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
        }
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
