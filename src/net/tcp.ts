/**
 * TCP transport for Raft: length-prefixed frames (framing.ts), each frame one
 * packet (plain, or sealed with the same keyring as gossip).
 *
 * Each node dials one persistent outgoing connection per peer and sends on it
 * only; it receives on the connections peers dialled to it. Two one-way
 * streams per pair, as etcd does, avoid the tie-breaking dance of sharing one
 * connection when both sides dial at once.
 *
 * Back-pressure: frames wait in a per-peer queue while the socket is
 * connecting or its kernel buffer is full ('drain'); once the queue and the
 * socket's buffer hold `maxQueueBytes`, `send` refuses (Raft resends, so
 * refusing is better than buffering without bound for a dead peer).
 */
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { createRng, type Rng } from '../common/rng.js';
import { UNAUTHENTICATED_REASONS, type DropReason, type MessageCodec, type WireMessage } from './codec.js';
import type { Keyring } from './crypto.js';
import { TransportError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, frame } from './framing.js';
import { copyStats, countDrop, newStats, openMessage, sealMessage, type TransportStats } from './wire.js';

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
  /** Per-peer cap on queued plus kernel-buffered bytes. Default 32 MiB. */
  readonly maxQueueBytes?: number;
  readonly backoff?: BackoffOptions;
  readonly connectTimeoutMs?: number;
  /** Jitter source; default seeded from crypto (tests pass a fixed seed). */
  readonly rng?: Rng;
  readonly onMessage: (msg: M, remote: TcpAddress) => void;
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

interface Link {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  socket: net.Socket | null;
  state: 'connecting' | 'open' | 'waiting';
  queue: Buffer[];
  queuedBytes: number;
  blocked: boolean;
  attempt: number;
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
  private readonly counters: TransportStats = newStats();
  private closed = false;
  private readonly dirty = new Set<Link>();
  private flushQueued = false;

  private constructor(opts: TcpTransportOptions<M>) {
    this.opts = opts;
    this.keyring = opts.keyring ?? null;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxQueueBytes = opts.maxQueueBytes ?? 32 * 1024 * 1024;
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

  /** Queue a message for `to`, dialling it if this is the first message. */
  send(to: TcpAddress | string, msg: M): TcpSendResult {
    if (this.closed) return 'closed';
    const addr = typeof to === 'string' ? parsePeer(to) : to;
    let packet: Uint8Array;
    try {
      packet = sealMessage(this.opts.codec, msg, this.keyring);
    } catch (e) {
      this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
      return 'invalid';
    }
    if (packet.length > this.maxFrameBytes) {
      this.counters.droppedOversize += 1;
      this.counters.dropped.oversize += 1;
      return 'oversize';
    }
    const link = this.linkFor(addr);
    const f = frame(packet);
    if (link.queuedBytes + (link.socket?.writableLength ?? 0) + f.length > this.maxQueueBytes) {
      this.counters.droppedBackpressure += 1;
      return 'backpressure';
    }
    link.queue.push(f);
    link.queuedBytes += f.length;
    this.scheduleFlush(link);
    return 'queued';
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
      s.setKeepAlive(true, 10_000);
      link.state = 'open';
      link.attempt = 0;
      this.opts.onPeerState?.(link.key, 'connected');
      this.flush(link);
    });
    const decoder = new FrameDecoder(this.maxFrameBytes);
    s.on('data', (chunk: Buffer) => this.onData(s, decoder, chunk));
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
  private scheduleFlush(link: Link): void {
    this.dirty.add(link);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flushDirty());
  }

  private flushDirty(): void {
    this.flushQueued = false;
    const links = [...this.dirty];
    this.dirty.clear();
    for (const l of links) this.flush(l);
  }

  private flush(link: Link): void {
    const s = link.socket;
    if (link.state !== 'open' || !s || link.blocked || link.queue.length === 0) return;
    const frames = link.queue;
    link.queue = [];
    link.queuedBytes = 0;
    const batch = frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
    this.counters.packetsOut += frames.length;
    this.counters.bytesOut += batch.length;
    if (!s.write(batch)) {
      link.blocked = true;
      s.once('drain', () => {
        if (link.socket !== s) return;
        link.blocked = false;
        this.flush(link);
      });
    }
  }

  private accept(s: net.Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    this.inbound.add(s);
    s.setNoDelay(true);
    s.setKeepAlive(true, 10_000);
    const decoder = new FrameDecoder(this.maxFrameBytes);
    s.on('data', (chunk: Buffer) => this.onData(s, decoder, chunk));
    s.on('error', () => {
      // A peer resetting its end is routine; 'close' cleans up.
    });
    s.once('close', () => this.inbound.delete(s));
  }

  private onData(s: net.Socket, decoder: FrameDecoder, chunk: Buffer): void {
    this.counters.bytesIn += chunk.length;
    for (const ev of decoder.push(chunk)) {
      if (ev.kind === 'oversize') {
        // The stream cannot be resynchronised after a bogus length: drop the connection.
        countDrop(this.counters, 'oversize');
        s.destroy();
        return;
      }
      this.counters.packetsIn += 1;
      const res = openMessage(this.opts.codec, ev.payload, this.keyring);
      if (!res.ok) {
        countDrop(this.counters, res.reason);
        if (UNAUTHENTICATED_REASONS.has(res.reason))
          this.opts.onRefused?.({ host: s.remoteAddress ?? '', port: s.remotePort ?? 0 }, res.reason);
        continue;
      }
      try {
        this.opts.onMessage(res.msg, { host: s.remoteAddress ?? '', port: s.remotePort ?? 0 });
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
    for (const link of this.links.values()) {
      if (link.timer) clearTimeout(link.timer);
      link.timer = null;
      link.queue = [];
      link.queuedBytes = 0;
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
