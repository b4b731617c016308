/**
 * Merging split formations (see docs/formation.md): when two clusters see
 * each other, the one mergeVerdict (formation.ts) says yields does. Its leader
 * exports its keys, every node of it moves its Raft state aside (kept, never
 * deleted) and rejoins the winner as a fresh node, and the leader then
 * re-proposes the exported keys to the winner.
 */
import { localApiUrl } from './api-url.js';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../raft/kv.js';
import type { RaftNode } from '../raft/raft-node.js';
import { MERGING_TAG, mergeVerdict } from './formation.js';
import type { MergeStatus, SwarmNode } from './node.js';
import type { PeerDirectory } from './peers.js';
import { NoQuorumError } from './raft-errors.js';
import { BOOTSTRAP_FILE } from './raft-formation-runner.js';
import type { KvEntry } from './raft-kv-service.js';

/** A merge verdict must hold this long before a cluster yields (gossip tags settle). */
const MERGE_SETTLE_MS = 3000;
/** A follower without a leader yields on its own after this long (its leader cannot export). */
const MERGE_LEADERLESS_MS = 10_000;
/** How long a yielding leader waits to be added to the winner before giving up (keys stay in the backup). */
const MERGE_JOIN_WAIT_MS = 60_000;
const MAX_REPORTED_CONFLICTS = 100;

export type MergeReport = MergeStatus;

/** What the merge needs from the component that runs the core. */
export interface MergeHost {
  /** The started node (only called after start). */
  node(): Pick<SwarmNode, 'dataDir' | 'config' | 'log' | 'emit' | 'status'>;
  readonly peers: PeerDirectory;
  core(): RaftNode | null;
  stopping(): boolean;
  clusterId(): string;
  /** Every key, read linearizably (the yielding leader's export). */
  listAll(): Promise<KvEntry[]>;
  /** Stop the Ready loop, fail pending requests with `reason` and close the log: <data>/raft may then move. */
  closeRaft(reason: string): Promise<void>;
  /** Open an empty log in <data>/raft and run a fresh core on it, as a node that yielded `from`. */
  reopenFresh(from: string): Promise<void>;
}

export class RaftMerge {
  private readonly host: MergeHost;
  private merge: MergeStatus | null = null;
  private mergeSeen: { winner: string; since: number } | null = null;
  private mergeTimer: NodeJS.Timeout | undefined;
  /** Non-null while writes are refused (a yielding leader after its export). */
  private _frozen: string | null = null;

  constructor(host: MergeHost) {
    this.host = host;
  }

  /** Why writes are refused (a yielding leader after its export), or null. */
  get frozen(): string | null {
    return this._frozen;
  }

  /** A merge has started and has not ended (done or failed). */
  get running(): boolean {
    const m = this.merge;
    return m !== null && m.state !== 'done' && m.state !== 'failed';
  }

  /** While a merge runs, what this node waits for (shown as `waiting` in status); else null. */
  waitingReason(): string | null {
    const m = this.merge;
    return m !== null && this.running ? `merging cluster ${m.from} into ${m.to}: ${m.state}` : null;
  }

  /** The merge this node takes part in, if any: shown in /v1/status (`merge`) and the log. */
  report(): MergeReport | null {
    return this.merge === null ? null : { ...this.merge, conflicts: [...this.merge.conflicts] };
  }

  stop(): void {
    clearTimeout(this.mergeTimer);
  }

  /**
   * Two clusters that see each other: the one mergeVerdict says yields does,
   * once the verdict has held for a settle period. Its leader exports its keys
   * (linearizable read, writes refused from then on), tells its followers
   * (tag `merging`), and every node moves its Raft state aside and joins the
   * winner as a fresh node; the leader then re-proposes the exported keys.
   */
  check(now: number): void {
    const core = this.host.core();
    const clusterId = this.host.clusterId();
    if (core === null || this.host.stopping() || clusterId === '') return;
    if (this.running) return;
    const s = core.status();
    const peers = this.host.peers.peers();
    const v = mergeVerdict({
      cluster: clusterId,
      voters: s.conf.voters.length,
      hasLeader: s.leader !== null,
      peers,
    });
    if (v === null) {
      this.mergeSeen = null;
      return;
    }
    if (this.mergeSeen?.winner !== v.winner) this.mergeSeen = { winner: v.winner, since: now };
    // Look again without waiting for a gossip change: a learner has no tick to do it.
    clearTimeout(this.mergeTimer);
    this.mergeTimer = setTimeout(() => this.check(Date.now()), 500);
    this.mergeTimer.unref();
    if (now - this.mergeSeen.since < MERGE_SETTLE_MS) return;
    const leader = s.leader === null ? undefined : this.host.peers.get(s.leader);
    const leaderMerging = leader?.tags?.[MERGING_TAG] === v.winner;
    const leaderless = s.leader === null && now - this.mergeSeen.since >= MERGE_LEADERLESS_MS;
    if (s.role === 'leader') void this.run(v.winner, true);
    else if (leaderMerging || leaderless) void this.run(v.winner, false);
  }

  private async run(winner: string, exporter: boolean): Promise<void> {
    const node = this.host.node();
    const from = this.host.clusterId();
    this.merge = {
      from,
      to: winner,
      state: exporter ? 'exporting' : 'rejoining',
      exported: 0,
      put: 0,
      conflicts: [],
      conflictCount: 0,
      backup: null,
      error: null,
    };
    const m = this.merge;
    node.log.warn('raft split formation: this cluster yields', { ours: from, winner, exporter });
    node.emit('merge', this.report());
    try {
      let items: KvEntry[] = [];
      if (exporter) {
        this._frozen = `merging cluster ${from} into ${winner}`;
        items = await this.host.listAll();
        m.exported = items.length;
        this.host.peers.advertise?.({ [MERGING_TAG]: winner });
        // Followers move aside when they see the tag; give gossip a moment so they do not elect a successor.
        await new Promise((r) => setTimeout(r, MERGE_SETTLE_MS / 2));
      }
      m.backup = await this.moveAside(from, items);
      m.state = 'rejoining';
      this.host.peers.advertise?.({ [MERGING_TAG]: null });
      if (!exporter) {
        m.state = 'done';
        return;
      }
      await this.untilJoined(winner);
      m.state = 'reproposing';
      await this.repropose(items, m);
      m.state = 'done';
      node.log.info('raft merge done', {
        ours: from,
        winner,
        exported: m.exported,
        put: m.put,
        conflicts: m.conflictCount,
        backup: m.backup,
      });
    } catch (err) {
      m.state = 'failed';
      m.error = err instanceof Error ? err.message : String(err);
      node.log.error('raft merge failed; the yielded state is kept in the backup', {
        error: err,
        backup: m.backup,
      });
    } finally {
      this._frozen = null;
      node.emit('merge', this.report());
    }
  }

  /**
   * Moves <data>/raft and raft-bootstrap.json into <data>/raft.merged-<id>-<ms>
   * (never deleted), with the exported keys beside them, and restarts the core
   * fresh on the same transport: the node then waits to be added by the winner.
   */
  private async moveAside(from: string, items: readonly KvEntry[]): Promise<string> {
    const node = this.host.node();
    await this.host.closeRaft(`cluster ${from} merged into another`);
    const dir = join(node.dataDir, 'raft');
    const backup = join(node.dataDir, `raft.merged-${from}-${Date.now()}`);
    mkdirSync(backup, { recursive: true });
    renameSync(dir, join(backup, 'raft'));
    const boot = join(node.dataDir, BOOTSTRAP_FILE);
    if (existsSync(boot)) renameSync(boot, join(backup, BOOTSTRAP_FILE));
    writeFileSync(join(backup, 'exported-keys.json'), JSON.stringify({ cluster: from, items }));
    const dfd = openSync(node.dataDir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    this._frozen = null; // the new core belongs to no cluster yet; writes go to the winner once joined
    await this.host.reopenFresh(from);
    node.log.info('raft state moved aside for the merge', { backup });
    return backup;
  }

  private async untilJoined(winner: string): Promise<void> {
    const end = Date.now() + MERGE_JOIN_WAIT_MS;
    while (Date.now() < end && !this.host.stopping()) {
      if (this.host.clusterId() === winner && this.host.core()?.leaderId != null) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new NoQuorumError(`not added to cluster ${winner} within ${MERGE_JOIN_WAIT_MS} ms`);
  }

  /**
   * The conflict rule: the winner's value wins where the winner has the key
   * (reported), else the key is put. Each key is a create-only write through
   * this node's own API (which relays to the winner's leader like any client's).
   */
  private async repropose(items: readonly KvEntry[], m: MergeStatus): Promise<void> {
    const node = this.host.node();
    const api = node.status().addresses.api;
    if (!api) throw new NoQuorumError('no local API to re-propose the yielded keys through');
    const base = localApiUrl(api);
    const token = node.config.security.api_token;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== '') headers.authorization = `Bearer ${token}`;
    for (const it of items) {
      const url = `${base}/v1/kv/${encodeURIComponent(it.key)}`;
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(url, {
          method: 'PUT',
          headers,
          body: JSON.stringify({ value: it.value, prev_revision: 0 }),
          signal: AbortSignal.timeout(10_000),
        }).catch((e: unknown) => e as Error);
        if (!(res instanceof Error) && res.status === 200) {
          m.put++;
          break;
        }
        if (!(res instanceof Error) && res.status === 409) {
          const cur = await fetch(url, { signal: AbortSignal.timeout(10_000) })
            .then((r) => r.json() as Promise<{ value?: JsonValue }>)
            .catch(() => ({ value: undefined }));
          m.conflictCount++;
          const c = { key: it.key, yielded: it.value, kept: cur.value ?? null };
          if (m.conflicts.length < MAX_REPORTED_CONFLICTS) m.conflicts.push(c);
          node.log.warn('raft merge conflict: the winner keeps its value', { ...c });
          break;
        }
        if (attempt >= 20) throw new NoQuorumError(`could not re-propose key ${it.key}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}
