/**
 * The application side of a Ready for the KV state machine, shared by every
 * runtime that serves the KV (the node daemon, the Maelstrom lin-kv node):
 * restore a snapshot, apply committed entries in order, match each applied
 * entry to the proposal waiting for it, and release ReadIndex reads once the
 * state machine has caught up with their index.
 *
 * A proposal matches its entry only when the terms agree: an entry at the same
 * index from a later term means a new leader replaced the proposal, which was
 * therefore not applied.
 */
import type { KvEvent } from '../kv/types.js';
import { KvStateMachine, type KvResult } from './kv.js';
import type { Ready } from './raft-node.js';
import type { Snapshot } from './types.js';

/** A proposal waiting for its entry to be applied. */
export interface PendingProposal {
  /** Term the proposal was appended in. */
  readonly term: number;
  applied(result: KvResult): void;
  /** Another leader's entry took the proposal's index: it was not applied. */
  superseded(index: number, term: number): void;
  /** The runtime gave up on it (stopping): the outcome is unknown. */
  abandoned(reason: string): void;
}

/** A ReadIndex read waiting for its index to be confirmed and then applied. */
export interface PendingRead {
  ready(kv: KvStateMachine): void;
}

/** Who hears of every applied mutation (the node's watch history). */
export interface KvApplyListener {
  event(ev: KvEvent): void;
  /** The state was replaced (snapshot installed, or a fresh store): it now stands at `revision`. */
  restored(revision: number): void;
}

export class KvApplier {
  private machine = new KvStateMachine();
  private readonly listener: KvApplyListener | null;
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private confirmed: { index: number; read: PendingRead }[] = [];
  private lastSnapshot = 0;

  constructor(listener: KvApplyListener | null = null) {
    this.listener = listener;
    this.machine.setEventSink(listener === null ? null : (ev) => listener.event(ev));
    listener?.restored(0);
  }

  get kv(): KvStateMachine {
    return this.machine;
  }

  get appliedIndex(): number {
    return this.machine.appliedIndex;
  }

  /** Index of the last snapshot restored or taken (see snapshotTaken). */
  get snapshotIndex(): number {
    return this.lastSnapshot;
  }

  restore(snapshot: Snapshot): void {
    const machine = new KvStateMachine();
    machine.restore(snapshot.data);
    const listener = this.listener;
    machine.setEventSink(listener === null ? null : (ev) => listener.event(ev));
    this.machine = machine;
    this.lastSnapshot = snapshot.meta.index;
    listener?.restored(machine.revision);
  }

  snapshotTaken(index: number): void {
    this.lastSnapshot = index;
  }

  awaitApply(index: number, p: PendingProposal): void {
    this.proposals.set(index, p);
  }

  /** Stop waiting (timeout); returns whether it was still waiting. */
  cancelApply(index: number): boolean {
    return this.proposals.delete(index);
  }

  awaitRead(requestId: string, r: PendingRead): void {
    this.reads.set(requestId, r);
  }

  cancelRead(requestId: string): boolean {
    return this.reads.delete(requestId);
  }

  /** Give up on every proposal still waiting (a stopping runtime). */
  abandonAll(reason: string): void {
    const all = [...this.proposals.values()];
    this.proposals.clear();
    for (const p of all) p.abandoned(reason);
  }

  /** The application duties of one Ready: snapshot, committed entries, confirmed reads. */
  apply(rd: Pick<Ready, 'snapshot' | 'committed' | 'readStates'>): void {
    // Proposals below a restored snapshot can no longer be matched: they time out, outcome unknown.
    if (rd.snapshot) this.restore(rd.snapshot);
    for (const e of rd.committed) {
      if (e.index <= this.machine.appliedIndex) continue;
      const result = this.machine.apply(e);
      const p = this.proposals.get(e.index);
      if (p === undefined) continue;
      this.proposals.delete(e.index);
      if (p.term === e.term) p.applied(result);
      else p.superseded(e.index, e.term);
    }
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.requestId);
      if (r === undefined) continue;
      this.reads.delete(rs.requestId);
      this.confirmed.push({ index: rs.index, read: r });
    }
    if (this.confirmed.length === 0) return;
    const applied = this.machine.appliedIndex;
    const still: { index: number; read: PendingRead }[] = [];
    for (const r of this.confirmed) {
      if (r.index > applied) still.push(r);
      else r.read.ready(this.machine);
    }
    this.confirmed = still;
  }
}
