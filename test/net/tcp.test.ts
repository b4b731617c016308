import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { Keyring } from '../../src/net/crypto.js';
import { TransportError } from '../../src/net/errors.js';
import { frame } from '../../src/net/framing.js';
import { raftCodec } from '../../src/net/raft-codec.js';
import {
  KEEPALIVE_IDLE_MS,
  ReplyPath,
  TcpTransport,
  parsePeer,
  peerKey,
  type TcpAddress,
} from '../../src/net/tcp.js';
import type { ClusterRaftMessage as RaftMessage } from '../../src/net/raft-codec.js';
import { waitFor } from './helpers.js';
import { raftSamples } from './samples.js';

const open: TcpTransport<RaftMessage>[] = [];
const rawSockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of rawSockets.splice(0)) s.destroy();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function node(
  opts: {
    keyring?: Keyring | null;
    port?: number;
    maxFrameBytes?: number;
    maxQueueBytes?: number;
    backoff?: { initialMs: number; maxMs: number };
    onPeerState?: (peer: string, state: string) => void;
  } = {},
) {
  const inbox: RaftMessage[] = [];
  const t = await TcpTransport.listen<RaftMessage>({
    codec: raftCodec,
    bindAddress: '127.0.0.1',
    port: opts.port ?? 0,
    keyring: opts.keyring ?? null,
    backoff: opts.backoff ?? { initialMs: 10, maxMs: 100 },
    rng: createRng(5),
    onMessage: (m) => inbox.push(m),
    ...(opts.onPeerState ? { onPeerState: opts.onPeerState } : {}),
    ...(opts.maxFrameBytes ? { maxFrameBytes: opts.maxFrameBytes } : {}),
    ...(opts.maxQueueBytes ? { maxQueueBytes: opts.maxQueueBytes } : {}),
  });
  open.push(t);
  return { t, inbox };
}

/** A loopback address where nothing listens any more (a node that was closed). */
async function deadAddress(): Promise<TcpAddress> {
  const gone = await node();
  const addr = gone.t.address();
  await gone.t.close();
  open.splice(open.indexOf(gone.t), 1);
  return addr;
}

function raw(to: TcpAddress): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: to.host, port: to.port }, () => resolve(s));
    s.on('error', reject);
    rawSockets.push(s);
  });
}

const hb = (commit: number): RaftMessage => ({
  type: 'heartbeat',
  from: 'n1',
  to: 'n2',
  term: 1,
  cluster: '',
  commit,
  readCtx: 0,
});

describe('TcpTransport on loopback', () => {
  it('delivers every message type in order over one persistent connection', async () => {
    const a = await node();
    const b = await node();
    for (const m of raftSamples) expect(a.t.send(b.t.address(), m)).toBe('queued');
    for (let i = 0; i < 500; i++) a.t.send(peerKey(b.t.address()), hb(i));
    await waitFor(() => b.inbox.length === raftSamples.length + 500, 'all frames');
    expect(b.inbox.slice(0, raftSamples.length)).toEqual(raftSamples);
    expect(b.inbox.slice(raftSamples.length).map((m) => (m.type === 'heartbeat' ? m.commit : -1))).toEqual(
      Array.from({ length: 500 }, (_, i) => i),
    );
    expect(a.t.peers()).toMatchObject([{ peer: peerKey(b.t.address()), state: 'open' }]);
    expect(b.t.stats().packetsIn).toBe(raftSamples.length + 500);
    expect(b.t.stats().bytesIn).toBe(a.t.stats().bytesOut);
  });

  it('carries a multi-megabyte snapshot in one frame, encrypted', async () => {
    const ring = (): Keyring => new Keyring(new Uint8Array(32).fill(4));
    const a = await node({ keyring: ring() });
    const b = await node({ keyring: ring() });
    const data = Uint8Array.from(Buffer.alloc(3 * 1024 * 1024, 'swarm-snapshot'));
    const snap: RaftMessage = {
      type: 'install_snapshot',
      from: 'n1',
      to: 'n2',
      term: 2,
      cluster: '',
      meta: { index: 10, term: 2, conf: { voters: ['n1', 'n2'], learners: [] } },
      totalBytes: data.byteLength,
      offset: 0,
      crc: 0,
      data,
    };
    expect(a.t.send(b.t.address(), snap)).toBe('queued');
    await waitFor(() => b.inbox.length === 1, 'snapshot', 15_000);
    const got = b.inbox[0];
    if (got?.type !== 'install_snapshot') throw new Error('expected install_snapshot');
    // Compare the image bytewise: a deep equal over 3 M elements takes the test runner tens of seconds.
    expect(Buffer.compare(got.data, data)).toBe(0);
    expect({ ...got, data: null }).toEqual({ ...snap, data: null });
  });

  it('refuses to send a frame over the limit', async () => {
    const a = await node({ maxFrameBytes: 1024 });
    const b = await node();
    const big: RaftMessage = {
      type: 'append_entries',
      from: 'n1',
      to: 'n2',
      term: 1,
      cluster: '',
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [{ index: 1, term: 1, type: 0, data: new Uint8Array(2000) }],
      commit: 0,
    };
    expect(a.t.send(b.t.address(), big)).toBe('oversize');
    expect(a.t.stats()).toMatchObject({ droppedOversize: 1, packetsOut: 0 });
  });

  it('closes a connection that announces an oversize frame, and counts it', async () => {
    const b = await node({ maxFrameBytes: 1024 });
    const s = await raw(b.t.address());
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.write(Uint8Array.of(0, 0, 0x10, 0));
    await closed;
    expect(b.t.stats()).toMatchObject({ droppedOversize: 1 });
  });

  it('counts garbage frames and keeps the connection', async () => {
    const b = await node();
    const s = await raw(b.t.address());
    s.write(frame(Uint8Array.of(0x01, 0x44, 0xc1)));
    s.write(frame(Uint8Array.of(0x01, 0x44, 0x90)));
    s.write(frame(Uint8Array.of()));
    s.write(frame(Uint8Array.of(0x99)));
    s.write(frame(raftCodec.encode(hb(7))));
    await waitFor(() => b.inbox.length === 1, 'valid frame after garbage');
    expect(b.t.stats()).toMatchObject({ droppedMalformed: 4, packetsIn: 5 });
    expect(b.t.stats().dropped).toMatchObject({ bad_msgpack: 1, invalid_field: 1, empty: 1, bad_version: 1 });
  });

  it('reset drops the connection and dials a new one at once; later messages use it', async () => {
    const a = await node();
    const b = await node();
    const accepted: net.Socket[] = [];
    const server = (b.t as unknown as { server: net.Server }).server;
    server.on('connection', (c: net.Socket) => accepted.push(c));
    a.t.send(b.t.address(), hb(1));
    await waitFor(() => b.inbox.length === 1, 'first delivery');
    expect(a.t.reset(b.t.address())).toBe(true);
    a.t.send(b.t.address(), hb(2));
    await waitFor(() => b.inbox.length === 2, 'delivery after the reset');
    expect(accepted.length).toBe(2);
    expect(accepted[0]!.destroyed || accepted[0]!.readableEnded).toBe(true);
    expect(a.t.reset({ host: '127.0.0.1', port: 1 })).toBe(false);
  });

  it("reports 'refused' when nothing listens at a peer's port (the crash hint)", async () => {
    const states: string[] = [];
    const addr = await deadAddress();
    const { t } = await node({ onPeerState: (peer, st) => states.push(`${peer} ${st}`) });
    t.send(addr, hb(1));
    await waitFor(() => states.length > 0, 'a refused dial');
    expect(states[0]).toBe(`${peerKey(addr)} refused`);
  });

  it('withdraw takes back tagged frames never written; they never reach a process started later', async () => {
    // A node's process is gone (its port refuses): frames to it wait in the redial queue.
    const addr = await deadAddress();
    const refused: string[] = [];
    const a = await node({ onPeerState: (_p, st) => st === 'refused' && refused.push(st) });
    expect(a.t.send(addr, hb(1), 'task', 7)).toBe('queued');
    expect(a.t.send(addr, hb(2), 'task', 8)).toBe('queued');
    expect(a.t.send(addr, hb(3))).toBe('queued');
    await waitFor(() => refused.length > 0, 'a refused dial');
    // 9 was never sent; 7 is taken back, 8 stays queued.
    expect(a.t.withdraw(addr, [7, 9])).toEqual([7]);
    expect(a.t.withdraw(addr, [7])).toEqual([]);
    // A process restarted at the address gets what was left, never the withdrawn frame.
    const b = await node({ port: addr.port });
    a.t.peerAlive(addr);
    await waitFor(() => b.inbox.length === 2, 'the queued frames after the restart');
    expect(b.inbox.map((m) => (m.type === 'heartbeat' ? m.commit : -1))).toEqual([2, 3]);
    // Written to a connection: no longer withdrawable (it may have arrived).
    a.t.send(addr, hb(4), 'task', 10);
    await waitFor(() => b.inbox.length === 3, 'the next frame');
    expect(a.t.withdraw(addr, [8, 10])).toEqual([]);
  });

  it('reconnects with back-off after the peer restarts on the same port', async () => {
    const a = await node();
    const b1 = await node();
    const addr = b1.t.address();
    a.t.send(addr, hb(1));
    await waitFor(() => b1.inbox.length === 1, 'first delivery');
    await b1.t.close();
    open.splice(open.indexOf(b1.t), 1);
    await waitFor(() => a.t.peers()[0]?.state !== 'open', 'a notices the close');
    const b2 = await node({ port: addr.port });
    // Messages sent while the link is down may be lost (Raft resends); keep sending until one arrives.
    for (let i = 0; i < 400 && b2.inbox.length === 0; i++) {
      a.t.send(addr, hb(100 + i));
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(() => b2.inbox.length > 0, 'delivery after restart');
    expect(a.t.peers()[0]?.state).toBe('open');
  });

  it('peerAlive cuts a grown redial back-off short: the link dials at once', async () => {
    const addr = await deadAddress();
    // Long back-off: without peerAlive the next dial would come 15 to 30 s later, far past the 10 s
    // allowed below (a loaded machine may take a second or more to deliver even at once).
    const { t: a } = await node({ backoff: { initialMs: 30_000, maxMs: 60_000 } });
    a.send(addr, hb(1));
    await waitFor(() => a.peers()[0]?.state === 'waiting', 'the first dial refused');
    const back = await node({ port: addr.port });
    const t0 = Date.now();
    expect(a.peerAlive(`${addr.host}:${addr.port}`)).toBe(true);
    a.send(addr, hb(2));
    await waitFor(() => back.inbox.length > 0, 'delivery before the back-off ends', 10_000);
    // The back-off alone would have held the dial for at least 15 s (half of 30 s, then jitter).
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(back.inbox.map((m) => (m.type === 'heartbeat' ? m.commit : -1))).toContain(2);
    // An open link is left alone.
    expect(a.peerAlive(addr)).toBe(false);
  });

  it('drops frames whose encryption does not match, by reason', async () => {
    const k = new Keyring(new Uint8Array(32).fill(9));
    const keyed = await node({ keyring: k });
    const plain = await node();
    const wrong = await node({ keyring: new Keyring(new Uint8Array(32).fill(8)) });
    plain.t.send(keyed.t.address(), hb(1));
    wrong.t.send(keyed.t.address(), hb(2));
    keyed.t.send(plain.t.address(), hb(3));
    // Each connection's hello fails as its message does: two drops per sender.
    await waitFor(() => keyed.t.stats().droppedUnauthenticated === 4, 'keyed drops');
    await waitFor(() => plain.t.stats().droppedUnauthenticated === 2, 'plain drop');
    expect(keyed.t.stats().dropped).toMatchObject({ plaintext_rejected: 2, unauthenticated: 2 });
    expect(plain.t.stats().dropped.encrypted_rejected).toBe(2);
    expect([...keyed.inbox, ...plain.inbox]).toEqual([]);
  });

  it('refuses new messages once a peer queue is full (back-pressure)', async () => {
    // A port with nothing listening: the link stays down and the queue only grows.
    const probe = await node();
    const dead = probe.t.address();
    await probe.t.close();
    open.splice(open.indexOf(probe.t), 1);
    const a = await node({ maxQueueBytes: 2000 });
    const results = Array.from({ length: 200 }, (_, i) => a.t.send(dead, hb(i)));
    expect(results[0]).toBe('queued');
    expect(results).toContain('backpressure');
    expect(a.t.stats().droppedBackpressure).toBe(results.filter((r) => r === 'backpressure').length);
    expect(a.t.peers()[0]?.queuedBytes).toBeLessThanOrEqual(2000);
    // It keeps redialling, one attempt after another (back-off between them).
    await waitFor(() => (a.t.peers()[0]?.attempt ?? 0) >= 3, 'repeated redial attempts');
    expect(a.t.peers()[0]?.state).not.toBe('open');
  });

  it('reports a taken port as a TransportError', async () => {
    const a = await node();
    await expect(node({ port: a.t.address().port })).rejects.toThrow(TransportError);
  });

  it('closes cleanly: pending writes flushed, later sends refused', async () => {
    const a = await node();
    const b = await node();
    for (let i = 0; i < 50; i++) a.t.send(b.t.address(), hb(i));
    await waitFor(() => a.t.peers()[0]?.state === 'open', 'connected');
    await a.t.close();
    await waitFor(() => b.inbox.length === 50, 'flushed before close');
    expect(a.t.send(b.t.address(), hb(99))).toBe('closed');
  });

  it('parses peer addresses', () => {
    expect(parsePeer('10.0.0.1:7000')).toEqual({ host: '10.0.0.1', port: 7000 });
    expect(parsePeer('[::1]:7000')).toEqual({ host: '::1', port: 7000 });
    expect(peerKey({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(() => parsePeer('nope')).toThrow();
    expect(() => parsePeer('h:70000')).toThrow();
  });
});

/**
 * Keepalive timers of the established loopback sockets on `port` (either end), from `ss -tno`: in ms
 * for `4min59sec`; a timer under a minute reads as a small number whatever ss's unit (which varies).
 */
function keepaliveTimers(port: number): number[] | null {
  let out: string;
  try {
    out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${port} or dport = :${port} )`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
  } catch {
    return null;
  }
  const ms: number[] = [];
  for (const m of out.matchAll(/timer:\(keepalive,(?:(\d+)min)?(?:([\d.]+)sec)?(?:([\d.]+)ms)?,/g)) {
    ms.push(Number(m[1] ?? 0) * 60_000 + Number(m[2] ?? 0) * 1000 + Number(m[3] ?? 0));
  }
  return ms;
}

describe('TcpTransport keepalive', () => {
  it('probes an idle connection only after KEEPALIVE_IDLE_MS, at both ends (not every 10 s)', async (ctx) => {
    const a = await node();
    const b = await node();
    a.t.send(b.t.address(), hb(1));
    await waitFor(() => b.inbox.length === 1, 'delivered');
    const timers = keepaliveTimers(b.t.address().port);
    if (timers === null) return ctx.skip();
    // The dialled end and the accepted end, each armed for the long idle time.
    expect(timers).toHaveLength(2);
    for (const t of timers) {
      expect(t).toBeGreaterThan(KEEPALIVE_IDLE_MS - 60_000);
      expect(t).toBeLessThanOrEqual(KEEPALIVE_IDLE_MS);
    }
  });
});

describe('TcpTransport answers on the connection a request came in on', () => {
  it('reply() reaches the dialler over its own connection, sealed, and opens no link back', async () => {
    const keyring = new Keyring(new Uint8Array(32).fill(7));
    const a = await node({ keyring });
    const paths: (ReplyPath | null)[] = [];
    const inbox: RaftMessage[] = [];
    const b = await TcpTransport.listen<RaftMessage>({
      codec: raftCodec,
      bindAddress: '127.0.0.1',
      port: 0,
      keyring,
      rng: createRng(6),
      onMessage: (m, _remote, via) => {
        inbox.push(m);
        paths.push(via);
      },
    });
    open.push(b);
    a.t.send(b.address(), hb(3));
    await waitFor(() => inbox.length === 1, 'the heartbeat');
    const via = paths[0]!;
    expect(via).toBeInstanceOf(ReplyPath);
    expect(via.open).toBe(true);
    expect(via.remoteHost).toBe('127.0.0.1');
    const answer: RaftMessage = {
      type: 'heartbeat_response',
      from: 'n2',
      to: 'n1',
      term: 1,
      cluster: '',
      readCtx: 0,
    };
    expect(b.reply(via, answer)).toBe('queued');
    await waitFor(() => a.inbox.length === 1, 'the answer');
    expect(a.inbox[0]).toEqual(answer);
    // b answered without dialling a: one connection carried both directions.
    expect(b.peers()).toEqual([]);
    expect(b.stats().packetsOut).toBe(1);
    // The dialler goes away: the path closes and reply says so (the caller then uses its own link).
    await a.t.close();
    open.splice(open.indexOf(a.t), 1);
    await waitFor(() => !via.open, 'the path to close');
    expect(b.reply(via, answer)).toBe('closed');
  });

  it('ensureLink dials a peer without sending anything on the link', async () => {
    const a = await node();
    const b = await node();
    a.t.ensureLink(b.t.address());
    await waitFor(() => a.t.peers()[0]?.state === 'open', 'the link');
    await new Promise((r) => setTimeout(r, 50));
    expect(b.inbox).toEqual([]);
    expect(a.t.stats().packetsOut).toBe(0);
  });
});

describe('TcpTransport: flush per event-loop turn', () => {
  it("frames sent with flush 'turn' across microtask boundaries leave in one write", async () => {
    const server = net.createServer((s) => s.resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const writes: number[] = [];
    const write = net.Socket.prototype.write;
    // Counts the writes on the transport's connection to the server (one write = one syscall).
    net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
      if (this.remotePort === port) writes.push((chunk as Uint8Array).length);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof write;
    try {
      const { t } = await node();
      const to = { host: '127.0.0.1', port };
      t.send(to, hb(1));
      await waitFor(() => writes.length >= 2, 'the hello and the first frame');
      const before = writes.length;
      const one = frame(raftCodec.encode(hb(2))).length;
      // Each send from its own task (as a follower forwards one per client request read); a 'task' flush
      // would write the first alone at the microtask boundary.
      expect(t.send(to, hb(2), 'turn')).toBe('queued');
      await Promise.resolve();
      expect(t.send(to, hb(3), 'turn')).toBe('queued');
      await new Promise((r) => setTimeout(r, 50));
      expect(writes.slice(before)).toEqual([2 * one]);
    } finally {
      net.Socket.prototype.write = write;
      server.close();
    }
  });
});
