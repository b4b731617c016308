/**
 * The API's HTTP/1.1 parsing (src/api/http1/head.ts, chunked.ts) against
 * hostile and malformed input: every framing ambiguity is a 400, every
 * bound holds (a head past 16 KiB is refused without waiting for its end, a
 * chunk-size line or trailer cannot grow memory), and well-formed requests
 * parse as node:http parses them.
 */
import { describe, expect, it } from 'vitest';
import { ChunkedDecoder, MAX_LINE_BYTES } from '../../src/api/http1/chunked.js';
import { HeadError, MAX_FIELDS, MAX_HEAD_BYTES, headEnd, parseHead } from '../../src/api/http1/head.js';

const head = (s: string): Buffer => Buffer.from(s, 'latin1');

function status(f: () => unknown): number | null {
  try {
    f();
    return null;
  } catch (err) {
    if (err instanceof HeadError) return err.status;
    throw err;
  }
}

function decode(body: string | Buffer, pieces = 1): { data: string; used: number; done: boolean } {
  const d = new ChunkedDecoder();
  const buf = typeof body === 'string' ? head(body) : body;
  let data = '';
  let used = 0;
  const step = Math.ceil(buf.length / pieces);
  for (let i = 0; i < buf.length && !d.done; i += step) {
    const part = buf.subarray(i, Math.min(buf.length, i + step));
    used += d.push(part, (b) => (data += b.toString('latin1')));
  }
  return { data, used, done: d.done };
}

describe('request head', () => {
  it('parses a request: method, target, fields in order, framing, keep-alive', () => {
    const h = parseHead(
      head('PUT /v1/kv/a%2Fb?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nX-A: 1\r\nx-a:  2 \r\n\r\n'),
    );
    expect(h.method).toBe('PUT');
    expect(h.url).toBe('/v1/kv/a%2Fb?x=1');
    expect(h.rawHeaders).toEqual(['Host', 'h', 'Content-Length', '11', 'X-A', '1', 'x-a', '2']);
    expect(h.headers['x-a']).toBe('1, 2');
    expect(h.body).toEqual({ kind: 'length', length: 11 });
    expect(h.keepAlive).toBe(true);
    expect(parseHead(head('GET / HTTP/1.1\r\nConnection: close\r\n\r\n')).keepAlive).toBe(false);
    expect(parseHead(head('GET / HTTP/1.0\r\n\r\n')).keepAlive).toBe(false);
    expect(parseHead(head('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')).keepAlive).toBe(true);
    // Token lists and case, as well as the single tokens read without a list.
    const keeps = (v: string, version = 'HTTP/1.1'): boolean =>
      parseHead(head(`GET / ${version}\r\nConnection: ${v}\r\n\r\n`)).keepAlive;
    expect(keeps('Keep-Alive', 'HTTP/1.0')).toBe(true);
    expect(keeps('CLOSE')).toBe(false);
    expect(keeps('upgrade, close')).toBe(false);
    expect(keeps('upgrade')).toBe(true);
    expect(keeps('upgrade', 'HTTP/1.0')).toBe(false);
    expect(keeps('te,  keep-alive', 'HTTP/1.0')).toBe(true);
    expect(keeps('close', 'HTTP/1.0')).toBe(false);
    expect(parseHead(head('POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n')).body).toEqual({
      kind: 'chunked',
    });
    expect(parseHead(head('POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n')).body).toEqual({ kind: 'none' });
    expect(parseHead(head('POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n')).expectContinue).toBe(true);
  });

  it('refuses framing ambiguities and malformed lines with 400 (request smuggling)', () => {
    const bad = [
      'POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n',
      'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n',
      'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n',
      'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET  / HTTP/1.1\r\n\r\n',
      ' GET / HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.1 \r\n\r\n',
      'GET /HTTP/1.1\r\n\r\n',
      'GET / x HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost : h\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n',
      'GET / HTTP/1.1\r\n: empty-name\r\n\r\n',
      'GET / HTTP/1.1\r\nNo-Colon\r\n\r\n',
      'GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n',
      'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n',
      'GET /a b HTTP/1.1\r\n\r\n',
      'GET  / HTTP/1.1\r\n\r\n',
      'G(T / HTTP/1.1\r\n\r\n',
      'GET /\x7f HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.1 \r\n\r\n',
      'GET / http/1.1\r\n\r\n',
      '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n',
    ];
    for (const b of bad)
      expect(
        status(() => parseHead(head(b))),
        JSON.stringify(b),
      ).toBe(400);
    expect(status(() => parseHead(head('PRI * HTTP/2.0\r\n\r\n')))).toBe(505);
    expect(status(() => parseHead(head('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')))).toBe(
      501,
    );
  });

  it('finds the end of a head arriving a byte at a time, scanning each byte once; a bare LF is refused at once', () => {
    const text = head('GET / HTTP/1.1\r\nHost: h\r\n\r\nNEXT');
    let scanned = 0;
    let end = -1;
    for (let n = 1; n <= text.length && end < 0; n++) {
      end = headEnd(text.subarray(0, n), scanned);
      scanned = n;
    }
    expect(end).toBe(text.length - 4);
    expect(status(() => headEnd(head('GET / HTTP/1.1\nHost: h\n\n')))).toBe(400);
    expect(status(() => headEnd(head('\n')))).toBe(400);
  });

  it('bounds a head: past 16 KiB and past 100 fields is 431', () => {
    const long = head(`GET /${'a'.repeat(MAX_HEAD_BYTES)} HTTP/1.1\r\n\r\n`);
    expect(status(() => parseHead(long))).toBe(431);
    const many = 'GET / HTTP/1.1\r\n' + 'X: y\r\n'.repeat(MAX_FIELDS + 1) + '\r\n';
    expect(status(() => parseHead(head(many)))).toBe(431);
    const enough = 'GET / HTTP/1.1\r\n' + 'X: y\r\n'.repeat(MAX_FIELDS) + '\r\n';
    expect(parseHead(head(enough)).rawHeaders.length).toBe(2 * MAX_FIELDS);
  });
});

describe('chunked body', () => {
  it('decodes chunks, extensions and trailers, in any split, and stops at the body end', () => {
    const body = '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nGET /next';
    const bodyLen = body.indexOf('GET /next');
    for (const pieces of [1, 3, body.length]) {
      const r = decode(body, pieces);
      expect(r.data).toBe('hello world');
      expect(r.done).toBe(true);
      expect(r.used).toBe(bodyLen);
    }
    expect(decode('A\r\n0123456789\r\n0\r\n\r\n').data).toBe('0123456789');
  });

  it('refuses malformed chunks with 400', () => {
    const bad = [
      'x\r\n',
      '-1\r\n',
      '\r\n',
      '5\r\nhelloXY',
      '5\r\nhello\n0\r\n\r\n',
      '5\nhello\r\n',
      '1 2\r\n',
      '0x5\r\nhello\r\n',
      `${'f'.repeat(16)}\r\n`,
      '0\r\nTrailer: x\n\r\n',
    ];
    for (const b of bad)
      expect(
        status(() => decode(b)),
        JSON.stringify(b),
      ).toBe(400);
  });

  it('bounds what it holds: a size line past 4 KiB is 400, a trailer section past 16 KiB is 431', () => {
    expect(status(() => decode(`5;${'e'.repeat(MAX_LINE_BYTES)}`))).toBe(400);
    expect(status(() => decode(`0\r\n${'T: v\r\n'.repeat(5000)}\r\n`))).toBe(431);
    // An endless extension, 1 MiB of it, fed in pieces: refused once past the bound, not buffered.
    const d = new ChunkedDecoder();
    let refused = false;
    for (let i = 0; i < 256 && !refused; i++) {
      try {
        d.push(Buffer.alloc(4096, i === 0 ? '5;' : 'e'), () => undefined);
      } catch (err) {
        refused = err instanceof HeadError && err.status === 400;
      }
    }
    expect(refused).toBe(true);
  });
});
