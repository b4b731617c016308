import { encode as mpEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import type { GossipMessage } from '../../src/gossip/messages.js';
import { MESSAGE_TYPE_CODES } from '../../src/gossip/messages.js';
import type { ClusterRaftMessage as RaftMessage } from '../../src/net/raft-codec.js';
import { RAFT_MESSAGE_TYPES } from '../../src/raft/messages.js';
import { GOSSIP_TYPES, PROTOCOL_VERSION, RAFT_TYPES } from '../../src/net/codec.js';
import { EncodeError } from '../../src/net/errors.js';
import { gossipCodec } from '../../src/net/gossip-codec.js';
import { raftCodec } from '../../src/net/raft-codec.js';
import { gossipSamples, raftSamples } from './samples.js';

/** A packet with a hand-built body, to exercise the validator rather than the encoder. */
function packet(code: number, body: unknown): Uint8Array {
  const b = mpEncode(body);
  return Uint8Array.from([PROTOCOL_VERSION, code, ...b]);
}

describe('message codecs', () => {
  it('have a sample for every gossip and raft message type', () => {
    expect(new Set(gossipSamples.map((m) => m.type))).toEqual(new Set(Object.keys(MESSAGE_TYPE_CODES)));
    expect(new Set(raftSamples.map((m) => m.type))).toEqual(new Set(RAFT_MESSAGE_TYPES));
    expect(new Set(gossipCodec.types())).toEqual(new Set(Object.keys(MESSAGE_TYPE_CODES)));
    expect(new Set(raftCodec.types())).toEqual(new Set(RAFT_MESSAGE_TYPES));
  });

  it('round-trips every sample exactly', () => {
    for (const m of gossipSamples)
      expect(gossipCodec.decode(gossipCodec.encode(m))).toEqual({ ok: true, msg: m });
    for (const m of raftSamples) expect(raftCodec.decode(raftCodec.encode(m))).toEqual({ ok: true, msg: m });
  });

  it('writes version, type code, then the body', () => {
    const b = gossipCodec.encode({ type: 'prune', from: 'x' });
    expect([...b]).toEqual([0x01, 0x0b, 0x91, 0xa1, 0x78]);
    for (const t of gossipCodec.types()) {
      const code = gossipCodec.codeOf(t);
      expect(code).toBe(MESSAGE_TYPE_CODES[t]);
      expect(code).toBeGreaterThanOrEqual(GOSSIP_TYPES.min);
      expect(code).toBeLessThanOrEqual(GOSSIP_TYPES.max);
    }
    for (const t of raftCodec.types()) {
      expect(raftCodec.codeOf(t)).toBeGreaterThanOrEqual(RAFT_TYPES.min);
      expect(raftCodec.codeOf(t)).toBeLessThanOrEqual(RAFT_TYPES.max);
    }
  });

  it('keeps absent optional fields absent and present ones present', () => {
    const m: GossipMessage = {
      type: 'announce',
      from: 'z',
      cluster: 'c',
      member: {
        id: 'z',
        name: 'z',
        host: 'h',
        port: 1,
        deviceClass: 'minimal',
        incarnation: 0,
        status: 0,
        meta: {},
      },
    };
    const r = gossipCodec.decode(gossipCodec.encode(m));
    expect(r.ok && r.msg.type === 'announce' && Object.keys(r.msg.member.meta)).toEqual([]);
  });

  it('rejects envelopes it cannot read, by reason', () => {
    expect(gossipCodec.decode(new Uint8Array())).toMatchObject({ ok: false, reason: 'empty' });
    expect(gossipCodec.decode(Uint8Array.of(0x02, 0x01, 0x90))).toMatchObject({
      ok: false,
      reason: 'bad_version',
    });
    expect(gossipCodec.decode(Uint8Array.of(0x01, 0x01))).toMatchObject({ ok: false, reason: 'empty' });
    expect(gossipCodec.decode(Uint8Array.of(0x01, 0x3f, 0x90))).toMatchObject({
      ok: false,
      reason: 'unknown_type',
    });
    // A Raft packet is not a gossip packet, even though both are well formed.
    expect(gossipCodec.decode(raftCodec.encode(raftSamples[0] as RaftMessage))).toMatchObject({
      ok: false,
      reason: 'unknown_type',
    });
    expect(gossipCodec.decode(Uint8Array.of(0x01, 0x0b, 0x92, 0xa1))).toMatchObject({
      ok: false,
      reason: 'bad_msgpack',
    });
    // Trailing bytes after the body.
    expect(gossipCodec.decode(Uint8Array.of(0x01, 0x0b, 0x91, 0xa1, 0x78, 0x00))).toMatchObject({
      ok: false,
      reason: 'bad_msgpack',
    });
  });

  it('validates every field: types, ranges, lengths, enums, arity', () => {
    const prune = MESSAGE_TYPE_CODES.prune;
    const nack = MESSAGE_TYPE_CODES.nack;
    const bad: [string, Uint8Array][] = [
      ['body not array', packet(prune, { from: 'x' })],
      ['too few', packet(prune, [])],
      ['too many', packet(prune, ['x', 1])],
      ['str expected', packet(prune, [5])],
      ['id too long', packet(prune, ['x'.repeat(65)])],
      ['negative seq', packet(nack, ['a', -1, 'b'])],
      ['seq over u32', packet(nack, ['a', 2 ** 32, 'b'])],
      ['float seq', packet(nack, ['a', 1.5, 'b'])],
      ['bad update tag', packet(MESSAGE_TYPE_CODES.ping, ['a', 1, 'b', [[9, 'c', 1, 'a']]])],
      ['update arity', packet(MESSAGE_TYPE_CODES.ping, ['a', 1, 'b', [[3, 'c']]])],
      ['hops over 255', packet(MESSAGE_TYPE_CODES['ev-push'], ['a', [], [256]])],
      ['bool expected', packet(MESSAGE_TYPE_CODES.graft, ['a', [[true, 1]]])],
      [
        'status out of enum',
        packet(MESSAGE_TYPE_CODES['pp-digest'], ['a', 1, false, false, 0, 1, '', '', [['a', 1, 4]], []]),
      ],
      ['bin expected', packet(MESSAGE_TYPE_CODES['user-event'], ['a', ['a', 1, 'n', 'not-bin']])],
      [
        'meta tags map with int value',
        packet(MESSAGE_TYPE_CODES.announce, [
          'a',
          ['a', 'n', 'h', 1, 'minimal', 0, 0, [null, null, null, null, null, null, { k: 1 }]],
          'c',
        ]),
      ],
      [
        'meta float is NaN',
        packet(MESSAGE_TYPE_CODES.announce, [
          'a',
          ['a', 'n', 'h', 1, 'minimal', 0, 0, [null, null, NaN, null, null, null, null]],
          'c',
        ]),
      ],
      [
        'port over 65535',
        packet(MESSAGE_TYPE_CODES.announce, [
          'a',
          ['a', 'n', 'h', 70000, 'minimal', 0, 0, [null, null, null, null, null, null, null]],
          'c',
        ]),
      ],
    ];
    for (const [label, p] of bad) {
      const r = gossipCodec.decode(p);
      expect(r.ok, label).toBe(false);
      expect(r.ok ? '' : r.reason, label).toBe('invalid_field');
    }
    const r = raftCodec.decode(packet(0x42, ['n1', 'n2', 1, 'c1', 0, 0, [[1, 1, 7, new Uint8Array()]], 0]));
    expect(r).toMatchObject({ ok: false, reason: 'invalid_field' });
    expect(r.ok ? '' : r.detail).toContain('entries[0].type');
  });

  it('rejects map keys that are not strings', () => {
    const tagsWithIntKey = Uint8Array.of(0x81, 0x01, 0xa1, 0x76); // {1: "v"}
    const head = mpEncode(['a', 'n', 'h', 1, 'minimal', 0, 0]).subarray(1);
    const meta = Uint8Array.from([0x97, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, ...tagsWithIntKey]);
    const member = Uint8Array.from([0x98, ...head, ...meta]);
    const body = Uint8Array.from([0x93, 0xa1, 0x61, ...member, 0xa1, 0x63]);
    const p = Uint8Array.from([1, MESSAGE_TYPE_CODES.announce, ...body]);
    expect(gossipCodec.decode(p)).toMatchObject({ ok: false, reason: 'bad_msgpack' });
    // The same packet with a str key is accepted, so the rejection is about the key alone.
    const good = Uint8Array.from([...p.subarray(0, p.length - 6), 0x81, 0xa1, 0x6b, 0xa1, 0x76, 0xa1, 0x63]);
    expect(gossipCodec.decode(good)).toMatchObject({ ok: true });
  });

  it('refuses to encode a message that breaks its schema', () => {
    expect(() => gossipCodec.encode({ type: 'nack', from: 'a', seq: -1, target: 'b' })).toThrow(EncodeError);
    expect(() => gossipCodec.encode({ type: 'prune', from: 'x'.repeat(65) })).toThrow(EncodeError);
    const unknown = { type: 'nope', from: 'a' } as unknown as GossipMessage;
    expect(() => gossipCodec.encode(unknown)).toThrow(EncodeError);
  });

  it('describes every message for the protocol document', () => {
    const docs = raftCodec.describe();
    expect(docs.map((d) => d.code)).toEqual([...docs.map((d) => d.code)].sort((a, b) => a - b));
    const snap = docs.find((d) => d.type === 'install_snapshot');
    expect(snap?.rows.map((r) => r.pos)).toContain('4.2.0');
  });
});
