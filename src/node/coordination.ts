/**
 * Coordination on top of the replicated KV: watch, leases, locks and
 * elections, for the REST API and for node components (the tasks supervisor)
 * without HTTP. Any node serves all of it: writes go to the leader through
 * the forwarder, reads are linearizable (ReadIndex) where correctness needs
 * it, and waiting is done on this node's own applied-event history.
 *
 * Locks and elections follow etcd's client/v3/concurrency: a candidate
 * creates `<prefix><lease>` bound to its lease; the key with the lowest
 * create revision holds the lock (leads); every other candidate waits for the
 * deletion of the key created just before its own (no herd on a release), so
 * the order is FIFO by create revision. The holder's create revision is its
 * fencing token: it only grows for a given name.
 */
import { SwarmError } from '../common/errors.js';
import type { JsonValue } from '../raft/kv.js';
import type { KvEvent, WatchFilter } from '../kv/types.js';
import type { CoordOutcome } from './coord-ops.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { NodeComponent, SwarmNode } from './node.js';
import type { RaftComponent } from './raft-component.js';
import { NoQuorumError } from './raft-errors.js';
import { CompactedError, type WatchCursor } from './watch-hub.js';
import type { PowerMode } from '../energy/power-mode.js';

export const LOCK_PREFIX = '__lock/';
export const ELECTION_PREFIX = '__election/';

/** A key as coordination reads it. */
export interface CoordItem {
  readonly key: string;
  readonly value: JsonValue;
  /** Mod revision. */
  readonly revision: number;
  readonly create_revision: number;
  /** 0 = no lease. */
  readonly lease: number;
}

export interface LeaseInfo {
  readonly id: number;
  readonly ttl_ms: number;
  readonly keys: readonly string[];
}

/** A lock held, or an election led: `revision` is the create revision of the candidate's key (fencing token). */
export interface Holder {
  readonly key: string;
  readonly value: JsonValue;
  readonly lease: number;
  readonly revision: number;
}

export class LeaseNotFoundError extends SwarmError {
  constructor(id: number) {
    super('lease_not_found', `no lease ${id} (expired, revoked or never granted)`, { exitCode: 1 });
  }
}

export class WaitTimeoutError extends SwarmError {
  constructor(what: string, ms: number) {
    super('timeout', `${what} not obtained within ${ms} ms`, { exitCode: 1 });
  }
}

/** The candidate's key vanished while it waited (its lease expired or was revoked). */
export class CandidacyLostError extends SwarmError {
  constructor(key: string) {
    super('lost', `${key} was deleted while waiting (lease expired or revoked)`, { exitCode: 1 });
  }
}

/** The node-internal coordination interface (what the REST routes and node components use). */
export interface CoordinationApi {
  /** The revision this node has applied. */
  readonly revision: number;
  range(prefix: string, opts?: { consistent?: boolean }): Promise<{ items: CoordItem[]; revision: number }>;
  get(key: string, opts?: { consistent?: boolean }): Promise<CoordItem | null>;
  put(key: string, value: JsonValue, opts?: { lease?: number; prevRevision?: number }): Promise<CoordOutcome>;
  delete(key: string): Promise<{ deleted: boolean; revision: number }>;
  /** A cursor over this node's applied events from `fromRevision` (default: the next one). */
  watch(filter: WatchFilter, fromRevision?: number, opts?: { internal?: boolean }): WatchCursor;
  leaseGrant(ttlMs: number): Promise<{ id: number; ttl_ms: number }>;
  leaseKeepAlive(id: number): Promise<{ id: number; ttl_ms: number }>;
  leaseRevoke(id: number): Promise<{ deleted: number }>;
  /** The lease as this node has applied it (null: unknown here). */
  lease(id: number): LeaseInfo | null;
}

export class CoordinationComponent implements NodeComponent, CoordinationApi {
  readonly name = 'coordination';
  private node: SwarmNode | null = null;
  private keeper: LeaseKeeper | null = null;
  /** Campaigns made through this node that may still lead: name -> leases. */
  private readonly campaigns = new Map<string, Set<number>>();

  constructor(private readonly raft: RaftComponent) {}

  async start(node: SwarmNode): Promise<void> {
    this.node = node;
    const c = node.config.consensus;
    this.keeper = new LeaseKeeper(this.raft, () => c.election_timeout_max_ms, node.log);
    this.keeper.start();
  }

  async stop(): Promise<void> {
    this.keeper?.stop();
    this.keeper = null;
  }

  private get waitMs(): number {
    return this.raft.requestTimeoutMs;
  }

  get revision(): number {
    return this.raft.state.revision;
  }

  private item(key: string): CoordItem | null {
    const st = this.raft.state;
    const r = st.get(key);
    return r === null
      ? null
      : {
          key,
          value: r.value,
          revision: r.modRevision,
          create_revision: r.createRevision,
          lease: st.leaseOf(key),
        };
  }

  async range(
    prefix: string,
    opts: { consistent?: boolean } = {},
  ): Promise<{ items: CoordItem[]; revision: number }> {
    if (opts.consistent !== false) await this.raft.forward.linearize(this.waitMs);
    const st = this.raft.state;
    const items: CoordItem[] = [];
    for (const k of st.keysWithPrefix(prefix)) {
      const it = this.item(k);
      if (it) items.push(it);
    }
    return { items, revision: st.revision };
  }

  async get(key: string, opts: { consistent?: boolean } = {}): Promise<CoordItem | null> {
    if (opts.consistent !== false) await this.raft.forward.linearize(this.waitMs);
    return this.item(key);
  }

  put(
    key: string,
    value: JsonValue,
    opts: { lease?: number; prevRevision?: number } = {},
  ): Promise<CoordOutcome> {
    return this.raft.forward.coord(
      {
        op: 'put',
        key,
        value,
        ...(opts.lease !== undefined && opts.lease > 0 ? { lease: opts.lease } : {}),
        ...(opts.prevRevision !== undefined ? { prev_revision: opts.prevRevision } : {}),
      },
      this.waitMs,
    );
  }

  async delete(key: string): Promise<{ deleted: boolean; revision: number }> {
    const r = await this.raft.forward.write({ op: 'delete', key }, this.waitMs);
    return r.kind === 'delete'
      ? { deleted: r.deleted, revision: r.revision }
      : { deleted: false, revision: 0 };
  }

  watch(filter: WatchFilter, fromRevision?: number, opts: { internal?: boolean } = {}): WatchCursor {
    return this.raft.watch.cursor(filter, fromRevision, opts);
  }

  async leaseGrant(ttlMs: number): Promise<{ id: number; ttl_ms: number }> {
    const r = await this.raft.forward.coord({ op: 'lease_grant', ttl_ms: ttlMs }, this.waitMs);
    if (r.code !== 'ok' || r.lease === undefined) throw new NoQuorumError('lease grant gave no lease');
    return r.lease;
  }

  async leaseKeepAlive(id: number): Promise<{ id: number; ttl_ms: number }> {
    const r = await this.raft.forward.coord({ op: 'lease_keepalive', id }, this.waitMs);
    if (r.code !== 'ok' || r.lease === undefined) throw new LeaseNotFoundError(id);
    return r.lease;
  }

  async leaseRevoke(id: number): Promise<{ deleted: number }> {
    const r = await this.raft.forward.coord({ op: 'lease_revoke', id }, this.waitMs);
    if (r.code !== 'ok') throw new LeaseNotFoundError(id);
    return { deleted: r.deleted ?? 0 };
  }

  lease(id: number): LeaseInfo | null {
    const l = this.raft.state.lease(id);
    return l === null ? null : { id: l.id, ttl_ms: l.ttlMs, keys: [...l.keys].sort() };
  }

  // ------------------------------------------------------------------ locks and elections

  /**
   * Become the holder of `prefix` with `lease` (create `<prefix><lease>`, then
   * wait for every earlier candidate to go). `value` replaces the candidate's
   * value if its key already exists (a campaign proclaiming a new value).
   * On timeout the candidacy created by this call is withdrawn.
   */
  async acquire(
    prefix: string,
    lease: number,
    value: JsonValue,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<Holder> {
    const key = `${prefix}${lease}`;
    const end = Date.now() + waitMs;
    let created = false;
    let myRev: number;
    const out = await this.put(key, value, { lease, prevRevision: 0 });
    if (out.code === 'lease_not_found') throw new LeaseNotFoundError(lease);
    if (out.code === 'ok') {
      created = true;
      myRev = out.create_revision ?? out.revision;
    } else {
      // Already a candidate with this lease: keep its place, update its value.
      const upd = await this.put(key, value, { lease });
      if (upd.code === 'lease_not_found') throw new LeaseNotFoundError(lease);
      if (upd.code !== 'ok') throw new CandidacyLostError(key);
      myRev = upd.create_revision ?? upd.revision;
    }
    try {
      for (;;) {
        const { items, revision } = await this.range(prefix);
        const mine = items.find((i) => i.key === key);
        if (mine === undefined || mine.create_revision !== myRev) throw new CandidacyLostError(key);
        let pred: CoordItem | null = null;
        for (const i of items)
          if (i.create_revision < myRev && (pred === null || i.create_revision > pred.create_revision))
            pred = i;
        if (pred === null) return { key, value: mine.value, lease, revision: myRev };
        await this.awaitDelete(prefix, [pred.key, key], revision + 1, end, signal);
      }
    } catch (err) {
      if (created && !(err instanceof CandidacyLostError)) await this.delete(key).catch(() => undefined);
      throw err;
    }
  }

  /** Wait until one of `keys` is deleted after `from`; throws WaitTimeoutError at `end`. */
  private async awaitDelete(
    prefix: string,
    keys: readonly string[],
    from: number,
    end: number,
    signal?: AbortSignal,
  ): Promise<void> {
    let cur: WatchCursor;
    try {
      cur = this.watch({ prefix }, from, { internal: true });
    } catch (err) {
      if (err instanceof CompactedError) return; // re-read the state instead
      throw err;
    }
    try {
      for (;;) {
        const rest = end - Date.now();
        if (rest <= 0 || signal?.aborted === true)
          throw new WaitTimeoutError('lock or leadership', Math.max(0, rest));
        let evs: KvEvent[];
        try {
          evs = await cur.next(rest, 1000, signal);
        } catch (err) {
          if (err instanceof CompactedError) return;
          throw err;
        }
        if (evs.some((e) => e.type === 'delete' && keys.includes(e.key))) return;
      }
    } finally {
      cur.close();
    }
  }

  /** The candidate with the lowest create revision under `prefix`, or null. */
  async holder(
    prefix: string,
    opts: { consistent?: boolean } = {},
  ): Promise<{ holder: Holder | null; revision: number; waiting: number }> {
    const { items, revision } = await this.range(prefix, opts);
    let best: CoordItem | null = null;
    for (const i of items) if (best === null || i.create_revision < best.create_revision) best = i;
    return {
      holder:
        best === null
          ? null
          : { key: best.key, value: best.value, lease: best.lease, revision: best.create_revision },
      revision,
      waiting: Math.max(0, items.length - 1),
    };
  }

  lock(name: string, lease: number, owner: JsonValue, waitMs: number, signal?: AbortSignal): Promise<Holder> {
    return this.acquire(`${LOCK_PREFIX}${name}/`, lease, owner, waitMs, signal);
  }

  unlock(name: string, lease: number): Promise<{ deleted: boolean; revision: number }> {
    return this.delete(`${LOCK_PREFIX}${name}/${lease}`);
  }

  async campaign(
    name: string,
    lease: number,
    value: JsonValue,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<Holder> {
    const h = await this.acquire(`${ELECTION_PREFIX}${name}/`, lease, value, waitMs, signal);
    let set = this.campaigns.get(name);
    if (!set) this.campaigns.set(name, (set = new Set()));
    set.add(lease);
    return h;
  }

  async resign(name: string, lease: number): Promise<{ deleted: boolean; revision: number }> {
    const set = this.campaigns.get(name);
    set?.delete(lease);
    if (set?.size === 0) this.campaigns.delete(name);
    return this.delete(`${ELECTION_PREFIX}${name}/${lease}`);
  }

  /**
   * Energy: a node entering emergency resigns the elections campaigned through
   * it (coordination.resign_on_emergency), so a group's job moves to a node
   * that can afford it rather than dying with the battery.
   */
  onPowerMode(mode: PowerMode): void {
    if (mode !== 'emergency' || this.node?.config.coordination.resign_on_emergency !== true) return;
    for (const [name, leases] of [...this.campaigns]) {
      for (const lease of [...leases]) {
        this.node.log.warn('emergency power mode: resigning election', { election: name, lease });
        void this.resign(name, lease).catch((err: unknown) =>
          this.node?.log.warn('resign failed', { election: name, lease, error: err }),
        );
      }
    }
  }

  /** Local campaigns (status, tests). */
  localCampaigns(): { name: string; lease: number }[] {
    return [...this.campaigns].flatMap(([name, s]) => [...s].map((lease) => ({ name, lease })));
  }
}
