/**
 * Property: the full receive path (decrypt + decode) never throws, whatever
 * arrives, and everything it accepts can be encoded again to the same
 * message. Inputs are random bytes and mutations of valid packets (bit flips,
 * truncation, extension, random type and version bytes, msgpack headers
 * claiming huge lengths, structure-aware value swaps), seeded so a failure
 * replays. NET_FUZZ_LONG=1 runs ten times as many.
 */
import { decode as mpDecode, encode as mpEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../../src/common/rng.js';
import {
  DROP_REASONS,
  PROTOCOL_VERSION,
  type DropReason,
  type MessageCodec,
  type WireMessage,
} from '../../src/net/codec.js';
import { Keyring } from '../../src/net/crypto.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { raftCodec } from '../../src/net/raft-codec.js';
import { raftWireCodec } from '../../src/net/forward-codec.js';
import { FrameDecoder, frame } from '../../src/net/framing.js';
import { openMessage } from '../../src/net/wire.js';
import { forwardSamples, gossipSamples, raftSamples } from './samples.js';

const SCALE = process.env.NET_FUZZ_LONG === '1' ? 10 : 1;
const key = new Uint8Array(32).map((_, i) => i);
const ring = new Keyring(key);

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(0, 255);
  return b;
}

/** Values of every msgpack kind, including ones no field accepts. */
function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, 11)) {
    case 0:
      return null;
    case 1:
      return rng.next() < 0.5;
    case 2:
      return rng.int(-5, 300);
    case 3:
      return [2 ** 32, 2 ** 53, -(2 ** 40), 1.5, NaN, Infinity, -0][rng.int(0, 6)];
    case 4:
      return 'x'.repeat(rng.int(0, 70));
    case 5:
      return ['', '\u00e9\u00e9', '\ud83d\ude00', 'a'][rng.int(0, 3)];
    case 6:
      return randomBytes(rng, rng.int(0, 20));
    case 7:
      return depth > 2 ? [] : Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1));
    case 8:
      return depth > 2 ? {} : { k: randomValue(rng, depth + 1) };
    case 9:
      return rng.int(0, 3);
    case 10:
      return 'n1';
    default:
      return [];
  }
}

/** Replace one random node of a decoded body tree with a random value. */
function mutateTree(rng: Rng, tree: unknown): unknown {
  if (!Array.isArray(tree) || tree.length === 0 || rng.next() < 0.3) return randomValue(rng);
  const copy: unknown[] = [...tree];
  const i = rng.int(0, copy.length - 1);
  const op = rng.int(0, 9);
  if (op === 0) copy.splice(i, 1);
  else if (op === 1) copy.splice(i, 0, randomValue(rng));
  else copy[i] = mutateTree(rng, copy[i]);
  return copy;
}

const HUGE_HEADERS = [
  [0xdd, 0xff, 0xff, 0xff, 0xff],
  [0xdc, 0xff, 0xff],
  [0xc6, 0x7f, 0xff, 0xff, 0xff],
  [0xdb, 0x7f, 0xff, 0xff, 0xff],
  [0xdf, 0x00, 0x01, 0x00, 0x00],
  [0xc9, 0x00, 0x00, 0x00, 0x10, 0x01],
  [0xd6, 0xff, 0, 0, 0, 0],
  [0xc1],
];

function mutate(rng: Rng, seed: Uint8Array, codes: readonly number[]): Uint8Array {
  const b = seed.slice();
  switch (rng.int(0, 9)) {
    case 0: {
      const flips = rng.int(1, 8);
      for (let f = 0; f < flips; f++) {
        const i = rng.int(0, b.length - 1);
        b[i] = (b[i] as number) ^ (1 << rng.int(0, 7));
      }
      return b;
    }
    case 1:
      return b.subarray(0, rng.int(0, b.length - 1));
    case 2:
      return Uint8Array.from([...b, ...randomBytes(rng, rng.int(1, 16))]);
    case 3:
      b[1] = rng.next() < 0.5 ? rng.int(0, 255) : (codes[rng.int(0, codes.length - 1)] as number);
      return b;
    case 4:
      b[0] = rng.int(0, 255);
      return b;
    case 5: {
      const h = HUGE_HEADERS[rng.int(0, HUGE_HEADERS.length - 1)] as number[];
      const at = rng.int(2, b.length);
      return Uint8Array.from([...b.subarray(0, at), ...h, ...b.subarray(at)]);
    }
    case 6:
      return randomBytes(rng, rng.int(0, 64));
    case 7: {
      // A valid envelope around random msgpack bytes.
      return Uint8Array.from([
        PROTOCOL_VERSION,
        codes[rng.int(0, codes.length - 1)] as number,
        ...randomBytes(rng, rng.int(0, 40)),
      ]);
    }
    default: {
      if (seed[0] !== PROTOCOL_VERSION) return mutate(rng, seed, codes); // no tree inside a sealed packet
      const body: unknown = mpDecode(seed.subarray(2));
      const encoded = mpEncode(mutateTree(rng, body));
      return Uint8Array.from([seed[0] as number, seed[1] as number, ...encoded]);
    }
  }
}

interface Tally {
  ok: number;
  dropped: Record<DropReason, number>;
}

function runFuzz<M extends WireMessage>(
  codec: MessageCodec<M>,
  samples: readonly M[],
  count: number,
  seed: number,
  keyed: boolean,
): Tally {
  const rng = createRng(seed);
  const plain = samples.map((m) => codec.encode(m));
  const codes = codec.types().map((t) => codec.codeOf(t));
  const tally: Tally = {
    ok: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
  };
  for (let n = 0; n < count; n++) {
    const base = plain[rng.int(0, plain.length - 1)] as Uint8Array;
    let packet: Uint8Array;
    if (!keyed) packet = mutate(rng, base, codes);
    else {
      const r = rng.next();
      if (r < 0.6)
        packet = ring.seal(mutate(rng, base, codes)); // authentic sender, garbled content
      else if (r < 0.9)
        packet = mutate(rng, ring.seal(base), codes); // garbled in flight
      else packet = mutate(rng, base, codes); // plaintext at a keyed node
    }
    let res: ReturnType<typeof openMessage<M>>;
    try {
      res = openMessage(codec, packet, keyed ? ring : null);
    } catch (e) {
      throw new Error(
        `seed ${seed} packet ${n} threw: ${String(e)} bytes=${Buffer.from(packet).toString('hex')}`,
      );
    }
    if (res.ok) {
      tally.ok++;
      // What the validator accepts must be a value the encoder can send back unchanged.
      const again = codec.decode(codec.encode(res.msg));
      if (!again.ok) throw new Error(`accepted but not re-encodable: ${Buffer.from(packet).toString('hex')}`);
      expect(again.msg).toEqual(res.msg);
    } else tally.dropped[res.reason]++;
  }
  return tally;
}

function total(t: Tally): number {
  return t.ok + Object.values(t.dropped).reduce((a, b) => a + b, 0);
}

describe('receive path fuzz', () => {
  it('gossip, plaintext: 40,000 packets, no throw, every outcome counted', () => {
    const t = runFuzz(gossipCodec, gossipSamples, 40_000 * SCALE, 1, false);
    expect(total(t)).toBe(40_000 * SCALE);
    for (const r of [
      'bad_version',
      'unknown_type',
      'bad_msgpack',
      'invalid_field',
      'encrypted_rejected',
    ] as const) {
      expect(t.dropped[r], r).toBeGreaterThan(0);
    }
    expect(t.ok).toBeGreaterThan(0);
  });

  it('raft, plaintext: 40,000 packets', () => {
    const t = runFuzz(raftCodec, raftSamples, 40_000 * SCALE, 2, false);
    expect(total(t)).toBe(40_000 * SCALE);
    for (const r of ['bad_version', 'unknown_type', 'bad_msgpack', 'invalid_field'] as const) {
      expect(t.dropped[r], r).toBeGreaterThan(0);
    }
    expect(t.ok).toBeGreaterThan(0);
  });

  it('gossip and raft through decryption: 40,000 packets', () => {
    const g = runFuzz(gossipCodec, gossipSamples, 20_000 * SCALE, 3, true);
    const r = runFuzz(raftCodec, raftSamples, 20_000 * SCALE, 4, true);
    for (const t of [g, r]) {
      expect(total(t)).toBe(20_000 * SCALE);
      for (const reason of [
        'unauthenticated',
        'plaintext_rejected',
        'invalid_field',
        'bad_msgpack',
      ] as const) {
        expect(t.dropped[reason], reason).toBeGreaterThan(0);
      }
      expect(t.ok).toBeGreaterThan(0);
    }
  });
});

describe('forwarding frames on the raft transport', () => {
  it('fwd_req / fwd_resp mutations, plaintext and keyed: no throw, malformed ones dropped', () => {
    const samples = [...raftSamples, ...forwardSamples];
    for (const keyed of [false, true]) {
      const t = runFuzz(raftWireCodec, samples, 20_000 * SCALE, keyed ? 12 : 11, keyed);
      expect(total(t)).toBe(20_000 * SCALE);
      for (const r of ['invalid_field', 'bad_msgpack'] as const) expect(t.dropped[r], r).toBeGreaterThan(0);
      expect(t.ok).toBeGreaterThan(0);
    }
  });
});

describe('TCP stream fuzz', () => {
  it('random streams through the frame decoder and receive path: no throw, bounded buffering', () => {
    const rng = createRng(9);
    const frames = raftSamples.map((m) => raftCodec.encode(m));
    let delivered = 0;
    let dropped = 0;
    let oversize = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const d = new FrameDecoder(4096);
      const parts: Uint8Array[] = [];
      for (let k = 0; k < 6; k++) {
        const f = frames[rng.int(0, frames.length - 1)] as Uint8Array;
        const r = rng.next();
        if (r < 0.6) parts.push(frame(f));
        else if (r < 0.8) parts.push(frame(mutate(rng, f, [0x40, 0x42, 0x46])));
        else parts.push(randomBytes(rng, rng.int(0, 12)));
      }
      const stream = Buffer.concat(parts);
      for (let i = 0; i < stream.length;) {
        const n = rng.int(1, 64);
        for (const ev of d.push(stream.subarray(i, i + n))) {
          if (ev.kind === 'oversize') oversize++;
          else if (openMessage(raftCodec, ev.payload, null).ok) delivered++;
          else dropped++;
        }
        i += n;
        expect(d.pending()).toBeLessThanOrEqual(4096 + 4 + 64);
      }
    }
    expect(delivered).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    expect(oversize).toBeGreaterThan(0);
  });
});
