/**
 * A tiny deterministic network of RaftNodes for the paper-section tests, each
 * run by the one Ready loop (src/driver/raft-driver.ts) over an in-memory
 * Storage, a queueing Transport and a virtual Clock. Messages are delivered
 * (in FIFO order) unless a link is cut; time advances in fixed steps. The
 * Storage writes every Ready to an in-memory disk before the driver sends its
 * (non-early) messages, and checks election safety and leader completeness
 * there; state-machine safety is checked as each Ready is applied.
 */
import { createRng } from '../../src/common/rng.js';
import type { DriverClock, DriverStorage, DriverTransport } from '../../src/driver/interfaces.js';
import { RaftDriver } from '../../src/driver/raft-driver.js';
import type { KvApplier } from '../../src/raft/kv-applier.js';
import { RaftNode, type RaftNodeOptions, type Ready } from '../../src/raft/raft-node.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import type { ConfState, Entry, HardState, NodeId, ReadState, Snapshot } from '../../src/raft/types.js';

export interface Disk {
  hardState: HardState;
  entries: Entry[];
  snapshot: Snapshot | null;
  /** Set by loseTail (storage found damage in synced bytes); cleared when the node reports it caught up. */
  recoveringUntil?: number;
}

export type NodeOpts = Partial<Omit<RaftNodeOptions, 'id' | 'rng'>>;

const DEFAULTS = {
  electionTimeoutMinMs: 150,
  electionTimeoutMaxMs: 300,
  heartbeatIntervalMs: 50,
};

/** The tick period the drivers ask for; the harness fires every tick callback at each `advance` step. */
const TICK_MS = 10;

/** One live node: its driver and what the harness needs to stop talking to it on a crash. */
interface Live {
  readonly driver: RaftDriver;
  /** Tick callbacks the driver registered on the virtual clock. */
  readonly ticks: Set<() => void>;
  /** alive is false once crashed: an abandoned driver's late writes, sends and applies are dropped. */
  readonly link: { alive: boolean };
}

export class TestCluster {
  now = 0;
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly disks = new Map<NodeId, Disk>();
  /** Applied entries per node, by index (kept across restarts so re-application is checked too). */
  readonly applied = new Map<NodeId, Map<number, Entry>>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Every message ever sent, for tests that inspect traffic. */
  readonly sent: RaftMessage[] = [];
  /** Leaders seen per term: election safety. */
  readonly leadersByTerm = new Map<number, NodeId>();
  /** The replicated "state machine" of each node: payloads in apply order, restored from snapshots. */
  readonly state = new Map<NodeId, string[]>();
  /** Every entry any node has applied. */
  readonly committedEver = new Map<number, Entry>();
  private queue: RaftMessage[] = [];
  private readonly cut = new Set<string>();
  private readonly rng;
  /** Deliver one of the first `reorderWindow` queued messages at random (1 = FIFO). */
  reorderWindow = 1;
  /** Probability that a delivered message is delivered again later. */
  duplicate = 0;
  /**
   * Complete each persist only at the next delivery round: the driver holds the Ready between
   * ready() and advance() meanwhile, so messages are stepped into the node in between.
   */
  slowDisk = false;
  /** Persists written to the disk whose completion is held back (slowDisk), per node. */
  private readonly held = new Map<NodeId, () => void>();
  private readonly live = new Map<NodeId, Live>();
  /** The first error a driver's loop stopped on (a broken invariant): rethrown to the test. */
  private failure: unknown = null;
  /** Extra filter: return false to drop a message. */
  filter: (m: RaftMessage) => boolean = () => true;

  constructor(
    private readonly seed: number,
    private readonly nodeOpts: NodeOpts = {},
  ) {
    this.rng = createRng(seed);
  }

  /** Create (or re-create from its disk) a node, run by its own RaftDriver. */
  start(id: NodeId, initialConf?: ConfState, opts: NodeOpts = {}): RaftNode {
    const disk = this.disks.get(id) ?? {
      hardState: { term: 0, vote: null, commit: 0 },
      entries: [],
      snapshot: null,
    };
    this.disks.set(id, disk);
    const node = new RaftNode(
      { id, rng: this.rng.fork(), ...DEFAULTS, ...this.nodeOpts, ...opts },
      {
        hardState: disk.hardState,
        snapshot: disk.snapshot,
        entries: [...disk.entries],
        ...(disk.recoveringUntil ? { recoveringUntil: disk.recoveringUntil } : {}),
      },
      initialConf,
    );
    this.nodes.set(id, node);
    if (!this.applied.has(id)) this.applied.set(id, new Map());
    this.state.set(id, disk.snapshot ? decodeImage(disk.snapshot.data) : []);

    const ticks = new Set<() => void>();
    const clock: DriverClock = {
      now: () => this.now,
      preciseNow: () => this.now,
      nextTurn: () => Promise.resolve(),
      every: (_ms, fn) => {
        ticks.add(fn);
        return () => ticks.delete(fn);
      },
    };
    // Shared by the closures below; crash() flips it, so an abandoned driver's late work is ignored.
    const link = { alive: true };
    const storage: DriverStorage = {
      persist: (rd) => {
        // A crashed node's driver never gets past this write (its messages never leave).
        if (!link.alive) return new Promise<void>(() => {});
        this.persistReady(id, node, rd);
        if (!this.slowDisk) return Promise.resolve();
        return new Promise<void>((resolve) => this.held.set(id, resolve));
      },
      prepareSnapshot: () => Promise.resolve(null),
      saveSnapshot: () => Promise.resolve(),
    };
    const transport: DriverTransport = {
      maxFrameBytes: Number.MAX_SAFE_INTEGER,
      send: (m) => {
        if (!link.alive) return 'closed';
        this.sent.push(m);
        this.queue.push(m);
        return 'queued';
      },
    };
    // The harness's state machine is the list of payloads; the driver only calls apply() while
    // snapshotEvery is 0 (compaction is the tests' own, see compact()).
    const applier = {
      apply: (rd: Ready) => {
        if (link.alive) this.applyReady(id, rd);
      },
    } as unknown as KvApplier;
    const driver = new RaftDriver({
      core: node,
      storage,
      transport,
      clock,
      applier,
      tickMs: TICK_MS,
      snapshotEvery: 0,
      // Learners tick too: the tests check they never start elections.
      hooks: {
        shouldTick: () => true,
        onFailure: (err) => {
          this.failure ??= err;
        },
      },
    });
    this.live.set(id, { driver, ticks, link });
    driver.updateTimer();
    return node;
  }

  /** Start every id with the same bootstrap configuration of voters (and learners). */
  static boot(ids: NodeId[], seed = 1, opts: NodeOpts = {}, learners: NodeId[] = []): TestCluster {
    const c = new TestCluster(seed, opts);
    const conf = { voters: [...ids], learners: [...learners] };
    for (const id of [...ids, ...learners]) c.start(id, conf);
    return c;
  }

  crash(id: NodeId): void {
    this.nodes.delete(id);
    const l = this.live.get(id);
    if (l) {
      // The driver is abandoned mid-loop if it was persisting: that write is on the disk, but the
      // rest of its Ready never happens.
      l.link.alive = false;
      l.ticks.clear();
      l.driver.core = null;
      this.live.delete(id);
    }
    this.held.delete(id);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  /**
   * A crashed node's storage finds its last `k` synced entries damaged and cuts them (what a bit
   * flip in the WAL tail does): they may have been acknowledged, so the node restarts recovering
   * until the index it held (docs/storage.md "Torn or corrupt"). Returns whether anything was cut.
   */
  loseTail(id: NodeId, k: number): boolean {
    const disk = this.disks.get(id);
    if (!disk || this.nodes.has(id) || disk.entries.length === 0) return false;
    const last = disk.entries[disk.entries.length - 1]!.index;
    disk.entries = disk.entries.slice(0, Math.max(0, disk.entries.length - k));
    const kept = disk.entries[disk.entries.length - 1]?.index ?? disk.snapshot?.meta.index ?? 0;
    disk.hardState = { ...disk.hardState, commit: Math.min(disk.hardState.commit, kept) };
    disk.recoveringUntil = Math.max(disk.recoveringUntil ?? 0, last);
    return true;
  }

  node(id: NodeId): RaftNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no live node ${id}`);
    return n;
  }

  isolate(id: NodeId): void {
    for (const other of this.disks.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /**
   * Complete the held persists (slow disk), wake every driver (tests call the cores directly:
   * propose, readIndex, transfers) and wait until each has run its Ready loop dry or is waiting
   * on a held persist.
   */
  async processReadies(): Promise<void> {
    const held = [...this.held.values()];
    this.held.clear();
    for (const resolve of held) resolve();
    for (const l of this.live.values()) l.driver.kick();
    await this.settle();
  }

  /** Every driver idle, or blocked on a persist the slow disk holds back. */
  private async settle(): Promise<void> {
    for (let i = 0; ; i++) {
      if (this.failure !== null) throw this.failure;
      let busy = false;
      for (const [id, l] of this.live) if (l.driver.busy && !this.held.has(id)) busy = true;
      if (!busy) return;
      if (i > 10_000) throw new Error('driver loop did not settle');
      // The virtual clock's turns and the memory disk are promise-based: one macrotask drains them.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Step 1 of the driver contract: make the Ready's state durable (and check the leader invariants). */
  private persistReady(id: NodeId, n: RaftNode, rd: Ready): void {
    const disk = this.disks.get(id);
    if (!disk) throw new Error('no disk');
    if (rd.snapshot) {
      const { index, term } = rd.snapshot.meta;
      // Figure 13, rule 6: keep later entries only if the log agrees at the snapshot's index.
      const agrees = disk.entries.some((e) => e.index === index && e.term === term);
      disk.snapshot = rd.snapshot;
      disk.entries = agrees ? disk.entries.filter((e) => e.index > index) : [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState) disk.hardState = rd.hardState;
    if (rd.recovered) delete disk.recoveringUntil;
    if (rd.softState?.role === 'leader') {
      const term = n.status().term;
      const prev = this.leadersByTerm.get(term);
      if (prev !== undefined && prev !== id)
        throw new Error(`election safety: ${prev} and ${id} lead term ${term}`);
      this.leadersByTerm.set(term, id);
      // Leader completeness: a new leader holds every entry anyone has applied.
      const snapIndex = n.status().snapshotIndex;
      for (const [i, e] of this.committedEver) {
        if (i > snapIndex && n.termAt(i) !== e.term) {
          throw new Error(`leader completeness: ${id} (term ${term}) lacks committed entry ${i}`);
        }
      }
    }
  }

  /** The applier's duties: restore, apply (checking state-machine safety), record reads. */
  private applyReady(id: NodeId, rd: Ready): void {
    if (rd.snapshot) this.state.set(id, decodeImage(rd.snapshot.data));
    const applied = this.applied.get(id)!;
    for (const e of rd.committed) {
      this.checkApply(id, e);
      applied.set(e.index, e);
      if (e.type === 0 && e.data.length > 0) this.state.get(id)!.push(new TextDecoder().decode(e.data));
      this.committedEver.set(e.index, e);
    }
    if (rd.readStates.length > 0) {
      const rs = this.readStates.get(id) ?? [];
      rs.push(...rd.readStates);
      this.readStates.set(id, rs);
    }
  }

  /** State machine safety: no two nodes apply different entries at one index. */
  private checkApply(id: NodeId, e: Entry): void {
    for (const [other, m] of this.applied) {
      const o = m.get(e.index);
      if (o && (o.term !== e.term || !sameBytes(o.data, e.data))) {
        throw new Error(`state machine safety: ${id} and ${other} differ at ${e.index}`);
      }
    }
  }

  /** Deliver queued messages (and the ones they trigger) until quiet; bounded. */
  async deliver(maxMessages = 100_000): Promise<void> {
    let budget = maxMessages;
    await this.processReadies();
    while (this.queue.length > 0 || this.held.size > 0) {
      if (budget-- <= 0) {
        const tail = this.queue
          .slice(0, 12)
          .map((m) => JSON.stringify({ ...m, entries: undefined, snapshot: undefined }));
        throw new Error(`message storm: delivery budget exhausted; queue head:\n${tail.join('\n')}`);
      }
      if (this.queue.length === 0) {
        await this.processReadies();
        continue;
      }
      const pickAt =
        this.reorderWindow > 1 ? this.rng.int(0, Math.min(this.reorderWindow, this.queue.length) - 1) : 0;
      const m = this.queue.splice(pickAt, 1)[0]!;
      if (this.duplicate > 0 && this.rng.next() < this.duplicate) this.queue.push(m);
      const to = this.live.get(m.to);
      if (!to || this.cut.has(`${m.from}>${m.to}`) || !this.filter(m)) continue;
      to.driver.receive(m);
      await this.processReadies();
    }
  }

  /** Let `ms` of virtual time pass in `step`-ms ticks (every driver's tick fires), delivering after each. */
  async advance(ms: number, step = TICK_MS): Promise<void> {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + step);
      for (const l of [...this.live.values()]) for (const fn of [...l.ticks]) fn();
      await this.deliver();
    }
  }

  /** The live node that believes it leads in the highest term, if any. */
  leader(): RaftNode | undefined {
    let best: RaftNode | undefined;
    for (const n of this.nodes.values()) {
      const s = n.status();
      if (s.role === 'leader' && (!best || s.term > best.status().term)) best = n;
    }
    return best;
  }

  /** Advance until some node leads; bounded. */
  async electLeader(maxMs = 5000): Promise<RaftNode> {
    for (let t = 0; t < maxMs; t += 10) {
      const l = this.leader();
      if (l) return l;
      await this.advance(10);
    }
    throw new Error('no leader elected');
  }

  async propose(text: string): Promise<{ index: number; term: number }> {
    const l = this.leader();
    if (!l) throw new Error('no leader');
    const r = l.propose(new TextEncoder().encode(text), this.now);
    if (!r.ok) throw new Error(`proposal refused: ${r.reason}`);
    await this.deliver();
    return { index: r.index, term: r.term };
  }

  /** Application payloads applied by `id` (through snapshots too), in order. */
  appliedTexts(id: NodeId): string[] {
    return [...(this.state.get(id) ?? [])];
  }

  /** Take a snapshot at `id`'s applied index, save it to its disk and compact. */
  compact(id: NodeId): boolean {
    const n = this.node(id);
    const s = n.status();
    if (s.applied <= s.snapshotIndex) return false;
    const snap = n.createSnapshot(s.applied, text(JSON.stringify(this.state.get(id))));
    const disk = this.disks.get(id)!;
    disk.snapshot = snap;
    disk.entries = disk.entries.filter((e) => e.index > snap.meta.index);
    n.compact(snap);
    return true;
  }

  /** Log matching: if two logs hold an entry with the same index and term, they agree on everything before it. */
  checkLogMatching(): void {
    const logs = [...this.disks.entries()].map(
      ([id, d]) => [id, new Map(d.entries.map((e) => [e.index, e]))] as const,
    );
    for (const [a, la] of logs) {
      for (const [b, lb] of logs) {
        if (a >= b) continue;
        const maxCommon = Math.max(0, ...[...la.keys()].filter((i) => lb.get(i)?.term === la.get(i)?.term));
        for (let i = 1; i <= maxCommon; i++) {
          const ea = la.get(i);
          const eb = lb.get(i);
          if (ea && eb && ea.term !== eb.term)
            throw new Error(`log matching: ${a} and ${b} differ at ${i} below ${maxCommon}`);
        }
      }
    }
  }
}

function decodeImage(data: Uint8Array): string[] {
  return JSON.parse(new TextDecoder().decode(data)) as string[];
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
