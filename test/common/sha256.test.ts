import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256, sha256Hex } from '../../src/common/sha256.js';

describe('sha256', () => {
  it('is FIPS 180-4 SHA-256 (the standard vectors)', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('matches node:crypto at every length around the block boundaries, and on UTF-8 text', () => {
    for (let n = 0; n <= 200; n++) {
      const bytes = cryptoRandomBytes(n);
      expect(Buffer.from(sha256(bytes)).toString('hex'), `length ${n}`).toBe(
        createHash('sha256').update(bytes).digest('hex'),
      );
    }
    const text = 'a1b2c3,d4e5f6,ünïcødé,节点';
    expect(sha256Hex(text)).toBe(createHash('sha256').update(text).digest('hex'));
  });
});
