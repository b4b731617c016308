import { describe, expect, it } from 'vitest';
import { RefusalTracker, refusalCause, type RefusalWarning } from '../../src/net/refusals.js';
import { Keyring, generateKey } from '../../src/net/crypto.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { openMessage, sealMessage } from '../../src/net/wire.js';
import type { GossipMessage } from '../../src/gossip/messages.js';

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
