/**
 * The node's Raft links to its peers: each peer's Raft address (from the
 * PeerDirectory), who was last heard from and sent to, the redial of links
 * that went silent, and the hint a refused dial gives about the leader.
 */
import { countOp, opCountsOn } from '../common/op-counts.js';
import type { SendOutcome } from '../driver/interfaces.js';
import type { RaftWireMessage } from '../net/forward-codec.js';
import { peerKey, type ReplyPath, type TcpAddress, type TcpTransport } from '../net/tcp.js';
import type { RaftMessage } from '../raft/messages.js';
import type { RaftNode } from '../raft/raft-node.js';
import type { Logger } from './log.js';
import type { PeerDirectory } from './peers.js';

/** What the peer links need from the component that runs the core. */
export interface PeerLinksHost {
  readonly peers: PeerDirectory;
  /** The running core, or null before start, after stop and while a merge swaps it. */
  core(): RaftNode | null;
  /** Null before the listener is open and after stop. */
  transport(): TcpTransport<RaftWireMessage> | null;
  /** Every outgoing message is stamped with it, so other clusters' nodes drop it. */
  clusterId(): string;
  stopping(): boolean;
  /** The minimum election timeout: how long a link may stay silent before a redial. */
  readonly electionTimeoutMs: number;
  /** How long a leader may leave a learner without a heartbeat (it skips rounds to learners). */
  readonly learnerHeartbeatMs?: number;
  readonly log: Logger;
  kick(): void;
}

/** Election and hand-over messages, traced at debug level (a leader hand-over's timeline, docs/raft-runtime.md). */
export const HANDOVER_TRACE: ReadonlySet<RaftMessage['type']> = new Set([
  'timeout_now',
  'request_vote',
  'request_vote_response',
]);

/**
 * Raft answers: they go back on the connection their request came in on
 * (TcpTransport.reply, ReplyPath), so the answer carries the TCP ACK of the
 * request.
 */
const ANSWERS: ReadonlySet<RaftMessage['type']> = new Set([
  'append_entries_response',
  'heartbeat_response',
  'request_vote_response',
  'install_snapshot_response',
]);

/** `host:port` or `[v6]:port`; a wildcard bind address is reached over loopback. */
export function parsePeerAddr(s: string): TcpAddress | null {
  const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(s);
  if (!m) return null;
  return { host: m[1] === '0.0.0.0' ? '127.0.0.1' : m[1]!, port: Number(m[2]) };
}

export class RaftPeerLinks {
  private readonly host: PeerLinksHost;
  /** When each peer we send to was last heard from (first send counts as heard). */
  private readonly heardAt = new Map<string, number>();
  /** When each peer was last sent to: only a peer that owes us an answer can be stalled. */
  private readonly sentAt = new Map<string, number>();
  private readonly resetAt = new Map<string, number>();
  /** Each peer's Raft address as parsed, keyed by its advertised string (parsed once, not per message). */
  private readonly addrs = new Map<string, { readonly raw: string; readonly addr: TcpAddress | null }>();
  /** The accepted connection each peer last sent us a message on: our answers to it go back there. */
  private readonly replyVia = new Map<string, ReplyPath>();

  constructor(host: PeerLinksHost) {
    this.host = host;
  }

  /** A peer's Raft address from the directory, or null when it advertises none (or a malformed one). */
  peerAddr(id: string): TcpAddress | null {
    const peers = this.host.peers;
    const raw = peers.raftAddr ? peers.raftAddr(id) : peers.get(id)?.raftAddr;
    if (!raw) return null;
    const known = this.addrs.get(id);
    if (known?.raw === raw) return known.addr;
    const addr = parsePeerAddr(raw);
    this.addrs.set(id, { raw, addr });
    return addr;
  }

  /** The driver's transport: stamps our cluster id and notes the send for silent-link detection. */
  send(m: RaftMessage): SendOutcome {
    const t = this.host.transport();
    if (t === null) return 'closed';
    const hp = this.peerAddr(m.to);
    if (hp === null) return 'unknown-peer';
    const now = Date.now();
    if (opCountsOn) countSend(m);
    const wire = { ...m, cluster: this.host.clusterId() };
    let r: SendOutcome = 'closed';
    const via = ANSWERS.has(m.type) ? this.replyVia.get(m.to) : undefined;
    if (via?.open) {
      r = t.reply(via, wire);
      // Our own link still reports the peer's process gone (a refused redial): see ensureLink.
      if (r === 'queued') t.ensureLink(hp);
    }
    if (r !== 'queued') r = t.send(hp, wire);
    if (HANDOVER_TRACE.has(m.type))
      this.host.log.debug('raft send', { type: m.type, to: m.to, term: m.term, r });
    // Only a request waits for the peer to speak: after an answer the peer owes us nothing (an old
    // leader we last answered, now a follower, stays silent for good), and counting answers made
    // every follower redial its previous leader every election timeout after a leader change.
    if (!ANSWERS.has(m.type)) this.sentAt.set(m.to, now);
    if (!this.heardAt.has(m.to)) this.heardAt.set(m.to, now);
    return r;
  }

  /**
   * Gossip changed: a peer of the configuration that gossip sees alive, whose
   * link waits out a redial back-off, is dialled now. A member restarted after
   * a crash is heard of by gossip (its record, with its Raft address once its
   * port listens) well before the back-off ends; the leader's next heartbeat
   * then reaches it at once, which is what a restarted follower waits for
   * before it can serve a read. Only waiting links dial: a live link, or a
   * peer gossip does not see alive, costs nothing.
   */
  redialAlivePeers(): void {
    const t = this.host.transport();
    const core = this.host.core();
    if (t === null || core === null) return;
    const conf = core.confState;
    for (const id of [...conf.voters, ...conf.learners]) {
      if (id === core.id || this.host.peers.get(id)?.status !== 'alive') continue;
      const hp = this.peerAddr(id);
      if (hp !== null) t.peerAlive(hp);
    }
  }

  /** Set when the node restarted on existing state, until restartHint() has used it. */
  private restartHintPending = false;

  /** This process restarted on a log of its own: see restartHint(). */
  armRestartHint(): void {
    this.restartHintPending = true;
  }

  /**
   * After a restart on existing state, once gossip sees a quorum of the
   * voters alive with their Raft ports listening (a peer advertises its Raft
   * address only then) and none of them advertises itself leader, tell the
   * core to campaign soon (RaftNode.campaignSoon): within a tenth of the
   * minimum election timeout, or at once for a lone voter, instead of a
   * whole randomized timeout. Like etcd's election-tick advance on restart
   * once its peers are connected. Used once; returns whether the core's
   * deadline moved (the caller kicks the loop).
   */
  restartHint(now: number): boolean {
    if (!this.restartHintPending) return false;
    const core = this.host.core();
    if (core === null || this.host.stopping()) return false;
    if (core.leaderId !== null) {
      this.restartHintPending = false;
      return false;
    }
    const voters = core.confState.voters;
    if (!voters.includes(core.id)) return false;
    let up = 0;
    for (const id of voters) {
      if (id === core.id) {
        up++;
        continue;
      }
      const p = this.host.peers.get(id);
      if (p?.status !== 'alive' || this.peerAddr(id) === null) continue;
      // A live leader's heartbeat is on its way: nothing to hurry.
      if (p.raftRole === 'leader') return false;
      up++;
    }
    if (up * 2 <= voters.length) return false;
    this.restartHintPending = false;
    // A tenth of the minimum timeout (etcd's tick is a tenth of its election timeout): a vote splits
    // only if every voter campaigns within one message delay, and pre-vote makes that cheaper still.
    const within = voters.length === 1 ? 0 : this.host.electionTimeoutMs / 10;
    const moved = core.campaignSoon(now, within);
    if (moved) this.host.log.info('raft restarted with a quorum up: campaigning soon', { within_ms: within });
    return moved;
  }

  /**
   * A Raft message from `from` arrived (and was accepted for the core), on
   * the accepted connection `via` (null: on one we dialled, an answer).
   */
  heard(from: string, via: ReplyPath | null = null, now: number = Date.now()): void {
    this.heardAt.set(from, now);
    // Its message came over its own connection: ours to it, if waiting out a redial back-off, dials now.
    const hp = this.peerAddr(from);
    if (hp) this.host.transport()?.peerAlive(hp);
    // Answers go back on that connection, if it comes from the host the peer advertises: without a
    // swarm key anyone may connect and claim an id, and must not divert our answers to that peer.
    if (via !== null && hp !== null && via.remoteHost === hp.host && this.replyVia.get(from) !== via)
      this.replyVia.set(from, via);
  }

  /**
   * A peer we keep sending to but have not heard from for an election
   * timeout may sit behind a stalled connection (see TcpTransport.reset):
   * redial it, at most once per election timeout. On a real partition the new
   * dial fails and back-off takes over (at most 2 s between tries), so a heal
   * is noticed within seconds instead of at the kernel's next retransmission.
   * Costs one connection attempt per silent peer per election timeout.
   */
  resetSilentLinks(now: number): void {
    const t = this.host.transport();
    const core = this.host.core();
    if (t === null || core === null) return;
    const quiet = this.host.electionTimeoutMs;
    for (const [id, heard] of this.heardAt) {
      const conf = core.confState;
      if (!conf.voters.includes(id) && !conf.learners.includes(id)) {
        this.heardAt.delete(id);
        this.sentAt.delete(id);
        this.replyVia.delete(id);
        continue;
      }
      // Sent to since we last heard, and silent for an election timeout: a link that merely went idle
      // (two followers after an election) is left alone, so an idle swarm opens no connections. A
      // learner answers only the heartbeat rounds it gets: the gap between two of them does not count.
      const q = conf.learners.includes(id) ? quiet + (this.host.learnerHeartbeatMs ?? 0) : quiet;
      if ((this.sentAt.get(id) ?? 0) <= heard || now - heard < q) continue;
      if (now - (this.resetAt.get(id) ?? 0) < q) continue;
      const hp = this.peerAddr(id);
      if (hp === null) continue;
      this.resetAt.set(id, now);
      if (t.reset(hp))
        this.host.log.debug('raft link silent: redialling', { peer: id, silent_ms: now - heard });
    }
  }

  /**
   * A dial to `addr` was refused: if that is the leader's Raft port, its
   * process is gone (a SIGKILL, a crash), so stand for election now rather
   * than after a whole election timeout. See RaftNode.peerUnreachable.
   */
  onPeerRefused(addr: string): void {
    const core = this.host.core();
    if (core === null || this.host.stopping()) return;
    const leader = core.leaderId;
    if (leader === null) return;
    const hp = this.peerAddr(leader);
    if (hp === null || peerKey(hp) !== addr) return;
    if (core.peerUnreachable(leader, Date.now())) {
      this.host.log.info('raft leader unreachable: its port refuses connections', { leader });
      this.host.kick();
    }
  }
}

function countSend(m: RaftMessage): void {
  countOp(`send.${m.type}`);
  if (m.type === 'append_entries') {
    countOp('send.append_entries.entries', m.entries.length);
    if (m.entries.length === 0) countOp('send.append_entries.empty');
  }
  if (m.type === 'heartbeat') countOp(m.readCtx > 0 ? 'send.heartbeat.read' : 'send.heartbeat.plain');
}
