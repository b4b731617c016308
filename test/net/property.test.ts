/**
 * Property: every valid message (random values from the schema, edge cases
 * favoured: 0, max ints, 4-byte UTF-8 at the byte limit, absent optionals)
 * survives encode -> decode unchanged, through encryption too. And the
 * gossip core's size estimate, which it uses to stay under the datagram
 * budget without encoding, never underestimates the real encoding.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { estimateSize } from '../../src/gossip/size.js';
import { Keyring } from '../../src/net/crypto.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { raftCodec } from '../../src/net/raft-codec.js';
import { openMessage, sealMessage } from '../../src/net/wire.js';

const N = process.env.NET_FUZZ_LONG === '1' ? 50_000 : 3000;

describe('codec properties over random valid messages', () => {
  it('gossip: decode(encode(m)) = m, encrypted or not', () => {
    const rng = createRng(21);
    const ring = new Keyring(new Uint8Array(32).fill(6));
    const seen = new Set<string>();
    for (let i = 0; i < N; i++) {
      const m = gossipCodec.arbitrary(rng);
      seen.add(m.type);
      expect(gossipCodec.decode(gossipCodec.encode(m))).toEqual({ ok: true, msg: m });
      if (i % 10 === 0)
        expect(openMessage(gossipCodec, sealMessage(gossipCodec, m, ring), ring)).toEqual({
          ok: true,
          msg: m,
        });
    }
    expect(seen.size).toBe(gossipCodec.types().length);
  });

  it('raft: decode(encode(m)) = m', () => {
    const rng = createRng(22);
    for (let i = 0; i < N; i++) {
      const m = raftCodec.arbitrary(rng);
      expect(raftCodec.decode(raftCodec.encode(m))).toEqual({ ok: true, msg: m });
    }
  });

  it('the gossip size estimate is an upper bound of the encoded size', () => {
    const rng = createRng(23);
    let worst = Infinity;
    for (let i = 0; i < N; i++) {
      const m = gossipCodec.arbitrary(rng);
      const real = gossipCodec.encode(m).length;
      const est = estimateSize(m);
      worst = Math.min(worst, est - real);
      if (real > est) throw new Error(`estimate ${est} < encoded ${real} for ${JSON.stringify(m)}`);
    }
    expect(worst).toBeGreaterThanOrEqual(0);
  });
});
