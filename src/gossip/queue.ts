/**
 * The piggyback queue (memberlist's TransmitLimitedQueue, re-derived): each
 * update is handed out a bounded number of times, least-sent first, packed
 * into whatever room a message has left. A newer update about the same key
 * (member id or event id) replaces the older one, so stale news stops spreading.
 */
import { estimateSize } from './size.js';

interface Item<T> {
  readonly key: string;
  readonly value: T;
  readonly size: number;
  readonly id: number;
  readonly urgent: boolean;
  transmits: number;
}

/** Above this depth the most-transmitted items are dropped (they have spread the most already). */
const MAX_DEPTH = 1024;

export class TransmitQueue<T> {
  private readonly items = new Map<string, Item<T>>();
  private nextId = 0;
  private urgentItems = 0;

  get size(): number {
    return this.items.size;
  }

  /** Items enqueued as urgent still waiting to be sent (Dissemination gossips sooner for them). */
  get urgent(): number {
    return this.urgentItems;
  }

  /**
   * A newer update about the same key replaces the older one and starts its transmit count afresh.
   * `urgent`: news that failure detection waits on (a suspicion, a death, a refutation).
   * The replacement inherits the urgency of an item still queued: it now carries that news too (a
   * metadata update right after a refutation or a rejoin is also the alive that overrules the
   * suspicion or death), so it must not wait for the slower interval. A restarted daemon bumps its
   * record two or three times within its first 100 ms (API, Raft address, role), and each bump
   * used to turn its own queued alive, and the seed's re-gossip of it, into news for the 1 s round
   * (bench/gossip-rejoin-sim.ts, 25 members, 0 % loss: a restart below its old life reached the
   * last view up to 3.4 s after it started; 1.4 s with this inheritance alone).
   */
  enqueue(key: string, value: T, urgent = false): void {
    const inherited = this.items.get(key)?.urgent === true;
    this.delete(key);
    urgent ||= inherited;
    this.items.set(key, { key, value, size: estimateSize(value), id: this.nextId++, urgent, transmits: 0 });
    if (urgent) this.urgentItems++;
    if (this.items.size > MAX_DEPTH) this.prune(MAX_DEPTH);
  }

  private delete(key: string): void {
    const it = this.items.get(key);
    if (it === undefined) return;
    this.items.delete(key);
    if (it.urgent) this.urgentItems--;
  }

  /**
   * Take updates totalling at most `budget` bytes (each item's size plus
   * nothing for the array header, which the caller's overhead covers).
   */
  take(budget: number, limit: number): T[] {
    if (this.items.size === 0 || budget <= 0) return [];
    // Least-sent first (newest news has the furthest to spread), then newest first.
    const sorted = [...this.items.values()].sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: T[] = [];
    let used = 0;
    for (const it of sorted) {
      // A big item that does not fit must not block the small ones behind it.
      if (used + it.size > budget) continue;
      used += it.size;
      out.push(it.value);
      it.transmits++;
      if (it.transmits >= limit) this.delete(it.key);
      if (budget - used < 8) break;
    }
    return out;
  }

  private prune(depth: number): void {
    const sorted = [...this.items.values()].sort((a, b) => b.transmits - a.transmits || a.id - b.id);
    for (const it of sorted) {
      if (this.items.size <= depth) break;
      this.delete(it.key);
    }
  }
}

/**
 * memberlist's retransmit limit: mult * ceil(log10(n + 1)). Epidemic spread
 * reaches all N members with high probability after O(log N) transmissions,
 * so the limit grows with log N: more would be wasted bandwidth, fewer would
 * leave members that only push-pull can repair.
 */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}
