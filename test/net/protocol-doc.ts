/**
 * Renders the generated part of docs/protocol.md (message tables and hex
 * test vectors) from the codecs and test/net/samples.ts, and parses vector
 * blocks back out of the document. `npx tsx test/net/gen-protocol-doc.ts`
 * rewrites the document; test/net/vectors.test.ts fails when they disagree.
 */
import { Keyring } from '../../src/net/crypto.js';
import type { MessageCodec, MessageDoc, WireMessage } from '../../src/net/codec.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { raftWireCodec } from '../../src/net/forward-codec.js';
import { forwardSamples, gossipSamples, raftSamples } from './samples.js';

export const BEGIN = '<!-- BEGIN GENERATED: npx tsx test/net/gen-protocol-doc.ts -->';
export const END = '<!-- END GENERATED -->';

/** The fixed key and nonce of the encrypted vector. Never use them for anything else. */
export const VECTOR_KEY_B64 = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64');
export const VECTOR_NONCE_HEX = '000102030405060708090a0b';

export function hexLines(b: Uint8Array): string {
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0'));
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += 16) lines.push(hex.slice(i, i + 16).join(' '));
  return lines.join('\n');
}

export function toJson(msg: unknown): string {
  return JSON.stringify(msg, (_k, v: unknown) =>
    v instanceof Uint8Array ? { $bin: Buffer.from(v).toString('hex') } : v,
  );
}

export function fromJson(s: string): unknown {
  return JSON.parse(s, (_k, v: unknown) => {
    if (
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      Object.keys(v).length === 1 &&
      '$bin' in v
    ) {
      const hex = (v as { $bin: unknown }).$bin;
      if (typeof hex === 'string') return new Uint8Array(Buffer.from(hex, 'hex'));
    }
    return v;
  });
}

function table(d: MessageDoc): string {
  const rows = d.rows.map((r) => `| ${r.pos} | \`${r.name}\` | ${r.doc.replace(/\|/g, '\\|')} |`);
  return ['| Pos | Field | MessagePack type |', '|---|---|---|', ...rows].join('\n');
}

function vectorBlock(name: string, msg: unknown, bytes: Uint8Array, extra: string[] = []): string {
  return [
    '```vector',
    `name: ${name}`,
    `message: ${toJson(msg)}`,
    ...extra,
    'hex:',
    hexLines(bytes),
    '```',
  ].join('\n');
}

function section<M extends WireMessage>(codec: MessageCodec<M>, samples: readonly M[]): string {
  return codec
    .describe()
    .map((d) => {
      const sample = samples.find((m) => m.type === d.type);
      if (!sample) throw new Error(`no sample for ${codec.name}/${d.type}`);
      const hex = `0x${d.code.toString(16).padStart(2, '0')}`;
      return [
        `### ${hex} \`${d.type}\`: ${d.summary}`,
        '',
        `Body: array (${d.rows.filter((r) => !r.pos.includes('.')).length}).`,
        '',
        table(d),
        '',
        vectorBlock(`${codec.name}/${d.type}`, sample, codec.encode(sample)),
      ].join('\n');
    })
    .join('\n\n');
}

export function renderGenerated(): string {
  const leave = gossipSamples.find((m) => m.type === 'leave');
  if (!leave) throw new Error('no leave sample');
  const ring = Keyring.fromBase64([VECTOR_KEY_B64]);
  const sealed = ring.seal(gossipCodec.encode(leave), Buffer.from(VECTOR_NONCE_HEX, 'hex'));
  return [
    BEGIN,
    '',
    '## Gossip messages (UDP, codes 0x01-0x3F)',
    '',
    section(gossipCodec, gossipSamples),
    '',
    '## Raft messages (TCP, codes 0x40-0x7F)',
    '',
    section(raftWireCodec, [...raftSamples, ...forwardSamples]),
    '',
    '## Encrypted example',
    '',
    'The `leave` vector above sealed with key bytes 00 01 02 .. 1f and nonce 00 01 .. 0b:',
    '',
    vectorBlock('gossip/leave encrypted', leave, sealed, [
      `key: ${VECTOR_KEY_B64}`,
      `nonce: ${VECTOR_NONCE_HEX}`,
    ]),
    '',
    END,
  ].join('\n');
}

export interface Vector {
  readonly name: string;
  readonly message: unknown;
  readonly bytes: Uint8Array;
  readonly key?: string;
  readonly nonce?: Uint8Array;
}

/** Every ```vector block of the document, parsed. */
export function parseVectors(doc: string): Vector[] {
  const out: Vector[] = [];
  const re = /```vector\n([\s\S]*?)```/g;
  for (let m = re.exec(doc); m; m = re.exec(doc)) {
    const body = m[1] as string;
    const field = (k: string): string | undefined => new RegExp(`^${k}: (.*)$`, 'm').exec(body)?.[1];
    const hexPart = body.split(/^hex:$/m)[1] ?? '';
    const name = field('name');
    const message = field('message');
    if (!name || !message) throw new Error(`vector block without name or message: ${body.slice(0, 80)}`);
    const key = field('key');
    const nonce = field('nonce');
    out.push({
      name,
      message: fromJson(message),
      bytes: new Uint8Array(Buffer.from(hexPart.replace(/\s+/g, ''), 'hex')),
      ...(key ? { key } : {}),
      ...(nonce ? { nonce: new Uint8Array(Buffer.from(nonce, 'hex')) } : {}),
    });
  }
  return out;
}

/**
 * Table rows with cell padding and separator widths removed, so the comparison
 * survives `prettier --write` aligning the columns.
 */
export function normalizeMarkdown(md: string): string {
  return md
    .split('\n')
    .map((line) => {
      if (!line.startsWith('|')) return line.trimEnd();
      const cells = line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim())
        .map((c) => (/^:?-+:?$/.test(c) ? '---' : c));
      return `| ${cells.join(' | ')} |`;
    })
    .join('\n');
}

export function generatedSection(doc: string): string | null {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  return a >= 0 && b > a ? doc.slice(a, b + END.length) : null;
}
