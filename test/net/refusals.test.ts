import { describe, expect, it } from 'vitest';
import { RefusalTracker, refusalCause, type RefusalWarning } from '../../src/net/refusals.js';
import { Keyring, generateKey } from '../../src/net/crypto.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { openMessage, sealMessage } from '../../src/net/wire.js';
import type { GossipMessage } from '../../src/gossip/messages.js';
import { raftCodec } from '../../src/net/raft-codec.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { UdpTransport } from '../../src/net/udp.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { waitFor } from './helpers.js';
import { raftSamples } from './samples.js';

describe('refused peers', () => {
  it('names the likely cause of each authentication failure of the real receive path', () => {
    const msg: GossipMessage = { type: 'nack', from: 'a', seq: 1, target: 'b' };
    const mine = Keyring.fromBase64([generateKey()]);
    const theirs = Keyring.fromBase64([generateKey()]);
    const cause = (sender: Keyring | null, receiver: Keyring | null): string | null => {
      const r = openMessage(gossipCodec, sealMessage(gossipCodec, msg, sender), receiver);
      return r.ok ? 'accepted' : refusalCause(r.reason);
    };
    expect(cause(theirs, mine)).toBe('different_key');
    expect(cause(null, mine)).toBe('peer_has_no_key');
    expect(cause(mine, null)).toBe('peer_has_key');
    expect(cause(mine, mine)).toBe('accepted');
    expect(refusalCause('bad_msgpack')).toBeNull();
  });

  it('warns at most once per source per minute, and counts every packet', () => {
    const warned: RefusalWarning[] = [];
    const t = new RefusalTracker({ warn: (w) => warned.push(w) });
    let now = 1_000_000;
    for (let i = 0; i < 100; i++, now += 500) t.record('10.0.0.2:7946', 'gossip', 'different_key', now);
    // 100 packets over 50 s: one warning.
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ address: '10.0.0.2:7946', cause: 'different_key', count: 1 });
    expect(warned[0]!.hint).toContain('different swarm key?');
    now += 10_000;
    t.record('10.0.0.2:7946', 'gossip', 'different_key', now);
    expect(warned).toHaveLength(2);
    // The second warning says how many were refused since the first.
    expect(warned[1]!.count).toBe(100);
    // Another source, or another cause from the same source, has its own story.
    t.record('10.0.0.3:7946', 'gossip', 'peer_has_no_key', now);
    t.record('10.0.0.2', 'raft', 'peer_has_key', now);
    expect(warned.map((w) => w.cause)).toEqual([
      'different_key',
      'different_key',
      'peer_has_no_key',
      'peer_has_key',
    ]);
    expect(warned[2]!.hint).toContain('security.swarm_key unset there');
    expect(warned[3]!.hint).toContain('this node has none');
    const list = t.list();
    expect(list[0]).toMatchObject({ address: '10.0.0.2', channel: 'raft', count: 1 });
    expect(list.find((p) => p.address === '10.0.0.2:7946')).toMatchObject({ count: 101, lastSeenMs: now });
    expect(t.totals()).toEqual({ different_key: 101, peer_has_no_key: 1, peer_has_key: 1 });
  });

  it('stays bounded under a flood from many spoofed sources: LRU table and a global warning cap', () => {
    const warned: RefusalWarning[] = [];
    const t = new RefusalTracker({ capacity: 64, maxWarningsPerWindow: 16, warn: (w) => warned.push(w) });
    let now = 0;
    for (let i = 0; i < 10_000; i++, now += 1)
      t.record(`10.${i >> 8}.${i & 255}.1:7946`, 'gossip', 'different_key', now);
    expect(t.list()).toHaveLength(64);
    // The most recently seen sources are the ones kept, newest first.
    expect(t.list()[0]!.address).toBe(`10.${9999 >> 8}.${9999 & 255}.1:7946`);
    // 10 s of flood: within one window, so at most 16 warnings.
    expect(warned).toHaveLength(16);
    expect(t.suppressedWarnings).toBe(10_000 - 16);
    expect(t.totals().different_key).toBe(10_000);
    // A new window lets warnings through again.
    now += 60_000;
    t.record('192.168.1.1:7946', 'gossip', 'peer_has_key', now);
    expect(warned).toHaveLength(17);
  });
});

describe('transports report refused packets through onRefused', () => {
  const k1 = (): Keyring => new Keyring(new Uint8Array(32).fill(1));
  const k2 = (): Keyring => new Keyring(new Uint8Array(32).fill(2));
  const msg: GossipMessage = { type: 'nack', from: 'a', seq: 1, target: 'b' };

  it('UDP: the sender address and the drop reason, for each key mismatch', async () => {
    const cases: [Keyring | null, Keyring | null, string][] = [
      [k2(), k1(), 'unauthenticated'],
      [null, k1(), 'plaintext_rejected'],
      [k1(), null, 'encrypted_rejected'],
    ];
    for (const [senderKey, receiverKey, reason] of cases) {
      const seen: { from: string; reason: string }[] = [];
      const rx = await UdpTransport.open<GossipMessage>({
        codec: gossipCodec,
        bindAddress: '127.0.0.1',
        port: 0,
        keyring: receiverKey,
        onMessage: () => {},
        onRefused: (from, r) => seen.push({ from: `${from.address}:${from.port}`, reason: r }),
      });
      const tx = await UdpTransport.open<GossipMessage>({
        codec: gossipCodec,
        bindAddress: '127.0.0.1',
        port: 0,
        keyring: senderKey,
        onMessage: () => {},
      });
      try {
        tx.send(msg, rx.address());
        await waitFor(() => seen.length > 0, `refusal ${reason}`);
        expect(seen[0]).toEqual({ from: `127.0.0.1:${tx.address().port}`, reason });
      } finally {
        await tx.close();
        await rx.close();
      }
    }
  });

  it('TCP (the Raft channel): a frame under another key is reported with the remote address', async () => {
    const seen: { host: string; reason: string }[] = [];
    const rx = await TcpTransport.listen<RaftMessage>({
      codec: raftCodec,
      bindAddress: '127.0.0.1',
      port: 0,
      keyring: k1(),
      onMessage: () => {},
      onRefused: (remote, r) => seen.push({ host: remote.host, reason: r }),
    });
    const tx = await TcpTransport.listen<RaftMessage>({
      codec: raftCodec,
      bindAddress: '127.0.0.1',
      port: 0,
      keyring: k2(),
      onMessage: () => {},
    });
    try {
      tx.send(rx.address(), raftSamples[0]!);
      await waitFor(() => seen.length > 0, 'tcp refusal');
      expect(seen[0]).toEqual({ host: '127.0.0.1', reason: 'unauthenticated' });
    } finally {
      await tx.close();
      await rx.close();
    }
  });
});
