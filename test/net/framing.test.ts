import { describe, expect, it } from 'vitest';
import { FrameDecoder, frame } from '../../src/net/framing.js';
import { createRng } from '../../src/common/rng.js';

function payloads(ev: ReturnType<FrameDecoder['push']>): number[][] {
  return ev.map((e) => (e.kind === 'frame' ? [...e.payload] : [-1, e.length]));
}

describe('TCP framing', () => {
  it('prefixes a big-endian u32 length', () => {
    expect([...frame(Uint8Array.of(9, 8, 7))]).toEqual([0, 0, 0, 3, 9, 8, 7]);
    expect([...frame(new Uint8Array(0x010203)).subarray(0, 4)]).toEqual([0, 1, 2, 3]);
  });

  it('reassembles frames however the stream is cut', () => {
    const frames = [
      Uint8Array.of(1),
      Uint8Array.of(),
      Uint8Array.of(2, 3, 4, 5, 6),
      new Uint8Array(300).fill(9),
    ];
    const stream = Buffer.concat(frames.map(frame));
    const want = frames.map((f) => [...f]);
    const rng = createRng(11);
    for (let trial = 0; trial < 300; trial++) {
      const d = new FrameDecoder(1024);
      const got: number[][] = [];
      let i = 0;
      while (i < stream.length) {
        const n = trial === 0 ? 1 : rng.int(1, 40);
        got.push(...payloads(d.push(stream.subarray(i, i + n))));
        i += n;
      }
      expect(got).toEqual(want);
      expect(d.pending()).toBe(0);
    }
    const whole = new FrameDecoder(1024);
    expect(payloads(whole.push(stream))).toEqual(want);
  });

  it('reports an oversize length once and then stops', () => {
    const d = new FrameDecoder(10);
    expect(payloads(d.push(frame(Uint8Array.of(1, 2))))).toEqual([[1, 2]]);
    expect(payloads(d.push(Uint8Array.of(0, 0, 0, 11, 1, 2)))).toEqual([[-1, 11]]);
    expect(d.push(frame(Uint8Array.of(1)))).toEqual([]);
    expect(payloads(new FrameDecoder(10).push(Uint8Array.of(0xff, 0xff)))).toEqual([]);
    expect(payloads(new FrameDecoder(10).push(Uint8Array.of(0xff, 0xff, 0xff, 0xff)))).toEqual([
      [-1, 0xffffffff],
    ]);
  });
});
