/**
 * Packet encryption: AES-256-GCM, as memberlist does it, with a keyring so a
 * swarm can rotate its key without a flag day (install the new key on every
 * node, make it primary everywhere, then remove the old one).
 *
 * Encrypted packet: [0x81][12-byte nonce][ciphertext][16-byte tag], with the
 * leading 0x81 as additional authenticated data. The plaintext is a complete
 * plaintext packet (version byte included) so one decoder serves both modes.
 *
 * Nonces are random: with 96-bit random nonces NIST SP 800-38D allows 2^32
 * packets per key, years of gossip for one node; rotate keys long before.
 */
import type * as NodeCrypto from 'node:crypto';
import { lazyBuiltin } from '../common/builtins.js';
import { constantTimeEqual } from '../common/constant-time.js';
import { ENCRYPTED_VERSION } from './codec.js';
import { KeyError } from './errors.js';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes an encrypted packet adds to its plaintext. */
export const ENCRYPTION_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES;

const AAD = Uint8Array.of(ENCRYPTED_VERSION);
/** Loaded with the first key: a node without a swarm key never loads node:crypto (src/common/builtins.ts). */
const crypto = lazyBuiltin<typeof NodeCrypto>('node:crypto');

/** Parse a swarm key: standard base64 of exactly 32 bytes. */
export function parseKey(b64: string): Uint8Array {
  const trimmed = b64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) throw new KeyError('swarm key is not base64');
  const key = new Uint8Array(Buffer.from(trimmed, 'base64'));
  if (key.length !== KEY_BYTES) {
    throw new KeyError(`swarm key must be ${KEY_BYTES} bytes (base64), got ${key.length}`, {
      bytes: key.length,
    });
  }
  return key;
}

/** A fresh random key as base64, for `swarm config` to offer. */
export function generateKey(): string {
  return crypto().randomBytes(KEY_BYTES).toString('base64');
}

export class Keyring {
  /** keys[0] is the primary (used to encrypt); all are tried to decrypt. */
  private keys: Uint8Array[];

  constructor(primary: Uint8Array, others: readonly Uint8Array[] = []) {
    for (const k of [primary, ...others]) {
      if (k.length !== KEY_BYTES)
        throw new KeyError(`swarm key must be ${KEY_BYTES} bytes`, { bytes: k.length });
    }
    this.keys = [primary.slice()];
    for (const k of others) this.add(k);
  }

  /** From base64 strings, the first one primary. */
  static fromBase64(keys: readonly string[]): Keyring {
    const [first, ...rest] = keys;
    if (first === undefined) throw new KeyError('a keyring needs at least one key');
    return new Keyring(parseKey(first), rest.map(parseKey));
  }

  primary(): Uint8Array {
    return this.keys[0] as Uint8Array;
  }

  size(): number {
    return this.keys.length;
  }

  has(key: Uint8Array): boolean {
    return this.keys.some((k) => constantTimeEqual(k, key));
  }

  /** Accept packets sealed with `key` (does not change what we encrypt with). */
  add(key: Uint8Array): void {
    if (key.length !== KEY_BYTES)
      throw new KeyError(`swarm key must be ${KEY_BYTES} bytes`, { bytes: key.length });
    if (!this.has(key)) this.keys.push(key.slice());
  }

  /** Encrypt with `key` from now on (adding it if needed); the old primary stays for decryption. */
  use(key: Uint8Array): void {
    this.add(key);
    const i = this.keys.findIndex((k) => constantTimeEqual(k, key));
    const [chosen] = this.keys.splice(i, 1);
    this.keys.unshift(chosen as Uint8Array);
  }

  /** Alias of `use`: the usual step of a rotation. */
  rotate(key: Uint8Array): void {
    this.use(key);
  }

  /** Stop accepting `key`. The primary cannot be removed (switch primary first). */
  remove(key: Uint8Array): void {
    if (constantTimeEqual(this.primary(), key))
      throw new KeyError('cannot remove the primary key; make another key primary first');
    this.keys = this.keys.filter((k) => !constantTimeEqual(k, key));
  }

  /** Encrypt a plaintext packet. `nonce` is for test vectors only; production draws a random one. */
  seal(plain: Uint8Array, nonce: Uint8Array = crypto().randomBytes(NONCE_BYTES)): Uint8Array {
    if (nonce.length !== NONCE_BYTES) throw new KeyError(`nonce must be ${NONCE_BYTES} bytes`);
    const cipher = crypto().createCipheriv('aes-256-gcm', this.primary(), nonce, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(AAD);
    const body = cipher.update(plain);
    cipher.final();
    const tag = cipher.getAuthTag();
    const out = new Uint8Array(ENCRYPTION_OVERHEAD + plain.length);
    out[0] = ENCRYPTED_VERSION;
    out.set(nonce, 1);
    out.set(body, 1 + NONCE_BYTES);
    out.set(tag, 1 + NONCE_BYTES + body.length);
    return out;
  }

  /** Decrypt with each key in turn; null when none authenticates (or the packet is too short). */
  open(packet: Uint8Array): Uint8Array | null {
    if (packet.length < ENCRYPTION_OVERHEAD || packet[0] !== ENCRYPTED_VERSION) return null;
    const nonce = packet.subarray(1, 1 + NONCE_BYTES);
    const body = packet.subarray(1 + NONCE_BYTES, packet.length - TAG_BYTES);
    const tag = packet.subarray(packet.length - TAG_BYTES);
    for (const key of this.keys) {
      const decipher = crypto().createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(AAD);
      decipher.setAuthTag(tag);
      const plain = decipher.update(body);
      try {
        decipher.final();
        return new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
      } catch {
        // Wrong key or forged packet: GCM's tag check failed; try the next key.
      }
    }
    return null;
  }
}
