/**
 * TCP transport for Raft: length-prefixed frames (framing.ts), each frame one
 * packet (plain, or sealed with the same keyring as gossip).
 *
 * Each node dials one persistent outgoing connection per peer and sends its
 * own messages on it; it receives on the connections peers dialled to it.
 * Two streams per pair, as etcd does, avoid the tie-breaking dance of sharing
 * one connection when both sides dial at once. Answers are the exception:
 * `reply` sends one back on the accepted connection its request came in on
 * (ReplyPath), so it carries the request's TCP ACK; every version reads
 * frames on the connections it dialled, with the same checks.
 *
 * Back-pressure: frames wait in a per-peer queue while the socket is
 * connecting or its kernel buffer is full ('drain'); once the queue and the
 * socket's buffer hold `maxQueueBytes`, `send` refuses (Raft resends, so
 * refusing is better than buffering without bound for a dead peer).
 *
 * Unauthenticated input is bounded (the port binds 0.0.0.0 by default, so
 * anyone may connect): a connection starts with a 64 KiB frame limit until
 * its peer authenticates, that is until a frame from it opens (decrypts with
 * the swarm key, or, without a key, decodes); only then may it send frames
 * up to `maxFrameBytes`. At most `maxUnauthenticated` such connections are
 * open at once (more are closed at accept), and one that has not
 * authenticated within `authTimeoutMs` is closed. A dialler opens each
 * connection with a small hello frame, so a peer whose first real message is
 * a large snapshot is authenticated before that frame arrives.
 */
import { countOp } from '../common/op-counts.js';
import net from 'node:net';
import { randomInt } from '../common/random.js';
import { createRng, type Rng } from '../common/rng.js';
import { UNAUTHENTICATED_REASONS, type DropReason, type MessageCodec, type WireMessage } from './codec.js';
import type { Keyring } from './crypto.js';
import { TransportError } from './errors.js';
import { ENCRYPTED_VERSION, PROTOCOL_VERSION } from './codec.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, UNAUTHENTICATED_MAX_FRAME_BYTES, frame } from './framing.js';
import { copyStats, countDrop, newStats, openMessage, sealChecked, type TransportStats } from './wire.js';

export interface TcpAddress {
  readonly host: string;
  readonly port: number;
}

export interface BackoffOptions {
  /** First retry delay before jitter, ms. */
  readonly initialMs?: number;
  /** Ceiling of the doubling delay, ms. */
  readonly maxMs?: number;
}

export interface TcpTransportOptions<M extends WireMessage> {
  readonly codec: MessageCodec<M>;
  readonly bindAddress: string;
  /** 0 lets the OS choose (tests). */
  readonly port: number;
  readonly keyring?: Keyring | null;
  readonly maxFrameBytes?: number;
  /** Frame limit before a connection's peer authenticated. Default 64 KiB. */
  readonly unauthenticatedMaxFrameBytes?: number;
  /** Inbound connections not yet authenticated, at most; more are closed at accept. Default 16. */
  readonly maxUnauthenticated?: number;
  /** An inbound connection not authenticated within this many ms is closed. Default 10 s. */
  readonly authTimeoutMs?: number;
  /** Per-peer cap on queued plus kernel-buffered bytes. Default 32 MiB. */
  readonly maxQueueBytes?: number;
  readonly backoff?: BackoffOptions;
  readonly connectTimeoutMs?: number;
  /** Jitter source; default seeded from crypto (tests pass a fixed seed). */
  readonly rng?: Rng;
  /**
   * `via` is the accepted connection the message came in on (null on one we
   * dialled): `reply(via, ...)` answers on it (see ReplyPath).
   */
  readonly onMessage: (msg: M, remote: TcpAddress, via: ReplyPath | null) => void;
  readonly onError?: (err: Error) => void;
  /**
   * Link changes to a peer ("host:port"). 'refused' means a dial met
   * ECONNREFUSED: nothing listens there, the strongest sign a process is gone.
   */
  readonly onPeerState?: (peer: string, state: 'connected' | 'disconnected' | 'refused') => void;
  /** An inbound frame failed authentication (wrong key, or a key on one side only). */
  readonly onRefused?: (remote: TcpAddress, reason: DropReason) => void;
}

export type TcpSendResult = 'queued' | 'oversize' | 'backpressure' | 'invalid' | 'closed';

export interface PeerInfo {
  readonly peer: string;
  readonly state: 'connecting' | 'open' | 'waiting';
  readonly queuedBytes: number;
  readonly attempt: number;
}

/** What flush() writes to: a dialled link, or an accepted connection answered on (ReplyPath). */
interface Outlet {
  socket: net.Socket | null;
  state: 'connecting' | 'open' | 'waiting';
  queue: Buffer[];
  queuedBytes: number;
  blocked: boolean;
  /**
   * The caller's tag of each queued frame sent with one (see send): a frame still in `queue` was
   * never handed to a socket, so `withdraw` can take it back with the certainty it never left.
   */
  tagged: Map<Buffer, number>;
}

/**
 * An accepted connection, as handed to onMessage: answers to what came in on
 * it may go back on it (`reply`). A Raft answer then travels in the segment
 * that acknowledges the request (the receiver's delayed ACK rides on it)
 * instead of on a connection of its own, where both the request and the
 * answer cost a bare ACK: 3 segments a heartbeat round instead of 4. Every
 * version of this transport reads frames on the connections it dialled, so
 * older peers accept answers sent this way.
 */
export class ReplyPath implements Outlet {
  socket: net.Socket | null;
  state: 'connecting' | 'open' | 'waiting' = 'open';
  queue: Buffer[] = [];
  queuedBytes = 0;
  blocked = false;
  tagged = new Map<Buffer, number>();
  /** The peer's address as the connection shows it (its source address; the port is ephemeral). */
  readonly remoteHost: string;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.remoteHost = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  }

  /** False once the connection closed: answer over a dialled link instead. */
  get open(): boolean {
    return this.socket !== null;
  }
}

interface Link extends Outlet {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  socket: net.Socket | null;
  state: 'connecting' | 'open' | 'waiting';
  queue: Buffer[];
  queuedBytes: number;
  blocked: boolean;
  tagged: Map<Buffer, number>;
  attempt: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Type code of the hello frame, the top of Raft's range (0x40-0x7F), reserved
 * for the transport: `[PROTOCOL_VERSION][0x7F]`, sealed like any packet. It
 * carries nothing but the proof that its sender holds the swarm key; a node
 * that does not know it counts one `unknown_type` drop per connection.
 */
export const HELLO_TYPE = 0x7f;
const HELLO_PLAINTEXT = Uint8Array.of(PROTOCOL_VERSION, HELLO_TYPE);

/**
 * TCP keepalive idle time on every Raft connection. Keepalive fires only on a
 * connection that carried nothing for this long, and each probe costs two
 * segments (probe and answer) from each end that probes (both ends enable
 * it). Traffic that matters never idles that long (heartbeats), so at 10 s
 * probes ran on exactly the connections that do not matter: links left over
 * from past elections and leaders, and learner links between their sparse
 * heartbeat rounds. Liveness does not rest on them: a silent peer is found by
 * Raft (heartbeats, check-quorum), the silent-link redial and gossip; and
 * with Linux's default 75 s probe interval and 9 probes, keepalive took over
 * 11 minutes to find a dead peer anyway. What it still does is reclaim the
 * socket of a peer that vanished without a FIN (power loss), which 5 minutes
 * serves as well, and it stays under NAT and firewall idle timeouts
 * (RFC 5382: at least 2 h 4 min).
 */
export const KEEPALIVE_IDLE_MS = 300_000;

/** Per-connection receive state. */
interface Receiver {
  readonly decoder: FrameDecoder;
  authenticated: boolean;
  /** Inbound only: closes the connection if it has not authenticated in time. */
  timer: NodeJS.Timeout | null;
}

export function peerKey(a: TcpAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Parse "host:port" or "[v6]:port". */
export function parsePeer(s: string): TcpAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TransportError(`bad peer address ${JSON.stringify(s)} (want host:port)`);
  }
  return { host: m[1] as string, port };
}

export class TcpTransport<M extends WireMessage> {
  private readonly opts: TcpTransportOptions<M>;
  private readonly server: net.Server;
  private keyring: Keyring | null;
  private readonly maxFrameBytes: number;
  private readonly maxQueueBytes: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly rng: Rng;
  private readonly links = new Map<string, Link>();
  private readonly inbound = new Set<net.Socket>();
  private readonly unauthenticated = new Set<net.Socket>();
  private readonly preAuthMaxFrameBytes: number;
  private readonly maxUnauthenticated: number;
  private readonly authTimeoutMs: number;
  private readonly counters: TransportStats = newStats();
  private closed = false;
  private readonly dirty = new Set<Outlet>();
  private flushQueued = false;
  /** A flush at the end of this event-loop turn is queued (see send's `flush`). */
  private turnFlushQueued = false;

  private constructor(opts: TcpTransportOptions<M>) {
    this.opts = opts;
    this.keyring = opts.keyring ?? null;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxQueueBytes = opts.maxQueueBytes ?? 32 * 1024 * 1024;
    this.preAuthMaxFrameBytes = Math.min(
      this.maxFrameBytes,
      opts.unauthenticatedMaxFrameBytes ?? UNAUTHENTICATED_MAX_FRAME_BYTES,
    );
    this.maxUnauthenticated = opts.maxUnauthenticated ?? 16;
    this.authTimeoutMs = opts.authTimeoutMs ?? 10_000;
    this.initialMs = opts.backoff?.initialMs ?? 50;
    this.maxMs = opts.backoff?.maxMs ?? 2000;
    this.rng = opts.rng ?? createRng(randomInt(2 ** 31));
    this.server = net.createServer((s) => this.accept(s));
  }

  static async listen<M extends WireMessage>(opts: TcpTransportOptions<M>): Promise<TcpTransport<M>> {
    const t = new TcpTransport(opts);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(
          new TransportError(
            `cannot listen on TCP ${opts.bindAddress}:${opts.port}`,
            { port: opts.port },
            err,
          ),
        );
      t.server.once('error', onError);
      t.server.listen({ host: opts.bindAddress, port: opts.port }, () => {
        t.server.off('error', onError);
        resolve();
      });
    });
    t.server.on('error', (err) => t.opts.onError?.(err));
    return t;
  }

  address(): TcpAddress {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new TransportError('TCP transport is not listening');
    return { host: a.address, port: a.port };
  }

  setKeyring(keyring: Keyring | null): void {
    this.keyring = keyring;
  }

  stats(): TransportStats {
    return copyStats(this.counters);
  }

  peers(): PeerInfo[] {
    return [...this.links.values()].map((l) => ({
      peer: l.key,
      state: l.state,
      queuedBytes: l.queuedBytes + (l.socket?.writableLength ?? 0),
      attempt: l.attempt,
    }));
  }

  /**
   * Queue a message for `to`, dialling it if this is the first message.
   * `flush` 'task' writes it once the current task has sent everything it
   * will (see scheduleFlush); 'turn' once this event-loop turn's I/O callbacks
   * have all run, for messages each I/O callback makes one of (a follower's
   * forwarded requests, one per client request read): those of one turn then
   * leave in one write instead of one each.
   * `tag` (a forwarded request's id) lets the caller take the frame back while it is still queued,
   * never written (see withdraw).
   */
  send(to: TcpAddress | string, msg: M, flush: 'task' | 'turn' = 'task', tag?: number): TcpSendResult {
    if (this.closed) return 'closed';
    const addr = typeof to === 'string' ? parsePeer(to) : to;
    const packet = this.seal(msg);
    if (typeof packet === 'string') return packet;
    return this.enqueue(this.linkFor(addr), packet, flush, tag);
  }

  /**
   * Take back the frames sent to `to` with one of `tags` that are still queued: never handed to a
   * socket, so they provably never reached the peer, and, removed here, never will (a process
   * restarted at that address does not get them on the next dial). Returns the tags taken back; a
   * tag not returned was written to a connection (its frame may have arrived) or was never queued.
   * Used when the peer's port refused a dial and when a request's answer is given up on: a
   * forwarded write that never left may then go to another leader instead of failing with an
   * unknown outcome, and one that is reported unknown cannot run later (issue #16).
   */
  withdraw(to: TcpAddress | string, tags: readonly number[]): number[] {
    const link = this.existingLink(to);
    if (!link || link.tagged.size === 0 || tags.length === 0) return [];
    const want = new Set(tags);
    const taken: number[] = [];
    const keep: Buffer[] = [];
    for (const f of link.queue) {
      const tag = link.tagged.get(f);
      if (tag !== undefined && want.has(tag)) {
        taken.push(tag);
        link.tagged.delete(f);
        link.queuedBytes -= f.length;
      } else keep.push(f);
    }
    link.queue = keep;
    return taken;
  }

  /** Frame `packet` onto `out`, bounded by maxQueueBytes (queued plus what the socket holds). */
  private enqueue(
    out: Outlet,
    packet: Uint8Array,
    flush: 'task' | 'turn' = 'task',
    tag?: number,
  ): TcpSendResult {
    const f = frame(packet);
    if (out.queuedBytes + (out.socket?.writableLength ?? 0) + f.length > this.maxQueueBytes) {
      this.counters.droppedBackpressure += 1;
      return 'backpressure';
    }
    out.queue.push(f);
    out.queuedBytes += f.length;
    if (tag !== undefined) out.tagged.set(f, tag);
    if (flush === 'turn') this.scheduleTurnFlush(out);
    else this.scheduleFlush(out);
    return 'queued';
  }

  private seal(msg: M): Uint8Array | 'invalid' | 'oversize' {
    return sealChecked(
      this.opts.codec,
      msg,
      this.keyring,
      this.maxFrameBytes,
      this.counters,
      this.opts.onError,
    );
  }

  /**
   * Answer on the accepted connection `via` a message came in on (see
   * ReplyPath). 'closed' when that connection is gone: the caller sends
   * over its own link instead.
   */
  reply(via: ReplyPath, msg: M): TcpSendResult {
    if (this.closed || !via.open) return 'closed';
    const packet = this.seal(msg);
    if (typeof packet === 'string') return packet;
    return this.enqueue(via, packet);
  }

  /**
   * Make sure a link to `to` exists (dial it if not), without sending on it.
   * A node that answers a peer on the peer's own connection has no traffic
   * of its own for it, but its link still reports the peer's process gone
   * ('refused' on redial after the peer's FIN), which is how a follower
   * hears of a crashed leader within a round trip.
   */
  ensureLink(to: TcpAddress | string): void {
    if (this.closed) return;
    this.linkFor(typeof to === 'string' ? parsePeer(to) : to);
  }

  /**
   * Drop the connection to a peer and dial it again now. For a link the
   * caller has evidence is stalled: a connection whose peer vanished mid-send
   * stays "open" while the kernel retransmits with exponential back-off (up
   * to 2 min apart), so after a partition heals it can stay silent for tens
   * of seconds; a new connection's SYN is answered at once. Returns whether
   * there was a connection to drop.
   */
  reset(to: TcpAddress | string): boolean {
    const link = this.existingLink(to);
    if (!link || link.socket === null) return false;
    const s = link.socket;
    link.socket = null;
    link.blocked = false;
    if (link.state === 'open') this.opts.onPeerState?.(link.key, 'disconnected');
    link.state = 'waiting';
    s.destroy();
    this.redialNow(link);
    return true;
  }

  /**
   * The peer is up (it has just sent us something over its own connection): a
   * link waiting out its redial back-off dials now. After a peer restarts, the
   * back-off can have grown to seconds, during which our answers to it would
   * wait and, were it to crash again, the refused dial that signals the crash
   * would come that much later. Returns whether a dial started.
   */
  peerAlive(to: TcpAddress | string): boolean {
    const link = this.existingLink(to);
    if (!link || link.state !== 'waiting' || link.timer === null) return false;
    this.redialNow(link);
    return true;
  }

  /** Forget a peer (it left the cluster): close its connection and stop redialling. */
  disconnect(to: TcpAddress | string): void {
    const link = this.existingLink(to);
    if (!link) return;
    this.links.delete(link.key);
    if (link.timer) clearTimeout(link.timer);
    link.socket?.destroy();
  }

  private existingLink(to: TcpAddress | string): Link | undefined {
    return this.links.get(peerKey(typeof to === 'string' ? parsePeer(to) : to));
  }

  /** Dial now, with a fresh back-off, instead of when the pending redial timer fires. */
  private redialNow(link: Link): void {
    if (link.timer) clearTimeout(link.timer);
    link.attempt = 0;
    this.dial(link);
  }

  private linkFor(addr: TcpAddress): Link {
    const key = peerKey(addr);
    let link = this.links.get(key);
    if (!link) {
      link = {
        key,
        host: addr.host,
        port: addr.port,
        socket: null,
        state: 'waiting',
        queue: [],
        queuedBytes: 0,
        blocked: false,
        tagged: new Map(),
        attempt: 0,
        timer: null,
      };
      this.links.set(key, link);
      this.dial(link);
    }
    return link;
  }

  private dial(link: Link): void {
    link.timer = null;
    if (this.closed || this.links.get(link.key) !== link) return;
    link.state = 'connecting';
    link.blocked = false;
    const s = net.connect({ host: link.host, port: link.port });
    link.socket = s;
    s.setNoDelay(true);
    s.setTimeout(this.opts.connectTimeoutMs ?? 2000, () => {
      if (link.state === 'connecting') s.destroy(new Error(`connect timeout to ${link.key}`));
    });
    s.once('connect', () => {
      s.setTimeout(0);
      s.setKeepAlive(true, KEEPALIVE_IDLE_MS);
      link.state = 'open';
      link.attempt = 0;
      this.sendHello(s);
      this.opts.onPeerState?.(link.key, 'connected');
      this.flush(link);
    });
    // Peers do not send on the connections we dial; whatever arrives there is held to the same limits.
    const rx: Receiver = {
      decoder: new FrameDecoder(this.preAuthMaxFrameBytes),
      authenticated: false,
      timer: null,
    };
    s.on('data', (chunk: Buffer) => this.onData(s, rx, chunk));
    s.on('error', (err: NodeJS.ErrnoException) => {
      // 'close' follows and schedules the redial; connection errors are routine.
      if (err.code === 'ECONNREFUSED') this.opts.onPeerState?.(link.key, 'refused');
    });
    s.once('close', () => {
      if (link.socket !== s) return;
      const wasOpen = link.state === 'open';
      link.socket = null;
      link.blocked = false;
      if (s.writableLength > 0) this.counters.sendErrors += 1;
      if (wasOpen) this.opts.onPeerState?.(link.key, 'disconnected');
      if (this.closed || this.links.get(link.key) !== link) return;
      link.state = 'waiting';
      link.timer = setTimeout(() => this.dial(link), this.backoffDelay(link.attempt));
      link.timer.unref();
      link.attempt += 1;
    });
  }

  /** Exponential back-off with "equal jitter": half fixed, half random, so peers do not redial in lockstep. */
  private backoffDelay(attempt: number): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(attempt, 30));
    return base / 2 + this.rng.next() * (base / 2);
  }

  /**
   * Write a link's queue once the current task has sent everything it will:
   * the messages of one Raft Ready then leave in one write (one syscall, one
   * TCP segment when they fit) instead of one each. Measured on the raft-kv
   * bench: writeBuffer was the leader's largest CPU cost.
   */
  private scheduleFlush(link: Outlet): void {
    this.dirty.add(link);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flushDirty());
  }

  /**
   * Write a link's queue in the check phase of this event-loop turn (setImmediate), after the
   * poll phase has run every I/O callback that was ready: a follower reading eight clients' writes
   * in one turn forwards them in one write (one syscall here, one read at the leader) instead of
   * eight. Queued from the poll phase, the wait is within the same turn; a task flush
   * (scheduleFlush) that runs first takes these frames along.
   */
  private scheduleTurnFlush(link: Outlet): void {
    this.dirty.add(link);
    if (this.turnFlushQueued || this.flushQueued) return;
    this.turnFlushQueued = true;
    setImmediate(() => {
      this.turnFlushQueued = false;
      if (!this.closed) this.flushDirty();
    });
  }

  private flushDirty(): void {
    this.flushQueued = false;
    const links = [...this.dirty];
    this.dirty.clear();
    for (const l of links) this.flush(l);
  }

  private flush(link: Outlet): void {
    const s = link.socket;
    if (link.state !== 'open' || !s || link.blocked || link.queue.length === 0) return;
    const frames = link.queue;
    link.queue = [];
    link.queuedBytes = 0;
    // Written from here on: no longer withdrawable.
    if (link.tagged.size > 0) link.tagged.clear();
    const batch = frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
    this.counters.packetsOut += frames.length;
    this.counters.bytesOut += batch.length;
    countOp('sock.write');
    countOp('sock.frames', frames.length);
    if (!s.write(batch)) {
      link.blocked = true;
      s.once('drain', () => {
        if (link.socket !== s) return;
        link.blocked = false;
        this.flush(link);
      });
    }
  }

  /** The hello goes first on a new connection, ahead of any queued frame (see HELLO_TYPE). */
  private sendHello(s: net.Socket): void {
    const packet = this.keyring ? this.keyring.seal(HELLO_PLAINTEXT) : HELLO_PLAINTEXT;
    const f = frame(packet);
    this.counters.bytesOut += f.length;
    s.write(f);
  }

  private isHello(payload: Uint8Array): boolean {
    const plain = this.keyring
      ? payload[0] === ENCRYPTED_VERSION
        ? this.keyring.open(payload)
        : null
      : payload;
    return (
      plain !== null &&
      plain.length === HELLO_PLAINTEXT.length &&
      plain[0] === HELLO_PLAINTEXT[0] &&
      plain[1] === HELLO_PLAINTEXT[1]
    );
  }

  private accept(s: net.Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    if (this.unauthenticated.size >= this.maxUnauthenticated) {
      this.counters.refused.connection_cap += 1;
      s.destroy();
      return;
    }
    this.inbound.add(s);
    this.unauthenticated.add(s);
    s.setNoDelay(true);
    s.setKeepAlive(true, KEEPALIVE_IDLE_MS);
    const rx: Receiver = {
      decoder: new FrameDecoder(this.preAuthMaxFrameBytes),
      authenticated: false,
      timer: null,
    };
    rx.timer = setTimeout(() => {
      rx.timer = null;
      if (rx.authenticated) return;
      this.counters.refused.auth_timeout += 1;
      s.destroy();
    }, this.authTimeoutMs);
    rx.timer.unref();
    const via = new ReplyPath(s);
    s.on('data', (chunk: Buffer) => this.onData(s, rx, chunk, via));
    s.on('error', () => {
      // A peer resetting its end is routine; 'close' cleans up.
    });
    s.once('close', () => {
      via.socket = null;
      via.queue = [];
      via.queuedBytes = 0;
      this.inbound.delete(s);
      this.unauthenticated.delete(s);
      if (rx.timer) clearTimeout(rx.timer);
    });
  }

  /** The peer proved itself (a frame from it opened): lift the small limit, stop its clock. */
  private authenticate(s: net.Socket, rx: Receiver): void {
    rx.authenticated = true;
    rx.decoder.setMaxFrameBytes(this.maxFrameBytes);
    this.unauthenticated.delete(s);
    if (rx.timer) clearTimeout(rx.timer);
    rx.timer = null;
  }

  private onData(s: net.Socket, rx: Receiver, chunk: Buffer, via: ReplyPath | null = null): void {
    this.counters.bytesIn += chunk.length;
    rx.decoder.feed(chunk);
    for (let ev = rx.decoder.next(); ev !== null; ev = rx.decoder.next()) {
      if (ev.kind === 'oversize') {
        // The stream cannot be resynchronised after a bogus length: drop the connection.
        countDrop(this.counters, 'oversize');
        if (!rx.authenticated) this.counters.refused.oversize_unauthenticated += 1;
        s.destroy();
        return;
      }
      // The hello is the transport's own, not a packet: only its bytes are counted.
      if (!rx.authenticated && this.isHello(ev.payload)) {
        this.authenticate(s, rx);
        continue;
      }
      this.counters.packetsIn += 1;
      const res = openMessage(this.opts.codec, ev.payload, this.keyring);
      if (!res.ok) {
        countDrop(this.counters, res.reason);
        if (UNAUTHENTICATED_REASONS.has(res.reason))
          this.opts.onRefused?.({ host: s.remoteAddress ?? '', port: s.remotePort ?? 0 }, res.reason);
        continue;
      }
      if (!rx.authenticated) this.authenticate(s, rx);
      try {
        this.opts.onMessage(res.msg, { host: s.remoteAddress ?? '', port: s.remotePort ?? 0 }, via);
      } catch (e) {
        this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  /**
   * Stop dialling, flush what is already written (end), close the listener,
   * and destroy whatever has not closed after `graceMs`.
   */
  async close(graceMs = 1000): Promise<void> {
    if (this.closed) return;
    // What was sent in this task still goes out before the sockets end.
    this.flushDirty();
    this.closed = true;
    const sockets: net.Socket[] = [...this.inbound];
    for (const s of this.unauthenticated) s.destroy();
    for (const link of this.links.values()) {
      if (link.timer) clearTimeout(link.timer);
      link.timer = null;
      link.queue = [];
      link.queuedBytes = 0;
      link.tagged.clear();
      if (link.socket) sockets.push(link.socket);
    }
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const socketClosed = sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          s.once('close', () => resolve());
          s.end();
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const done = await Promise.race([
      Promise.all([serverClosed, ...socketClosed]).then(() => 'done' as const),
      grace,
    ]);
    if (done === 'timeout') for (const s of sockets) s.destroy();
    clearTimeout(timer);
    await serverClosed;
    this.links.clear();
  }
}
