/**
 * An HTTP/1.1 request head (request line and header fields, RFC 9112 section
 * 2-5) parsed from bytes, for the API's server on node:net (server.ts here):
 * node:http and its parser are 0.6 MB of every idle daemon's memory
 * (docs/operations.md, "Memory"), and the API needs a small part of them.
 *
 * Strict where leniency lets two parsers disagree about where a request ends
 * (request smuggling): lines end in CRLF only, no obsolete line folding, no
 * whitespace before a field's colon, Content-Length is digits and agrees
 * with itself, Transfer-Encoding and Content-Length never together, and the
 * only transfer coding is `chunked`, last. Anything else is a 400 with the
 * connection closed, since what follows it cannot be framed.
 *
 * Bounded: the caller holds at most MAX_HEAD_BYTES of a head (431 past it,
 * like node:http's 16 KiB default) and a head has at most MAX_FIELDS fields.
 */

/** The most bytes a request head (request line, fields, final empty line) may take. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** The most header fields a request may carry. */
export const MAX_FIELDS = 100;

/** A head the server refuses: `status` is the answer, the connection is closed after it. */
export class HeadError extends Error {
  constructor(
    readonly status: 400 | 408 | 431 | 501 | 505,
    message: string,
  ) {
    super(message);
    this.name = 'HeadError';
  }
}

/** How the request's body is framed (RFC 9112 section 6.3). */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

export interface RequestHead {
  readonly method: string;
  /** The request target as sent (origin form, or `*` / absolute form, which routing then refuses). */
  readonly url: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  /** Names as sent and values, alternating (IncomingMessage.rawHeaders' shape). */
  readonly rawHeaders: string[];
  /** Lower-case names; repeated fields joined with ", " (set-cookie does not occur in requests we serve). */
  readonly headers: Record<string, string>;
  readonly body: BodyFraming;
  /** The client asked to keep the connection open after the answer. */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue`. */
  readonly expectContinue: boolean;
}

/** Shared: a head's framing is never changed after parsing. */
const NO_BODY: BodyFraming = Object.freeze({ kind: 'none' });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked' });

/** Lower-case forms of the names clients usually send, so that a request does not make them anew. */
const LOWER = new Map(
  [
    'Host',
    'Content-Type',
    'Content-Length',
    'Connection',
    'Accept',
    'Accept-Encoding',
    'Accept-Language',
    'User-Agent',
    'Authorization',
    'Transfer-Encoding',
    'Keep-Alive',
    'Expect',
    'Origin',
    'Referer',
  ].flatMap((n) => [
    [n, n.toLowerCase()],
    [n.toLowerCase(), n.toLowerCase()],
  ]),
);

const CR = 13;
const LF = 10;

/** tchar (RFC 9110 section 5.6.2). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value: visible ASCII, obs-text, SP and HTAB; no CR, LF, NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** The request target: visible ASCII only (no spaces, no controls, no raw non-ASCII). */
const TARGET = /^[\x21-\x7e]+$/;

/**
 * Where the head in `buf` ends: the index just past its CRLFCRLF, or -1 if
 * it has not all arrived. `from` is where the previous search stopped, so a
 * head arriving a byte at a time is scanned once, not once per byte. A bare
 * LF (a line not ended by CRLF) is refused here, as soon as it arrives.
 */
export function headEnd(buf: Buffer, from = 0): number {
  for (let i = from; i < buf.length; i++) {
    if (buf[i] !== LF) continue;
    if (i === 0 || buf[i - 1] !== CR) throw new HeadError(400, 'a line of the head ends in a bare LF');
    if (i >= 3 && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** Empty lines a client may send before a request line (RFC 9112 section 2.2: SHOULD ignore at least one). */
export function skipLeadingCrlf(buf: Buffer): number {
  let i = 0;
  while (i + 1 < buf.length && buf[i] === CR && buf[i + 1] === LF) i += 2;
  return i;
}

/** Parse a complete head: `head` runs from the request line through the final CRLFCRLF. */
export function parseHead(head: Buffer): RequestHead {
  if (head.length > MAX_HEAD_BYTES) throw new HeadError(431, 'request header fields too large');
  // latin1: one char per byte, so obs-text stays checkable and nothing is decoded twice.
  const text = head.toString('latin1', 0, head.length - 4);
  // No line holds a CR or LF once cut at CRLF: headEnd refused bare LFs, and the checks below refuse CRs.
  // Lines are found in place, not split into an array of strings (per request garbage).
  const firstEnd = text.indexOf('\r\n');
  const requestLine = firstEnd < 0 ? text : text.slice(0, firstEnd);
  // Two single spaces, found in place (no array of parts per request).
  const sp1 = requestLine.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : requestLine.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || requestLine.indexOf(' ', sp2 + 1) >= 0) throw new HeadError(400, 'malformed request line');
  const method = requestLine.slice(0, sp1);
  const url = requestLine.slice(sp1 + 1, sp2);
  const version = requestLine.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw new HeadError(400, 'malformed method');
  if (!TARGET.test(url)) throw new HeadError(400, 'malformed request target');
  if (!/^HTTP\/\d\.\d$/.test(version)) throw new HeadError(400, 'malformed HTTP version');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0')
    throw new HeadError(505, `${version} is not supported`);
  const minor = version === 'HTTP/1.1' ? 1 : 0;

  let fieldCount = 0;
  for (let at = firstEnd; at >= 0; at = text.indexOf('\r\n', at + 2)) fieldCount++;
  if (fieldCount > MAX_FIELDS) throw new HeadError(431, `more than ${MAX_FIELDS} header fields`);
  const rawHeaders: string[] = [];
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const contentLengths: string[] = [];
  let transferEncoding: string | null = null;
  for (let start = firstEnd < 0 ? text.length : firstEnd + 2; start <= text.length && firstEnd >= 0;) {
    const eol = text.indexOf('\r\n', start);
    const end = eol < 0 ? text.length : eol;
    const colon = text.indexOf(':', start);
    // No colon, an empty name, or a name ending in whitespace ("Host : x"), or a folded line (" x").
    if (colon <= start || colon >= end) throw new HeadError(400, 'malformed header field');
    const name = text.slice(start, colon);
    if (!TOKEN.test(name)) throw new HeadError(400, 'malformed header field name');
    const value = trimOws(text, colon + 1, end);
    start = end + 2;
    if (!FIELD_VALUE.test(value)) throw new HeadError(400, 'malformed header field value');
    rawHeaders.push(name, value);
    const key = LOWER.get(name) ?? name.toLowerCase();
    if (key === 'content-length') {
      if (value.includes(',')) for (const v of value.split(',')) contentLengths.push(v.trim());
      else contentLengths.push(value.trim());
    }
    if (key === 'transfer-encoding')
      transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }

  let body: BodyFraming = NO_BODY;
  if (transferEncoding !== null) {
    // Both framings at once is the classic smuggling vector: refuse, do not pick one.
    if (contentLengths.length > 0) throw new HeadError(400, 'both Transfer-Encoding and Content-Length');
    if (minor === 0) throw new HeadError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    const codings = transferEncoding
      .toLowerCase()
      .split(',')
      .map((c) => c.trim());
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      // Only chunked, once: anything else cannot be framed by us (RFC 9112 section 6.3 item 4).
      throw new HeadError(
        codings.indexOf('chunked') === codings.length - 1 ? 501 : 400,
        `unsupported transfer coding "${transferEncoding}"`,
      );
    }
    body = CHUNKED;
  } else if (contentLengths.length > 0) {
    const first = contentLengths[0]!;
    if (!/^\d{1,15}$/.test(first) || contentLengths.some((v) => v !== first))
      throw new HeadError(400, 'malformed Content-Length');
    const length = Number(first);
    if (length > 0) body = { kind: 'length', length };
  }

  const connection = headers.connection;
  // Most requests carry no Connection field: then HTTP/1.1 keeps the connection and 1.0 does not.
  const keepAlive = connection === undefined ? minor === 1 : keepAliveOf(connection.toLowerCase(), minor);
  const expect = (headers.expect ?? '').toLowerCase();
  return {
    method,
    url,
    minor,
    rawHeaders,
    headers,
    body,
    keepAlive,
    expectContinue: expect === '100-continue',
  };
}

/** Whether a Connection field keeps the connection: node's and most clients' one token is read without a token list. */
function keepAliveOf(connection: string, minor: 0 | 1): boolean {
  if (connection === 'keep-alive') return true;
  if (connection === 'close') return false;
  const tokens = connection.split(',').map((t) => t.trim());
  return minor === 1 ? !tokens.includes('close') : tokens.includes('keep-alive');
}

/** `line` from `from` without the optional whitespace (SP, HTAB) around a field value. */
function trimOws(line: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (line.charCodeAt(a) === 32 || line.charCodeAt(a) === 9)) a++;
  while (b > a && (line.charCodeAt(b - 1) === 32 || line.charCodeAt(b - 1) === 9)) b--;
  return line.slice(a, b);
}
