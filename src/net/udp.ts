/**
 * UDP transport for gossip: one unicast socket (bind_address:port) and, when
 * discovery is on, a second socket bound to the multicast port and joined to
 * the group. Multicast is sent from the unicast socket so that answers come
 * back to the address peers will gossip with.
 *
 * Multicast TTL is 1 (link-local: a swarm is one L2 segment) and the
 * interface can be pinned by its IPv4 address, since a host with several
 * interfaces otherwise sends on whichever the routing table picks.
 */
import dgram from 'node:dgram';
import { UNAUTHENTICATED_REASONS, type DropReason, type MessageCodec, type WireMessage } from './codec.js';
import type { Keyring } from './crypto.js';
import { TransportError } from './errors.js';
import { copyStats, countDrop, newStats, openMessage, sealChecked, type TransportStats } from './wire.js';

/** Safe UDP payload on Ethernet with IPv4/IPv6 headers and some tunnel slack. */
export const MAX_UDP_PAYLOAD = 1400;

export interface UdpAddress {
  readonly address: string;
  readonly port: number;
}

export interface MulticastOptions {
  readonly group: string;
  readonly port: number;
  /** IPv4 address of the interface to join and send on; default: the kernel's choice. */
  readonly interfaceAddress?: string;
  /** Receive our own multicast (needed when several nodes share a host). Default true. */
  readonly loopback?: boolean;
  /** Default 1: never leave the local segment. */
  readonly ttl?: number;
}

export interface UdpTransportOptions<M extends WireMessage> {
  readonly codec: MessageCodec<M>;
  readonly bindAddress: string;
  /** 0 lets the OS choose (tests). */
  readonly port: number;
  readonly keyring?: Keyring | null;
  readonly maxPayload?: number;
  readonly multicast?: MulticastOptions;
  readonly onMessage: (msg: M, from: UdpAddress, via: 'unicast' | 'multicast') => void;
  /** Socket errors after startup (never input errors: those are counted). */
  readonly onError?: (err: Error) => void;
  /** A datagram failed authentication (wrong key, or a key on one side only); for the refused-peers table. */
  readonly onRefused?: (from: UdpAddress, reason: DropReason, via: 'unicast' | 'multicast') => void;
}

/** `invalid`: the message broke its own schema (a local bug, reported through onError). */
export type SendResult = 'sent' | 'oversize' | 'invalid' | 'closed';

function bindSocket(sock: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    sock.once('error', onError);
    sock.bind({ port, address, exclusive: false }, () => {
      sock.off('error', onError);
      resolve();
    });
  });
}

export class UdpTransport<M extends WireMessage> {
  private readonly opts: UdpTransportOptions<M>;
  private readonly sock: dgram.Socket;
  private mcastSock: dgram.Socket | null = null;
  private keyring: Keyring | null;
  private readonly maxPayload: number;
  private readonly counters: TransportStats = newStats();
  private closed = false;

  private constructor(opts: UdpTransportOptions<M>, sock: dgram.Socket) {
    this.opts = opts;
    this.sock = sock;
    this.keyring = opts.keyring ?? null;
    this.maxPayload = opts.maxPayload ?? MAX_UDP_PAYLOAD;
  }

  /** Bind the sockets (and join the group); rejects with TransportError when the port is taken. */
  static async open<M extends WireMessage>(opts: UdpTransportOptions<M>): Promise<UdpTransport<M>> {
    const family = opts.bindAddress.includes(':') ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type: family });
    const t = new UdpTransport(opts, sock);
    try {
      await bindSocket(sock, opts.port, opts.bindAddress);
    } catch (e) {
      sock.close();
      throw new TransportError(`cannot bind UDP ${opts.bindAddress}:${opts.port}`, { port: opts.port }, e);
    }
    sock.on('message', (buf, rinfo) => t.receive(buf, rinfo, 'unicast'));
    sock.on('error', (err) => t.opts.onError?.(err));
    if (opts.multicast) {
      try {
        await t.joinMulticast(opts.multicast);
      } catch (e) {
        await t.close();
        throw new TransportError(
          `cannot join multicast ${opts.multicast.group}:${opts.multicast.port}`,
          {},
          e,
        );
      }
    }
    return t;
  }

  private async joinMulticast(m: MulticastOptions): Promise<void> {
    this.sock.setMulticastTTL(m.ttl ?? 1);
    this.sock.setMulticastLoopback(m.loopback ?? true);
    if (m.interfaceAddress) this.sock.setMulticastInterface(m.interfaceAddress);
    // reuseAddr: several nodes on one host all listen on the well-known discovery port.
    const ms = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.mcastSock = ms;
    // Bound to the group address so unicast traffic to this port is not delivered here.
    await bindSocket(ms, m.port, m.group);
    ms.addMembership(m.group, m.interfaceAddress);
    ms.setMulticastLoopback(m.loopback ?? true);
    ms.on('message', (buf, rinfo) => this.receive(buf, rinfo, 'multicast'));
    ms.on('error', (err) => this.opts.onError?.(err));
  }

  address(): UdpAddress {
    const a = this.sock.address();
    return { address: a.address, port: a.port };
  }

  /** Swap keys at runtime (rotation, or turning encryption on); null means plaintext. */
  setKeyring(keyring: Keyring | null): void {
    this.keyring = keyring;
  }

  encrypted(): boolean {
    return this.keyring !== null;
  }

  stats(): TransportStats {
    return copyStats(this.counters);
  }

  /**
   * Send one message. Oversize packets are refused and counted, never
   * fragmented: IP fragments are lost together and many IoT stacks drop them.
   */
  send(msg: M, to: UdpAddress): SendResult {
    return this.sendTo(msg, to.address, to.port);
  }

  /** Announce to the discovery group (requires `multicast` in the options). */
  sendMulticast(msg: M): SendResult {
    const m = this.opts.multicast;
    if (!m) throw new TransportError('multicast is not configured on this transport');
    return this.sendTo(msg, m.group, m.port);
  }

  private sendTo(msg: M, address: string, port: number): SendResult {
    if (this.closed) return 'closed';
    const packet = sealChecked(
      this.opts.codec,
      msg,
      this.keyring,
      this.maxPayload,
      this.counters,
      this.opts.onError,
    );
    if (typeof packet === 'string') return packet;
    this.counters.packetsOut += 1;
    this.counters.bytesOut += packet.length;
    this.sock.send(packet, port, address, (err) => {
      if (err) {
        this.counters.sendErrors += 1;
        this.opts.onError?.(err);
      }
    });
    return 'sent';
  }

  private receive(buf: Buffer, rinfo: dgram.RemoteInfo, via: 'unicast' | 'multicast'): void {
    this.counters.packetsIn += 1;
    this.counters.bytesIn += buf.length;
    if (buf.length > this.maxPayload) {
      countDrop(this.counters, 'oversize');
      return;
    }
    const res = openMessage(this.opts.codec, buf, this.keyring);
    if (!res.ok) {
      countDrop(this.counters, res.reason);
      if (UNAUTHENTICATED_REASONS.has(res.reason))
        this.opts.onRefused?.({ address: rinfo.address, port: rinfo.port }, res.reason, via);
      return;
    }
    try {
      this.opts.onMessage(res.msg, { address: rinfo.address, port: rinfo.port }, via);
    } catch (e) {
      // The handler's bug is reported, but one bad message must not stop the socket.
      this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closeOne = (s: dgram.Socket): Promise<void> =>
      new Promise((resolve) => {
        try {
          s.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      });
    const ms = this.mcastSock;
    this.mcastSock = null;
    if (ms) {
      try {
        ms.dropMembership(this.opts.multicast?.group ?? '', this.opts.multicast?.interfaceAddress);
      } catch {
        // Membership goes with the socket anyway.
      }
      await closeOne(ms);
    }
    await closeOne(this.sock);
  }
}
