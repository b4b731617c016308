/**
 * Raft's safety properties (Figure 3 of the extended paper), checked
 * incrementally so the simulator can afford to check after every step:
 *
 * - election safety: at most one leader per term, over the whole run;
 * - log matching: checked inductively. Every (index, term) ever stored anywhere
 *   must always carry the same data and the same term at index-1; two logs that
 *   share (i, t) then share (i-1, t') and, by induction, the whole prefix;
 * - leader completeness: an entry applied while the highest term in existence
 *   was T is in the log of every leader of a term above T (it was committed
 *   before that leader was elected);
 * - state-machine safety: no two nodes apply different entries at one index;
 * - durability of acknowledged writes: at every crash, each acknowledged entry
 *   is durable on a majority of disks (otherwise a later leader may lack it).
 */
import { SwarmError } from '../../common/errors.js';
import type { Entry, NodeId, Snapshot } from '../../raft/types.js';

export type InvariantName =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'acknowledged-write-durability'
  | 'acknowledged-write-lost'
  /** A node forgot, across a crash, a vote it had granted on the wire. */
  | 'vote-durability'
  /** A node lost, across a crash, entries it had acknowledged on the wire. */
  | 'ack-durability'
  /** A follower acknowledged entries to a node that never reached the acknowledgement's term. */
  | 'stale-term-ack'
  /** A leader counted an entry committed that a node lacking it could still be elected over. */
  | 'commit-safety'
  | 'replica-divergence'
  | 'liveness'
  | 'linearizability'
  /** The core or the driver threw: a broken contract is a failure like any other. */
  | 'exception';

export class InvariantViolation extends SwarmError {
  constructor(
    readonly invariant: InvariantName,
    detail: string,
  ) {
    super('sim_invariant', `${invariant}: ${detail}`, { fields: { invariant } });
  }
}

export interface LogView {
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
}

/** A log as a leader's check needs it: terms by index (undefined: absent or compacted). */
export interface LogReader {
  termAt(index: number): number | undefined;
  readonly snapshotIndex: number;
}

/** Term of the entry at `index` in a stored image: the snapshot's at its index, undefined when absent. */
export function termAt(
  snapshot: Snapshot | null,
  entries: readonly Entry[],
  index: number,
): number | undefined {
  if (index === 0) return 0;
  const snapIndex = snapshot?.meta.index ?? 0;
  if (index === snapIndex) return snapshot!.meta.term;
  if (index < snapIndex) return undefined;
  const first = entries[0]?.index;
  if (first === undefined || index < first) return undefined;
  return entries[index - first]?.term;
}

/** A stored image as a LogReader. */
export function readerOf(log: LogView): LogReader {
  return {
    termAt: (i) => termAt(log.snapshot, log.entries, i),
    snapshotIndex: log.snapshot?.meta.index ?? 0,
  };
}

interface Recorded {
  readonly term: number;
  readonly data: string;
}

export function fingerprint(e: Entry): string {
  return `${e.type}:${Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('base64')}`;
}

export class InvariantChecker {
  private readonly leaders = new Map<number, NodeId>();
  /** `${index}/${term}` -> data fingerprint and term of index-1. */
  private readonly stored = new Map<string, { data: string; prevTerm: number | undefined }>();
  /** index -> the entry applied there (by whichever node applied it first). */
  private readonly applied = new Map<number, Recorded & { bound: number; by: NodeId }>();
  /** Acknowledged client writes: index -> term. */
  private readonly acked = new Map<number, number>();
  private maxTerm = 0;
  checks = 0;

  get leaderCount(): number {
    return this.leaders.size;
  }
  get appliedCount(): number {
    return this.applied.size;
  }
  get ackedCount(): number {
    return this.acked.size;
  }
  get highestTerm(): number {
    return this.maxTerm;
  }

  observeTerm(term: number): void {
    if (term > this.maxTerm) this.maxTerm = term;
  }

  /** A node is leader of `term` with this log (after its Ready was persisted). */
  observeLeader(node: NodeId, term: number, log: LogReader): void {
    this.checks++;
    this.observeTerm(term);
    const prev = this.leaders.get(term);
    if (prev !== undefined) {
      if (prev !== node)
        throw new InvariantViolation('election-safety', `term ${term} has two leaders: ${prev} and ${node}`);
      return;
    }
    this.leaders.set(term, node);
    const snapIndex = log.snapshotIndex;
    for (const [index, rec] of this.applied) {
      if (rec.bound >= term || index <= snapIndex) continue;
      // Same index and term means the same entry: log matching is checked on every write (observeStored).
      const t = log.termAt(index);
      if (t !== rec.term) {
        throw new InvariantViolation(
          'leader-completeness',
          `${node} leads term ${term} but lacks entry ${index}/${rec.term} applied by ${rec.by} while the highest term was ${rec.bound} (has ${t === undefined ? 'nothing' : `term ${t}`})`,
        );
      }
    }
  }

  /** Entries a node just wrote to its log; `log` is its log after the write. */
  observeStored(
    node: NodeId,
    entries: readonly Entry[],
    termOf: (index: number) => number | undefined,
  ): void {
    for (const e of entries) {
      this.checks++;
      this.observeTerm(e.term);
      const key = `${e.index}/${e.term}`;
      const data = fingerprint(e);
      const prevTerm = termOf(e.index - 1);
      const seen = this.stored.get(key);
      if (seen === undefined) {
        this.stored.set(key, { data, prevTerm });
        continue;
      }
      if (seen.data !== data) {
        throw new InvariantViolation(
          'log-matching',
          `${node} stores entry ${key} with different data than another node`,
        );
      }
      if (seen.prevTerm !== undefined && prevTerm !== undefined && seen.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          'log-matching',
          `${node} stores entry ${key} after term ${prevTerm}, another log has it after term ${seen.prevTerm}`,
        );
      }
      if (seen.prevTerm === undefined && prevTerm !== undefined) this.stored.set(key, { data, prevTerm });
    }
  }

  /** A node applied `entry` to its state machine. */
  observeApplied(node: NodeId, entry: Entry): void {
    this.checks++;
    const data = fingerprint(entry);
    const rec = this.applied.get(entry.index);
    if (rec === undefined) {
      this.applied.set(entry.index, { term: entry.term, data, bound: this.maxTerm, by: node });
      return;
    }
    if (rec.term !== entry.term || rec.data !== data) {
      throw new InvariantViolation(
        'state-machine-safety',
        `${node} applied ${entry.index}/${entry.term} but ${rec.by} applied ${entry.index}/${rec.term} with ${rec.data === data ? 'the same' : 'different'} data`,
      );
    }
  }

  /** A client was told its write at (index, term) succeeded. */
  observeAck(index: number, term: number): void {
    this.acked.set(index, term);
  }

  /**
   * Called when a node crashes: every acknowledged write must survive on a
   * majority of durable images (the crashed node's included, after its loss).
   */
  checkDurable(disks: ReadonlyMap<NodeId, LogView>, quorum: number): void {
    this.checks++;
    for (const [index, term] of this.acked) {
      let copies = 0;
      for (const log of disks.values()) {
        const snapIndex = log.snapshot?.meta.index ?? 0;
        if (index <= snapIndex || termAt(log.snapshot, log.entries, index) === term) copies++;
      }
      if (copies < quorum) {
        throw new InvariantViolation(
          'acknowledged-write-durability',
          `acknowledged entry ${index}/${term} is durable on ${copies} of ${disks.size} disks, quorum is ${quorum}`,
        );
      }
    }
  }

  /** End of run: every acknowledged write is applied, at its index, with its term. */
  checkAckedApplied(): void {
    for (const [index, term] of this.acked) {
      const rec = this.applied.get(index);
      if (rec === undefined || rec.term !== term) {
        throw new InvariantViolation(
          'acknowledged-write-lost',
          `acknowledged entry ${index}/${term} is ${rec ? `replaced by term ${rec.term}` : 'never applied'} in the final state`,
        );
      }
    }
  }
}
