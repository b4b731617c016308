/**
 * The codecs' decoder hands out short str values from a cache (codec.ts cachingDecoder, issue #16):
 * it must decode exactly as the library's own decoder does, for every input.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { cachingDecoder } from '../../src/net/codec.js';
import { raftCodec } from '../../src/net/raft-codec.js';

const LIMITS = {
  maxStrLength: 1 << 16,
  maxBinLength: 1 << 25,
  maxArrayLength: 1 << 20,
  maxMapLength: 256,
  maxExtLength: 0,
  mapKeyConverter: (key: unknown): string => key as string,
} as const;

/** A msgpack str header and raw bytes, possibly malformed UTF-8. */
function rawStr(bytes: number[]): number[] {
  if (bytes.length < 32) return [0xa0 | bytes.length, ...bytes];
  return [0xd9, bytes.length, ...bytes];
}

function outcome(d: Decoder, bytes: Uint8Array): unknown {
  try {
    return { ok: d.decode(bytes) };
  } catch (e) {
    return { err: (e as Error).constructor.name };
  }
}

describe('cachingDecoder', () => {
  it('hooks the library internals it relies on (fails on an @msgpack/msgpack that renamed them)', () => {
    const d = new Decoder() as unknown as Record<string, unknown>;
    expect(typeof d['decodeUtf8String']).toBe('function');
    expect(typeof d['stateIsMapKey']).toBe('function');
    expect(cachingDecoder(LIMITS)['decodeUtf8String' as keyof Decoder]).not.toBe(d['decodeUtf8String']);
  });

  it('decodes as the plain decoder does: repeated, same-length, map keys, malformed and truncated input', () => {
    const plain = new Decoder(LIMITS);
    const cached = cachingDecoder(LIMITS);
    const enc = new Encoder();
    const inputs: Uint8Array[] = [];
    const words = ['n1', 'n2', 'n3', 'ab', 'é', 'cluster-a', 'cluster-b', 'x'.repeat(64), 'y'.repeat(65), ''];
    for (let round = 0; round < 3; round++) {
      for (const w of words) {
        inputs.push(enc.encode([w, w, { [w || 'k']: w }, [w]]));
      }
    }
    // Twenty strings of one length: more than a length's room, so later ones take the plain path.
    for (let i = 0; i < 20; i++) inputs.push(enc.encode([`id-${String(i).padStart(3, '0')}`]));
    for (let i = 0; i < 20; i++) inputs.push(enc.encode([`id-${String(i).padStart(3, '0')}`]));
    // Malformed UTF-8 (lone continuation, truncated sequence, overlong), twice each.
    for (const bad of [[0x80], [0xe2, 0x82], [0xc0, 0xaf], [0x61, 0xff, 0x62]]) {
      inputs.push(new Uint8Array([0x91, ...rawStr(bad)]));
      inputs.push(new Uint8Array([0x91, ...rawStr(bad)]));
    }
    // A str whose header promises more bytes than there are.
    inputs.push(new Uint8Array([0x91, 0xa4, 0x6e, 0x31]));
    for (const b of inputs) expect(outcome(cached, b)).toEqual(outcome(plain, b));
  });

  it('a cached id decodes into Raft messages unchanged, message after message', () => {
    for (let i = 0; i < 3; i++) {
      for (const [from, to] of [
        ['n1', 'n2'],
        ['n2', 'n1'],
        ['n3', 'n1'],
      ] as const) {
        const msg = {
          type: 'heartbeat_response',
          from,
          to,
          term: 7 + i,
          cluster: 'swarm-a',
          readCtx: i,
        } as never;
        const r = raftCodec.decode(raftCodec.encode(msg));
        expect(r).toEqual({ ok: true, msg });
      }
    }
  });
});
