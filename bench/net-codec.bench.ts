/**
 * Network layer costs: codec and AES-GCM throughput, datagram sizes of
 * typical gossip messages (how many membership updates fit one 1,400-byte
 * datagram), and round trips over loopback UDP and TCP, plain and encrypted.
 * Loopback only; every socket is closed at the end.
 */
import type { GossipMessage, MemberRecord, MemberUpdate } from '../src/gossip/messages.js';
import { Keyring } from '../src/net/crypto.js';
import { gossipCodec } from '../src/net/gossip-codec.js';
import { raftCodec } from '../src/net/raft-codec.js';
import { TcpTransport } from '../src/net/tcp.js';
import { UdpTransport } from '../src/net/udp.js';
import { openMessage, sealMessage } from '../src/net/wire.js';
import type { RaftMessage } from '../src/raft/messages.js';
import type { BenchReport } from './types.js';

function member(i: number): MemberRecord {
  return {
    id: `node-${String(i).padStart(4, '0')}`,
    name: `node-${i}`,
    host: `10.0.${i >> 8}.${i & 255}`,
    port: 5555,
    deviceClass: 'standard',
    incarnation: 12,
    status: 0,
    meta: {
      api: `10.0.${i >> 8}.${i & 255}:5557`,
      raft: 'follower',
      powerW: 3.25,
      battery: 71.5,
      rating: 'B',
    },
  };
}

function ping(updates: readonly MemberUpdate[]): GossipMessage {
  return { type: 'ping', from: 'node-0000', seq: 123456, target: 'node-0001', updates };
}

function opsPerSecond(fn: () => void, ms = 700): number {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  return Math.round(n / ((performance.now() - t0) / 1000));
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN).toFixed(3));
}

async function udpRoundTrips(keyring: Keyring | null, n: number): Promise<number[]> {
  let resolveAck: (() => void) | null = null;
  const b = await UdpTransport.open<GossipMessage>({
    codec: gossipCodec,
    bindAddress: '127.0.0.1',
    port: 0,
    keyring,
    onMessage: (msg, from) => {
      if (msg.type === 'ping')
        b.send({ type: 'ack', from: 'b', seq: msg.seq, target: 'b', updates: [] }, from);
    },
  });
  const a = await UdpTransport.open<GossipMessage>({
    codec: gossipCodec,
    bindAddress: '127.0.0.1',
    port: 0,
    keyring,
    onMessage: () => resolveAck?.(),
  });
  const rtts: number[] = [];
  const updates = [member(1), member(2), member(3)].map((m): MemberUpdate => ({ kind: 'alive', member: m }));
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const got = new Promise<boolean>((resolve) => {
      resolveAck = () => resolve(true);
      setTimeout(() => resolve(false), 200).unref();
    });
    a.send({ type: 'ping', from: 'a', seq: i, target: 'b', updates }, b.address());
    if (await got) rtts.push(performance.now() - t0);
  }
  await a.close();
  await b.close();
  return rtts;
}

async function tcpRun(
  keyring: Keyring | null,
): Promise<{ rtts: number[]; entriesPerS: number; mbPerS: number }> {
  let onReply: (() => void) | null = null;
  let received = 0;
  let bEntries = 0;
  const b: TcpTransport<RaftMessage> = await TcpTransport.listen<RaftMessage>({
    codec: raftCodec,
    bindAddress: '127.0.0.1',
    port: 0,
    keyring,
    onMessage: (msg) => {
      if (msg.type === 'heartbeat') {
        b.send(aAddr, { type: 'heartbeat_response', from: 'n2', to: 'n1', term: 1, readCtx: msg.readCtx });
      } else if (msg.type === 'append_entries') bEntries += msg.entries.length;
    },
  });
  const a = await TcpTransport.listen<RaftMessage>({
    codec: raftCodec,
    bindAddress: '127.0.0.1',
    port: 0,
    keyring,
    onMessage: () => {
      received++;
      onReply?.();
    },
  });
  const aAddr = a.address();
  const rtts: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    const got = new Promise<boolean>((resolve) => {
      onReply = () => resolve(true);
      setTimeout(() => resolve(false), 1000).unref();
    });
    a.send(b.address(), { type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: i, readCtx: i + 1 });
    if (await got) rtts.push(performance.now() - t0);
  }
  // Throughput: batches of 64 entries with 64-byte values, as a leader under 16 clients would send.
  const value = new Uint8Array(64).fill(0x61);
  const batches = 3000;
  const t0 = performance.now();
  let index = 1;
  let bytes = 0;
  for (let k = 0; k < batches; k++) {
    const entries = Array.from({ length: 64 }, () => ({
      index: index++,
      term: 1,
      type: 0 as const,
      data: value,
    }));
    const msg: RaftMessage = {
      type: 'append_entries',
      from: 'n1',
      to: 'n2',
      term: 1,
      prevLogIndex: index - 65,
      prevLogTerm: 1,
      entries,
      commit: 0,
    };
    while (a.send(b.address(), msg) === 'backpressure') await new Promise((r) => setImmediate(r));
    bytes += 64 * 64;
  }
  const deadline = Date.now() + 30_000;
  while (bEntries < batches * 64 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  const secs = (performance.now() - t0) / 1000;
  await a.close();
  await b.close();
  void received;
  return { rtts, entriesPerS: Math.round(bEntries / secs), mbPerS: Number((bytes / secs / 1e6).toFixed(1)) };
}

export default async function run(): Promise<BenchReport> {
  const ring = new Keyring(new Uint8Array(32).fill(3));
  const small = ping([]);
  const three = ping(
    [member(1), member(2), member(3)].map((m): MemberUpdate => ({ kind: 'alive', member: m })),
  );
  const threeBytes = gossipCodec.encode(three);
  const threeSealed = sealMessage(gossipCodec, three, ring);

  // How many full `alive` updates fit one encrypted datagram.
  let fit = 0;
  while (
    sealMessage(
      gossipCodec,
      ping(Array.from({ length: fit + 1 }, (_, i): MemberUpdate => ({ kind: 'alive', member: member(i) }))),
      ring,
    ).length <= 1400
  )
    fit++;
  let suspectFit = 0;
  const suspect = (i: number): MemberUpdate => ({
    kind: 'suspect',
    id: member(i).id,
    incarnation: 12,
    from: 'node-0000',
  });
  while (
    sealMessage(gossipCodec, ping(Array.from({ length: suspectFit + 1 }, (_, i) => suspect(i))), ring)
      .length <= 1400
  )
    suspectFit++;

  const encodeOps = opsPerSecond(() => gossipCodec.encode(three));
  const decodeOps = opsPerSecond(() => gossipCodec.decode(threeBytes));
  const sealOps = opsPerSecond(() => sealMessage(gossipCodec, three, ring));
  const openOps = opsPerSecond(() => openMessage(gossipCodec, threeSealed, ring));

  const udpPlain = await udpRoundTrips(null, 2000);
  const udpEnc = await udpRoundTrips(ring, 2000);
  const tcpPlain = await tcpRun(null);
  const tcpEnc = await tcpRun(ring);

  return {
    name: 'net-codec',
    description:
      'Wire codec and AES-256-GCM throughput, gossip datagram sizes, loopback UDP ping/ack and TCP heartbeat round trips, Raft append_entries throughput over TCP (64 x 64-byte entries per frame)',
    metrics: {
      ping_empty_bytes: gossipCodec.encode(small).length,
      ping_3_alive_bytes: threeBytes.length,
      ping_3_alive_encrypted_bytes: threeSealed.length,
      alive_updates_per_encrypted_datagram: fit,
      suspect_updates_per_encrypted_datagram: suspectFit,
      encode_ping_3_alive_per_s: encodeOps,
      decode_ping_3_alive_per_s: decodeOps,
      seal_ping_3_alive_per_s: sealOps,
      open_ping_3_alive_per_s: openOps,
      udp_rtt_p50_ms: percentile(udpPlain, 50),
      udp_rtt_p99_ms: percentile(udpPlain, 99),
      udp_rtt_encrypted_p50_ms: percentile(udpEnc, 50),
      udp_rtt_encrypted_p99_ms: percentile(udpEnc, 99),
      udp_lost_of_2000: 4000 - udpPlain.length - udpEnc.length,
      tcp_rtt_p50_ms: percentile(tcpPlain.rtts, 50),
      tcp_rtt_p99_ms: percentile(tcpPlain.rtts, 99),
      tcp_rtt_encrypted_p50_ms: percentile(tcpEnc.rtts, 50),
      tcp_rtt_encrypted_p99_ms: percentile(tcpEnc.rtts, 99),
      tcp_entries_per_s: tcpPlain.entriesPerS,
      tcp_entries_encrypted_per_s: tcpEnc.entriesPerS,
      tcp_payload_mb_per_s: tcpPlain.mbPerS,
    },
    goals: [
      { metric: 'alive_updates_per_encrypted_datagram', op: '>=', target: 8 },
      { metric: 'decode_ping_3_alive_per_s', op: '>=', target: 50_000 },
      { metric: 'tcp_rtt_p99_ms', op: '<', target: 5 },
      { metric: 'tcp_entries_per_s', op: '>=', target: 100_000 },
    ],
  };
}
