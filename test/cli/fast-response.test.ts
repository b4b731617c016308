/** The fast path's reading of an HTTP/1.1 answer (src/cli/fast.ts, parseResponse). */
import { describe, expect, it } from 'vitest';
import { parseResponse } from '../../src/cli/fast.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('parseResponse', () => {
  it('reads a Content-Length body once it is all there', () => {
    const whole =
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 11\r\n\r\n{"key":"k"}';
    expect(parseResponse(b(whole.slice(0, 20)), false)).toBeUndefined();
    expect(parseResponse(b(whole.slice(0, -3)), false)).toBeUndefined();
    expect(parseResponse(b(whole), false)).toEqual({ status: 200, body: '{"key":"k"}' });
    // A short body at the close is not an answer.
    expect(parseResponse(b(whole.slice(0, -3)), true)).toBeNull();
  });

  it('decodes a chunked body and UTF-8 split across chunks', () => {
    const euro = Buffer.from('"€"', 'utf8'); // 5 bytes, split 2 + 3
    const raw = Buffer.concat([
      b('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n'),
      euro.subarray(0, 2),
      b('\r\n3\r\n'),
      euro.subarray(2),
      b('\r\n0\r\n\r\n'),
    ]);
    expect(parseResponse(raw.subarray(0, raw.length - 5), false)).toBeUndefined();
    expect(parseResponse(raw, false)).toEqual({ status: 404, body: '"€"' });
  });

  it('reads to the close without a length, and leaves anything odd to the full program', () => {
    expect(parseResponse(b('HTTP/1.0 200 OK\r\n\r\n{}'), false)).toBeUndefined();
    expect(parseResponse(b('HTTP/1.0 200 OK\r\n\r\n{}'), true)).toEqual({ status: 200, body: '{}' });
    expect(parseResponse(b('HTTP/1.1 100 Continue\r\n\r\n'), false)).toBeNull();
    expect(parseResponse(b('SSH-2.0-x\r\n\r\n'), false)).toBeNull();
    expect(parseResponse(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'), false)).toBeNull();
    expect(
      parseResponse(b('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'), false),
    ).toBeNull();
    expect(parseResponse(b('HTTP/1.1 200 OK\r\nno colon\r\n\r\n'), true)).toBeNull();
    expect(parseResponse(b('HTTP/1.1 200 OK\r\n'), true)).toBeNull();
    // A chunk longer than its size line says: the CRLF after the declared data is missing.
    expect(
      parseResponse(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}\r\n0\r\n\r\n'), false),
    ).toBeNull();
  });
});
