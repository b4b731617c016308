/**
 * Peers whose packets fail authentication, so an operator learns why two
 * nodes ignore each other (different swarm keys, or a key on one side only)
 * instead of seeing two lonely swarms.
 *
 * Bounded under hostile input: at most `capacity` sources (least recently
 * seen evicted first), at most one warning per source per `warnEveryMs`, and
 * at most `maxWarningsPerWindow` warnings per window overall, since a flood
 * from spoofed sources would otherwise evict and re-warn without end.
 * Time is passed in (`now`, ms) so the rate limit is testable with a fake clock.
 */
import type { DropReason } from './codec.js';

/** Why a packet was refused, as the operator needs to hear it. */
export type RefusalCause = 'different_key' | 'peer_has_no_key' | 'peer_has_key';

export const REFUSAL_CAUSES: readonly RefusalCause[] = ['different_key', 'peer_has_no_key', 'peer_has_key'];

export type RefusalChannel = 'gossip' | 'raft';

export const REFUSAL_HINTS: Readonly<Record<RefusalCause, string>> = {
  different_key: 'encrypted packet no key here opens: different swarm key?',
  peer_has_no_key:
    'plaintext packet at a node with a key: peer has no swarm key (security.swarm_key unset there)',
  peer_has_key: 'encrypted packet at a node without a key: peer uses a swarm key; this node has none',
};

/** The refusal cause of a transport drop reason; null for drops that are not about authentication. */
export function refusalCause(reason: DropReason): RefusalCause | null {
  switch (reason) {
    case 'unauthenticated':
      return 'different_key';
    case 'plaintext_rejected':
      return 'peer_has_no_key';
    case 'encrypted_rejected':
      return 'peer_has_key';
    default:
      return null;
  }
}

export interface RefusedPeer {
  /** Source address: "host:port" for gossip (the peer's own port), the host alone for Raft (ephemeral ports). */
  readonly address: string;
  readonly channel: RefusalChannel;
  readonly cause: RefusalCause;
  readonly count: number;
  /** `now` of the first and the latest refused packet (the runtime passes wall-clock ms). */
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
}

export interface RefusalWarning {
  readonly address: string;
  readonly channel: RefusalChannel;
  readonly cause: RefusalCause;
  readonly hint: string;
  /** Packets refused from this source since its previous warning. */
  readonly count: number;
}

export interface RefusalTrackerOptions {
  readonly capacity?: number;
  readonly warnEveryMs?: number;
  readonly maxWarningsPerWindow?: number;
  /** Called for each warning the rate limits let through. */
  readonly warn?: (w: RefusalWarning) => void;
}

interface Entry {
  address: string;
  channel: RefusalChannel;
  cause: RefusalCause;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  lastWarnMs: number;
  sinceWarn: number;
}

export class RefusalTracker {
  private readonly capacity: number;
  private readonly warnEveryMs: number;
  private readonly maxWarnings: number;
  private readonly warn: ((w: RefusalWarning) => void) | undefined;
  /** Insertion order is recency order: touched entries are re-inserted. */
  private readonly entries = new Map<string, Entry>();
  private readonly totalsByCause: Record<RefusalCause, number> = {
    different_key: 0,
    peer_has_no_key: 0,
    peer_has_key: 0,
  };
  private windowStart = -Infinity;
  private warningsInWindow = 0;
  private suppressed = 0;

  constructor(opts: RefusalTrackerOptions = {}) {
    this.capacity = Math.max(1, opts.capacity ?? 64);
    this.warnEveryMs = opts.warnEveryMs ?? 60_000;
    this.maxWarnings = opts.maxWarningsPerWindow ?? 16;
    this.warn = opts.warn;
  }

  /** Count one refused packet; returns the warning emitted, if the rate limits allowed one. */
  record(address: string, channel: RefusalChannel, cause: RefusalCause, now: number): RefusalWarning | null {
    this.totalsByCause[cause] += 1;
    // Keyed by cause too: a peer that switches keys is a new story worth its own warning.
    const key = `${channel}\u0000${address}\u0000${cause}`;
    let e = this.entries.get(key);
    if (e === undefined) {
      e = {
        address,
        channel,
        cause,
        count: 0,
        firstSeenMs: now,
        lastSeenMs: now,
        lastWarnMs: -Infinity,
        sinceWarn: 0,
      };
      while (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    } else {
      this.entries.delete(key);
    }
    this.entries.set(key, e);
    e.count += 1;
    e.sinceWarn += 1;
    e.lastSeenMs = now;
    if (now - e.lastWarnMs < this.warnEveryMs) return null;
    if (now - this.windowStart >= this.warnEveryMs) {
      this.windowStart = now;
      this.warningsInWindow = 0;
    }
    if (this.warningsInWindow >= this.maxWarnings) {
      this.suppressed += 1;
      return null;
    }
    this.warningsInWindow += 1;
    e.lastWarnMs = now;
    const w: RefusalWarning = { address, channel, cause, hint: REFUSAL_HINTS[cause], count: e.sinceWarn };
    e.sinceWarn = 0;
    this.warn?.(w);
    return w;
  }

  /** Refused sources, most recently seen first. */
  list(): RefusedPeer[] {
    const out: RefusedPeer[] = [];
    for (const e of this.entries.values()) {
      out.push({
        address: e.address,
        channel: e.channel,
        cause: e.cause,
        count: e.count,
        firstSeenMs: e.firstSeenMs,
        lastSeenMs: e.lastSeenMs,
      });
    }
    return out.reverse();
  }

  /** Refused packets by cause since start (evicted sources included). */
  totals(): Readonly<Record<RefusalCause, number>> {
    return { ...this.totalsByCause };
  }

  /** Warnings held back by the global cap (sources kept counting). */
  get suppressedWarnings(): number {
    return this.suppressed;
  }
}
