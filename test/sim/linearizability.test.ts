import { describe, expect, it } from 'vitest';
import {
  checkLinearizable,
  describeLinearizability,
  type KvHistoryOp,
} from '../../src/sim/linearizability.js';
import { createRng } from '../../src/common/rng.js';

const w = (client: number, call: number, ret: number | null, value: number, key = 'k'): KvHistoryOp => ({
  client,
  key,
  call,
  ret,
  op: { kind: 'write', value },
});
const r = (
  client: number,
  call: number,
  ret: number | null,
  value: number | null,
  key = 'k',
): KvHistoryOp => ({
  client,
  key,
  call,
  ret,
  op: { kind: 'read', value },
});
const cas = (
  client: number,
  call: number,
  ret: number | null,
  from: number,
  to: number,
  ok: boolean,
): KvHistoryOp => ({
  client,
  key: 'k',
  call,
  ret,
  op: { kind: 'cas', from, to, ok },
});

describe('linearizability checker', () => {
  it('accepts a sequential history', () => {
    const h = [r(1, 0, 1, null), w(1, 2, 3, 1), r(2, 4, 5, 1), cas(1, 6, 7, 1, 2, true), r(2, 8, 9, 2)];
    expect(checkLinearizable(h).verdict).toBe('ok');
  });

  it('rejects a stale read after a completed write', () => {
    const h = [w(1, 0, 1, 1), w(1, 2, 3, 2), r(2, 4, 5, 1)];
    const res = checkLinearizable(h);
    expect(res.verdict).toBe('violation');
    expect(res.key).toBe('k');
    expect(describeLinearizability(res)).toContain('NOT linearizable');
  });

  it('accepts either order for overlapping writes, but not both orders at once', () => {
    const ok = [w(1, 0, 10, 1), w(2, 0, 10, 2), r(3, 11, 12, 1), r(3, 13, 14, 1)];
    expect(checkLinearizable(ok).verdict).toBe('ok');
    const bad = [w(1, 0, 10, 1), w(2, 0, 10, 2), r(3, 11, 12, 1), r(3, 13, 14, 2)];
    expect(checkLinearizable(bad).verdict).toBe('violation');
  });

  it('lets an unknown-outcome write take effect late or never', () => {
    const late = [w(1, 0, null, 5), r(2, 10, 11, null), r(2, 20, 21, 5)];
    expect(checkLinearizable(late).verdict).toBe('ok');
    const never = [w(1, 0, null, 5), r(2, 10, 11, null), r(2, 20, 21, null)];
    expect(checkLinearizable(never).verdict).toBe('ok');
    // Once observed, it cannot be undone.
    const flicker = [w(1, 0, null, 5), r(2, 10, 11, 5), r(2, 20, 21, null)];
    expect(checkLinearizable(flicker).verdict).toBe('violation');
  });

  it('treats a failed cas as an observation of a different value', () => {
    const ok = [w(1, 0, 1, 1), cas(2, 2, 3, 7, 8, false), r(1, 4, 5, 1)];
    expect(checkLinearizable(ok).verdict).toBe('ok');
    const bad = [w(1, 0, 1, 7), cas(2, 2, 3, 7, 8, false)];
    expect(checkLinearizable(bad).verdict).toBe('violation');
    const lost = [w(1, 0, 1, 7), cas(2, 2, 3, 7, 8, true), r(1, 4, 5, 7)];
    expect(checkLinearizable(lost).verdict).toBe('violation');
  });

  it('checks keys independently', () => {
    const h = [w(1, 0, 1, 1, 'a'), w(1, 0, 1, 2, 'b'), r(2, 2, 3, 1, 'a'), r(2, 2, 3, 1, 'b')];
    const res = checkLinearizable(h);
    expect(res.verdict).toBe('violation');
    expect(res.key).toBe('b');
  });

  it('accepts random histories generated from a real sequential register', () => {
    // Each op takes effect at a random instant inside its interval; the checker must find that order.
    for (let seed = 1; seed <= 30; seed++) {
      const rng = createRng(seed);
      let value: number | null = null;
      const ops: KvHistoryOp[] = [];
      let t = 0;
      const open: { client: number; call: number; kind: number; v: number; from: number }[] = [];
      for (let i = 0; i < 60; i++) {
        t += rng.int(1, 3);
        const client = i % 5;
        const call = t - rng.int(0, 5);
        const kind = rng.int(0, 2);
        const v = rng.int(0, 3);
        const from = rng.int(0, 3);
        open.push({ client, call, kind, v, from });
        const ret = t + rng.int(0, 5);
        const o = open.pop()!;
        if (o.kind === 0) ops.push(r(client, o.call, ret, value));
        else if (o.kind === 1) {
          value = o.v;
          ops.push(w(client, o.call, ret, o.v));
        } else {
          const ok = value === o.from;
          if (ok) value = o.v;
          ops.push(cas(client, o.call, ret, o.from, o.v, ok));
        }
      }
      expect(checkLinearizable(ops).verdict, `seed ${seed}`).toBe('ok');
    }
  });

  it('reports unknown when the search budget runs out', () => {
    const h: KvHistoryOp[] = [];
    for (let i = 0; i < 20; i++) h.push(w(i, 0, 100, i));
    h.push(r(99, 101, 102, 12345));
    expect(checkLinearizable(h, { maxSteps: 50 }).verdict).toBe('unknown');
  });
});
