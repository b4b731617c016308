/**
 * Conservative estimate of a value's MessagePack size, used to keep every
 * message under the datagram budget without encoding it. It assumes objects
 * are encoded as maps keyed by their field names (the widest plausible codec
 * layout), so a positional codec only comes out smaller.
 */

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function strSize(s: string): number {
  const n = utf8Length(s);
  return n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
}

function intSize(v: number): number {
  if (!Number.isInteger(v)) return 9;
  if (v >= 0) return v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v < 4294967296 ? 5 : 9;
  return v >= -32 ? 1 : v >= -128 ? 2 : v >= -32768 ? 3 : v >= -2147483648 ? 5 : 9;
}

function headerSize(count: number): number {
  return count < 16 ? 1 : count < 65536 ? 3 : 5;
}

export function estimateSize(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return strSize(v);
    case 'number':
      return intSize(v);
    case 'boolean':
      return 1;
    case 'undefined':
      return 1;
    case 'object': {
      if (v === null) return 1;
      if (v instanceof Uint8Array)
        return v.byteLength + (v.byteLength < 256 ? 2 : v.byteLength < 65536 ? 3 : 5);
      if (Array.isArray(v)) {
        let n = headerSize(v.length);
        for (const x of v) n += estimateSize(x);
        return n;
      }
      let n = 0;
      let count = 0;
      const o = v as Record<string, unknown>;
      for (const k in o) {
        const x = o[k];
        if (x === undefined) continue;
        count++;
        n += strSize(k) + estimateSize(x);
      }
      return n + headerSize(count);
    }
    default:
      return 9;
  }
}
