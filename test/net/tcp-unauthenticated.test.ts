/**
 * The Raft port before a peer authenticated (issue #14, item 5): a small
 * frame limit, a cap on unauthenticated connections, a deadline to
 * authenticate, and the hello frame that lets a real peer's first large
 * message (a snapshot) through.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { Keyring } from '../../src/net/crypto.js';
import { FrameDecoder, frame } from '../../src/net/framing.js';
import { raftCodec } from '../../src/net/raft-codec.js';
import { TcpTransport, type TcpAddress, type TcpTransportOptions } from '../../src/net/tcp.js';
import type { ClusterRaftMessage as RaftMessage } from '../../src/net/raft-codec.js';
import { waitFor } from './helpers.js';

const open: TcpTransport<RaftMessage>[] = [];
const rawSockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of rawSockets.splice(0)) s.destroy();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function node(opts: Partial<TcpTransportOptions<RaftMessage>> = {}) {
  const inbox: RaftMessage[] = [];
  const t = await TcpTransport.listen<RaftMessage>({
    codec: raftCodec,
    bindAddress: '127.0.0.1',
    port: 0,
    backoff: { initialMs: 10, maxMs: 100 },
    rng: createRng(5),
    onMessage: (m) => inbox.push(m),
    ...opts,
  });
  open.push(t);
  return { t, inbox };
}

function raw(to: TcpAddress): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: to.host, port: to.port }, () => resolve(s));
    s.on('error', () => {});
    s.once('error', reject);
    rawSockets.push(s);
  });
}

const closed = (s: net.Socket): Promise<void> =>
  new Promise((r) => (s.destroyed ? r() : s.once('close', () => r())));

const hb = (commit: number): RaftMessage => ({
  type: 'heartbeat',
  from: 'a',
  to: 'b',
  term: 1,
  cluster: '',
  commit,
  readCtx: 0,
});

function bigAppend(bytes: number): RaftMessage {
  return {
    type: 'append_entries',
    from: 'a',
    to: 'b',
    term: 1,
    cluster: '',
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [{ index: 1, term: 1, type: 0, data: new Uint8Array(bytes).fill(7) }],
    commit: 0,
  };
}

describe('FrameDecoder', () => {
  it('buffers only the bytes that arrived, whatever length the header announces', () => {
    const d = new FrameDecoder(16 * 1024 * 1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(16 * 1024 * 1024 - 1);
    expect(d.push(header)).toEqual([]);
    expect(d.pending()).toBe(4);
    expect(d.push(Buffer.alloc(10))).toEqual([]);
    expect(d.pending()).toBe(14);
  });

  it('next() lets the limit rise between two frames of one chunk', () => {
    const d = new FrameDecoder(8);
    d.feed(Buffer.concat([frame(Uint8Array.of(1, 2)), frame(new Uint8Array(100))]));
    expect(d.next()).toMatchObject({ kind: 'frame' });
    d.setMaxFrameBytes(1000);
    expect(d.next()).toMatchObject({ kind: 'frame' });
    expect(d.next()).toBeNull();
  });
});

describe('TcpTransport before authentication', () => {
  it('closes an unauthenticated connection announcing a frame over 64 KiB, and counts it', async () => {
    const b = await node();
    const s = await raw(b.t.address());
    const header = Buffer.alloc(4);
    header.writeUInt32BE(16 * 1024 * 1024);
    s.write(header);
    await closed(s);
    expect(b.t.stats().refused.oversize_unauthenticated).toBe(1);
    expect(b.t.stats().dropped.oversize).toBe(1);
  });

  it('accepts a large first message from a real peer (hello first), plain and keyed', async () => {
    for (const keyring of [null, new Keyring(new Uint8Array(32).fill(3))]) {
      const a = await node({ keyring });
      const b = await node({ keyring });
      expect(a.t.send(b.t.address(), bigAppend(1024 * 1024))).toBe('queued');
      await waitFor(() => b.inbox.length === 1, 'the 1 MiB first message', 10_000);
      expect(b.t.stats().refused.oversize_unauthenticated).toBe(0);
    }
  });

  it('lifts the limit after a first valid frame (no hello: an older peer)', async () => {
    const b = await node();
    const s = await raw(b.t.address());
    s.write(Buffer.concat([frame(raftCodec.encode(hb(1))), frame(raftCodec.encode(bigAppend(200 * 1024)))]));
    await waitFor(() => b.inbox.length === 2, 'both frames');
    expect(s.destroyed).toBe(false);
  });

  it('a frame that does not open does not authenticate: the limit stays', async () => {
    const b = await node({ keyring: new Keyring(new Uint8Array(32).fill(3)) });
    const s = await raw(b.t.address());
    s.write(frame(raftCodec.encode(hb(1)))); // plaintext to a keyed node
    s.write(frame(new Uint8Array(100 * 1024)));
    await closed(s);
    expect(b.t.stats().refused.oversize_unauthenticated).toBe(1);
  });

  it('caps unauthenticated connections; authenticated ones do not count', async () => {
    const b = await node({ maxUnauthenticated: 3 });
    const a = await node();
    a.t.send(b.t.address(), hb(1));
    await waitFor(() => b.inbox.length === 1, 'a real peer');
    const socks = await Promise.all([1, 2, 3, 4, 5].map(() => raw(b.t.address())));
    await Promise.all(socks.slice(3).map(closed));
    expect(b.t.stats().refused.connection_cap).toBe(2);
    expect(socks.slice(0, 3).every((s) => !s.destroyed)).toBe(true);
    // The real peer's link is untouched.
    a.t.send(b.t.address(), hb(2));
    await waitFor(() => b.inbox.length === 2, 'still served');
  });

  it('closes a connection that has not authenticated within the deadline', async () => {
    const b = await node({ authTimeoutMs: 200 });
    const s = await raw(b.t.address());
    s.write(frame(Uint8Array.of(0x99))); // garbage: no authentication
    await closed(s);
    expect(b.t.stats().refused.auth_timeout).toBe(1);
    // An authenticated connection outlives the deadline.
    const a = await node();
    a.t.send(b.t.address(), hb(1));
    await waitFor(() => b.inbox.length === 1, 'delivery');
    await new Promise((r) => setTimeout(r, 400));
    a.t.send(b.t.address(), hb(2));
    await waitFor(() => b.inbox.length === 2, 'same connection after the deadline');
    expect(b.t.stats().refused.auth_timeout).toBe(1);
  });
});
