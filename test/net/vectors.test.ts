/**
 * The hex vectors in docs/protocol.md are the contract a firmware author
 * implements against: each one must encode from its JSON and decode back to
 * it, byte for byte, and the generated tables must match the codecs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { MessageCodec, WireMessage } from '../../src/net/codec.js';
import { Keyring } from '../../src/net/crypto.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { raftWireCodec } from '../../src/net/forward-codec.js';
import { openMessage } from '../../src/net/wire.js';
import {
  generatedSection,
  hexLines,
  normalizeMarkdown,
  parseVectors,
  renderGenerated,
} from './protocol-doc.js';

const doc = readFileSync(fileURLToPath(new URL('../../docs/protocol.md', import.meta.url)), 'utf8');
const vectors = parseVectors(doc);

function codecFor(name: string): MessageCodec<WireMessage> {
  if (name.startsWith('gossip/')) return gossipCodec as unknown as MessageCodec<WireMessage>;
  if (name.startsWith('raft/')) return raftWireCodec as unknown as MessageCodec<WireMessage>;
  throw new Error(`vector ${name}: unknown codec`);
}

describe('docs/protocol.md test vectors', () => {
  it('has a vector for every gossip and raft message type (forwarding frames included), and an encrypted one', () => {
    const names = new Set(vectors.map((v) => v.name));
    for (const t of gossipCodec.types()) expect(names, `gossip/${t}`).toContain(`gossip/${t}`);
    for (const t of raftWireCodec.types()) expect(names, `raft/${t}`).toContain(`raft/${t}`);
    expect(vectors.filter((v) => v.key !== undefined).length).toBeGreaterThanOrEqual(1);
  });

  it.each(vectors.map((v) => [v.name, v] as const))(
    '%s encodes to its hex and decodes to its message',
    (_n, v) => {
      const codec = codecFor(v.name);
      const msg = v.message as WireMessage;
      if (v.key === undefined) {
        expect(hexLines(codec.encode(msg))).toBe(hexLines(v.bytes));
        expect(codec.decode(v.bytes)).toEqual({ ok: true, msg });
      } else {
        const ring = Keyring.fromBase64([v.key]);
        expect(hexLines(ring.seal(codec.encode(msg), v.nonce))).toBe(hexLines(v.bytes));
        expect(openMessage(codec, v.bytes, ring)).toEqual({ ok: true, msg });
        expect(openMessage(codec, v.bytes, null)).toMatchObject({ ok: false, reason: 'encrypted_rejected' });
      }
    },
  );

  it('field tables match the codecs (regenerate with npx tsx test/net/gen-protocol-doc.ts)', () => {
    expect(normalizeMarkdown(generatedSection(doc) ?? '')).toBe(normalizeMarkdown(renderGenerated()));
  });
});
