/**
 * The KV requests this node takes as leader (or answers stale): proposals,
 * ReadIndex reads, and the bounded waits for a leader that the forwarder and
 * the API use to choose between serving, relaying and answering no_quorum.
 *
 * It owns no Raft state: the core and the applier are replaced when a merge
 * moves the state aside, so it reads them through its host on every call.
 */
import type { KvApplier } from '../raft/kv-applier.js';
import { encodeCommand, type JsonValue, type KvCommand, type KvRecord, type KvResult } from '../raft/kv.js';
import type { RaftNode } from '../raft/raft-node.js';
import { NoQuorumError, NotLeaderError, QuotaExceededError } from './raft-errors.js';
import type { RaftMetrics } from './raft-metrics.js';

export interface KvEntry {
  readonly key: string;
  readonly value: JsonValue;
  readonly revision: number;
}

/** What the KV service needs from the component that runs the core. */
export interface KvServiceHost {
  /** The running core, or null before start, after stop and while a merge swaps it. */
  core(): RaftNode | null;
  applier(): KvApplier;
  /** Why writes are refused right now (a yielding leader after its export), or null. */
  frozen(): string | null;
  stopping(): boolean;
  /** `raft.quota_bytes`; 0 means no quota. */
  quotaBytes(): number;
  readonly requestTimeoutMs: number;
  readonly metrics: RaftMetrics;
  /** Run a Ready loop now, so a proposal or read goes out without waiting for a tick. */
  kick(): void;
}

/** Label sets of the proposals counter, allocated once rather than per write. */
const APPLIED = { result: 'applied' } as const;
const FAILED = { result: 'failed' } as const;
const REJECTED = { result: 'rejected' } as const;

function entryOf(key: string, rec: KvRecord): KvEntry {
  return { key, value: rec.value, revision: rec.modRevision };
}

export class RaftKvService {
  private readonly host: KvServiceHost;
  private readSeq = 0;
  private readonly leaderWaiters = new Set<() => void>();

  constructor(host: KvServiceHost) {
    this.host = host;
  }

  /** Put (or compare-and-set by revision); resolves once committed and applied. */
  async put(key: string, value: JsonValue, prevRevision?: number): Promise<KvResult> {
    const cmd: KvCommand =
      prevRevision === undefined
        ? { op: 'put', key, value }
        : { op: 'cas_rev', key, expectedRevision: prevRevision, value };
    return this.propose(cmd);
  }

  async delete(key: string): Promise<KvResult> {
    return this.propose({ op: 'delete', key });
  }

  /** Any command (coordination: leased puts, lease ops, the leader's expiries); leader only. */
  async command(cmd: KvCommand): Promise<KvResult> {
    return this.propose(cmd);
  }

  /** Linearizable (ReadIndex) unless `stale`; throws NotLeaderError on a follower for linearizable reads. */
  async get(key: string, stale = false): Promise<KvEntry | null> {
    if (!stale) await this.readBarrier();
    const rec = this.host.applier().kv.get(key);
    return rec === null ? null : entryOf(key, rec);
  }

  async list(prefix: string, stale = false): Promise<{ items: KvEntry[]; revision: number }> {
    if (!stale) await this.readBarrier();
    const kv = this.host.applier().kv;
    const items: KvEntry[] = [];
    for (const k of kv.keys()) {
      if (!k.startsWith(prefix)) continue;
      const rec = kv.get(k);
      if (rec) items.push(entryOf(k, rec));
    }
    return { items, revision: kv.revision };
  }

  /**
   * Wait (bounded) until some leader is known; returns it or null. Callers
   * use it to decide between serving, forwarding and answering no_quorum.
   */
  async awaitLeader(timeoutMs: number): Promise<string | null> {
    this.requireCore();
    return this.awaitLeaderChange(null, timeoutMs);
  }

  /** Resolve once the known leader differs from `from` (or after `timeoutMs`); returns the leader then. */
  async awaitLeaderChange(from: string | null, timeoutMs: number): Promise<string | null> {
    const cur = this.host.core()?.leaderId ?? null;
    if (cur !== from) return cur;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.leaderWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      this.leaderWaiters.add(done);
    });
    return this.host.core()?.leaderId ?? null;
  }

  /** Resolve once this node leads, or after `timeoutMs`; returns whether it leads. */
  async awaitLeadership(timeoutMs: number): Promise<boolean> {
    const self = this.requireCore().id;
    const end = Date.now() + timeoutMs;
    for (;;) {
      const cur = this.host.core()?.leaderId ?? null;
      if (cur === self) return true;
      const rest = end - Date.now();
      if (rest <= 0) return false;
      await this.awaitLeaderChange(cur, rest);
    }
  }

  /** The driver saw the leader change: every waiter looks again. */
  wakeLeaderWaiters(): void {
    for (const w of [...this.leaderWaiters]) w();
  }

  /** A linearizable read point: resolves once this node has applied what a quorum confirmed. */
  async readBarrier(): Promise<void> {
    const core = this.requireCore();
    const applier = this.host.applier();
    const id = `r${++this.readSeq}`;
    const r = core.readIndex(id, Date.now());
    if (!r.ok) throw new NotLeaderError(r.leader, core.status().leadTransferee);
    const p = new Promise<void>((resolve) => applier.awaitRead(id, { ready: () => resolve() }));
    this.host.kick();
    await this.bounded(p, () => {
      applier.cancelRead(id);
      return new NoQuorumError(`read not confirmed by a quorum within ${this.host.requestTimeoutMs} ms`);
    });
  }

  /**
   * The leader a proposal here is refused toward, known without proposing: this node has a core,
   * does not lead and is not frozen (stopping or not: a follower's refusal names no successor).
   * undefined when propose would do anything else. The forwarder sends a follower's plain writes
   * straight there (ForwardHost.followerOf) instead of meeting the refusal per write.
   */
  followerOf(): string | null | undefined {
    const core = this.host.core();
    return core === null || core.isLeader || this.host.frozen() !== null ? undefined : core.leaderId;
  }

  private propose(cmd: KvCommand): Promise<KvResult> {
    const core = this.requireCore();
    const { metrics } = this.host;
    // Nothing is proposed once stopping begins: a not_leader refusal says so, and names where the
    // write belongs (the successor of a hand-over, the leader followed now), so the forwarder takes
    // it there. A no_quorum here reached the client as a 503 with an unknown outcome although
    // nothing ran (issue #16). A node that still leads (its hand-over failed) names itself: its own
    // clients' writes wait (bounded) for the next leader, as during a hand-over.
    if (this.host.stopping()) {
      metrics.proposals.inc(REJECTED);
      throw new NotLeaderError(core.leaderId, core.isLeader ? core.status().leadTransferee : null);
    }
    // A follower refuses before encoding: a forwarder without followerOf, a leased put or a coord op
    // meets this for every request it forwards (they try locally first).
    const follows = this.followerOf();
    if (follows !== undefined) {
      metrics.proposals.inc(REJECTED);
      throw new NotLeaderError(follows);
    }
    const frozen = this.host.frozen();
    if (frozen !== null) throw new NoQuorumError(frozen);
    const applier = this.host.applier();
    const data = encodeCommand(cmd);
    const quota = this.host.quotaBytes();
    // Checked by the leader before proposing (etcd's quota): replicas never disagree on applying.
    if (
      quota > 0 &&
      (cmd.op === 'put' || cmd.op === 'cas' || cmd.op === 'cas_rev') &&
      core.isLeader &&
      applier.kv.bytes + data.byteLength > quota
    ) {
      throw new QuotaExceededError(
        `store holds ${applier.kv.bytes} bytes; this write of ${data.byteLength} would exceed raft.quota_bytes = ${quota}`,
      );
    }
    const r = core.propose(data, Date.now());
    if (!r.ok) {
      metrics.proposals.inc(REJECTED);
      if (r.reason === 'not_leader') throw new NotLeaderError(r.leader);
      // During a hand-over the caller takes the request to the successor: the write gap stays short.
      if (r.reason === 'transferring') throw new NotLeaderError(r.leader, core.status().leadTransferee);
      throw new NoQuorumError(`proposal refused: ${r.reason}`);
    }
    // One promise per write holding the apply wait and its timeout together (a write's promise, two
    // reactions and a second promise less than an apply wait wrapped in bounded()): the leader's
    // allocation per write is what sets how often its young generation is scavenged under load, and
    // each scavenge holds up the writes in flight (raft-kv bench, docs/benchmarks.md).
    const t0 = performance.now();
    const index = r.index;
    const p = new Promise<KvResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        applier.cancelApply(index);
        metrics.proposals.inc(FAILED);
        reject(
          new NoQuorumError(
            `entry ${index} not committed within ${this.host.requestTimeoutMs} ms (outcome unknown)`,
          ),
        );
      }, this.host.requestTimeoutMs);
      applier.awaitApply(index, {
        term: r.term,
        applied: (result) => {
          clearTimeout(timer);
          metrics.proposals.inc(APPLIED);
          metrics.commitSeconds.observe((performance.now() - t0) / 1000);
          resolve(result);
        },
        superseded: (at, term) => {
          clearTimeout(timer);
          metrics.proposals.inc(FAILED);
          reject(
            new NoQuorumError(`leadership changed: entry ${at} was replaced in term ${term} (not applied)`),
          );
        },
        abandoned: (reason) => {
          clearTimeout(timer);
          reject(new NoQuorumError(reason));
        },
      });
    });
    this.host.kick();
    return p;
  }

  private bounded<T>(p: Promise<T>, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(onTimeout()), this.host.requestTimeoutMs);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  private requireCore(): RaftNode {
    const core = this.host.core();
    if (core === null) throw new NoQuorumError('raft is not running');
    return core;
  }
}
