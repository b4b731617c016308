/**
 * How runtime components learn about each other's peers without importing
 * each other: the gossip component publishes the membership it sees, the
 * Raft component reads Raft addresses from it. Tests use `StaticPeerDirectory`.
 */
export type DeviceClass = 'full' | 'standard' | 'minimal';
export type PeerStatus = 'alive' | 'suspect' | 'dead' | 'left';

export interface PeerInfo {
  readonly id: string;
  readonly name: string;
  readonly deviceClass: DeviceClass;
  readonly status: PeerStatus;
  /** "host:port" of the peer's REST API, null when not advertised. */
  readonly apiAddr: string | null;
  /** "host:port" of the peer's Raft TCP listener, null when not advertised. */
  readonly raftAddr: string | null;
  /** Raft role the peer last advertised ("leader", "follower", ...), null when unknown. */
  readonly raftRole: string | null;
  /** Free-form gossip tags the peer advertises (formation and cluster ids among them). */
  readonly tags?: Readonly<Record<string, string>>;
  /** The peer's advertised energy power state ("critical", "low_power", "idle", "active"), if any. */
  readonly powerState?: string;
}

export interface PeerDirectory {
  /** Every known member except this node, including suspect/dead/left ones. */
  peers(): readonly PeerInfo[];
  get(id: string): PeerInfo | undefined;
  /**
   * `get(id)?.raftAddr` without building the PeerInfo. Optional: the Raft links ask it for every
   * message they send and receive, so a directory whose get() builds a record per call offers it.
   */
  raftAddr?(id: string): string | null;
  /** Called after any membership or metadata change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  /**
   * Advertise tags of this node to the peers (a null value withdraws the tag).
   * Optional: a directory without a way to advertise leaves formation to strict peers.
   */
  advertise?(tags: Readonly<Record<string, string | null>>): void;
}

/** A fixed directory, for tests and for setups without gossip. */
export class StaticPeerDirectory implements PeerDirectory {
  private readonly byId = new Map<string, PeerInfo>();
  private readonly listeners = new Set<() => void>();
  /** What this node advertised through advertise() (tests copy it into the other nodes' directories). */
  readonly advertised: Record<string, string> = {};

  constructor(peers: readonly PeerInfo[] = []) {
    for (const p of peers) this.byId.set(p.id, p);
  }

  peers(): readonly PeerInfo[] {
    return [...this.byId.values()];
  }

  get(id: string): PeerInfo | undefined {
    return this.byId.get(id);
  }

  /** Add or replace a peer and notify listeners. */
  set(peer: PeerInfo): void {
    this.byId.set(peer.id, peer);
    for (const l of this.listeners) l();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  advertise(tags: Readonly<Record<string, string | null>>): void {
    for (const [k, v] of Object.entries(tags)) {
      if (v === null) delete this.advertised[k];
      else this.advertised[k] = v;
    }
  }
}
