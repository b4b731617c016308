import { describe, expect, it } from 'vitest';
import { ENCRYPTED_VERSION } from '../../src/net/codec.js';
import { ENCRYPTION_OVERHEAD, Keyring, generateKey, parseKey } from '../../src/net/crypto.js';
import { KeyError } from '../../src/net/errors.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { openMessage, sealMessage } from '../../src/net/wire.js';
import { gossipSamples } from './samples.js';

const k1 = new Uint8Array(32).fill(1);
const k2 = new Uint8Array(32).fill(2);
const k3 = new Uint8Array(32).fill(3);
const plain = Uint8Array.of(1, 11, 0x91, 0xa1, 0x78);

describe('swarm keys', () => {
  it('parses base64 of exactly 32 bytes and nothing else', () => {
    const b64 = generateKey();
    expect(parseKey(b64)).toHaveLength(32);
    expect(parseKey(` ${b64}\n`)).toEqual(parseKey(b64));
    expect(() => parseKey(Buffer.alloc(16).toString('base64'))).toThrow(KeyError);
    expect(() => parseKey('not base64!')).toThrow(KeyError);
    expect(() => parseKey('')).toThrow(KeyError);
    expect(() => Keyring.fromBase64([])).toThrow(KeyError);
    expect(() => new Keyring(new Uint8Array(31))).toThrow(KeyError);
  });
});

describe('Keyring', () => {
  it('seals as [0x81][nonce][ciphertext][tag] and opens with the same key', () => {
    const ring = new Keyring(k1);
    const nonce = new Uint8Array(12).fill(7);
    const sealed = ring.seal(plain, nonce);
    expect(sealed).toHaveLength(plain.length + ENCRYPTION_OVERHEAD);
    expect(sealed[0]).toBe(ENCRYPTED_VERSION);
    expect([...sealed.subarray(1, 13)]).toEqual([...nonce]);
    expect(ring.open(sealed)).toEqual(plain);
    // Random nonces by default: two seals of one plaintext differ.
    expect(ring.seal(plain)).not.toEqual(ring.seal(plain));
  });

  it('refuses a packet sealed with a key it does not hold, or tampered anywhere', () => {
    const sealed = new Keyring(k1).seal(plain);
    expect(new Keyring(k2).open(sealed)).toBeNull();
    const ring = new Keyring(k1);
    for (let i = 0; i < sealed.length; i++) {
      const t = sealed.slice();
      t[i] = (t[i] as number) ^ 0x01;
      expect(ring.open(t), `flip byte ${i}`).toBeNull();
    }
    expect(ring.open(sealed.subarray(0, ENCRYPTION_OVERHEAD - 1))).toBeNull();
  });

  it('rotates: encrypt with the primary, decrypt with any, remove old keys', () => {
    const a = new Keyring(k1);
    const b = new Keyring(k1);
    b.add(k2); // step 1: everyone accepts the new key
    expect(a.open(b.seal(plain))).toEqual(plain);
    b.use(k2); // step 2: b encrypts with it; a does not know it yet
    expect(a.open(b.seal(plain))).toBeNull();
    a.rotate(k2);
    expect(a.open(b.seal(plain))).toEqual(plain);
    expect(b.open(new Keyring(k1).seal(plain))).toEqual(plain); // old key still accepted
    b.remove(k1); // step 3
    expect(b.open(new Keyring(k1).seal(plain))).toBeNull();
    expect(() => b.remove(k2)).toThrow(KeyError);
    expect(b.size()).toBe(1);
    b.add(k3);
    b.add(k3);
    expect(b.size()).toBe(2);
    expect(b.primary()).toEqual(k2);
  });

  it('drops plaintext at a keyed node and ciphertext at an unkeyed one, by reason', () => {
    const ring = new Keyring(k1);
    const msg = gossipSamples[0]!;
    expect(openMessage(gossipCodec, sealMessage(gossipCodec, msg, ring), ring)).toEqual({ ok: true, msg });
    expect(openMessage(gossipCodec, sealMessage(gossipCodec, msg, null), ring)).toMatchObject({
      ok: false,
      reason: 'plaintext_rejected',
    });
    expect(openMessage(gossipCodec, sealMessage(gossipCodec, msg, ring), null)).toMatchObject({
      ok: false,
      reason: 'encrypted_rejected',
    });
    expect(openMessage(gossipCodec, sealMessage(gossipCodec, msg, new Keyring(k2)), ring)).toMatchObject({
      ok: false,
      reason: 'unauthenticated',
    });
  });
});
