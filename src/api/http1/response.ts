/**
 * A response on the API's server on node:net (server.ts here), shaped like
 * the part of node:http's ServerResponse the API writes through
 * (src/api/server.ts, src/api/stream.ts): setHeader, writeHead, write (false
 * when the socket's buffer is full, then 'drain'), end, flushHeaders,
 * headersSent, writableFinished, destroyed, destroy, socket, and the events
 * 'finish' (the last byte was handed to the kernel) and 'close' (after
 * 'finish', or when the connection closed first: the client is gone).
 *
 * Framing as node:http chooses it: a body given whole to end() before any
 * write gets a Content-Length; a body written in parts is chunked to an
 * HTTP/1.1 client and ends the connection for an HTTP/1.0 one; a HEAD, 204
 * or 304 answer has no body. A header value with CR or LF throws (response
 * splitting), as node:http's does.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { reasonPhrase } from './status.js';

export type HeaderValue = string | number | readonly string[];

/** What the connection learns from its response. */
export interface ResponseOwner {
  /** The response's last byte was handed to the socket; `close`: end the connection after it. */
  responseDone(close: boolean): void;
  /** The keep-alive hint, seconds; null: the connection closes after this response. */
  keepAliveSeconds(): number | null;
}

const BAD_VALUE = /[\r\n\0]/;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export class Http1Response extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  private readonly fields = new Map<string, [string, HeaderValue]>();
  private chunked = false;
  private closeAfter: boolean;
  private readonly noBodyMethod: boolean;
  private noBody = false;
  private closed = false;

  constructor(
    readonly socket: Socket,
    private readonly owner: ResponseOwner,
    method: string,
    private readonly minor: 0 | 1,
    keepAlive: boolean,
  ) {
    super();
    this.noBodyMethod = method === 'HEAD';
    this.closeAfter = !keepAlive;
    socket.on('drain', this.onDrain);
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  private readonly onDrain = (): void => {
    if (!this.writableEnded) this.emit('drain');
  };

  setHeader(name: string, value: HeaderValue): this {
    if (this.headersSent) throw new Error('headers already sent');
    this.fields.set(name.toLowerCase(), [name, value]);
    return this;
  }

  getHeader(name: string): HeaderValue | undefined {
    return this.fields.get(name.toLowerCase())?.[1];
  }

  writeHead(
    status: number,
    reasonOrHeaders?: string | Record<string, HeaderValue>,
    headers?: Record<string, HeaderValue>,
  ): this {
    if (this.headersSent) throw new Error('headers already sent');
    this.statusCode = status;
    const h = typeof reasonOrHeaders === 'object' ? reasonOrHeaders : headers;
    if (typeof reasonOrHeaders === 'string') this.reason = reasonOrHeaders;
    if (h !== undefined) for (const [k, v] of Object.entries(h)) this.setHeader(k, v);
    return this;
  }

  private reason: string | null = null;

  /** Send the head now (an event stream's client must see it before the first event). */
  flushHeaders(): void {
    if (!this.headersSent) this.socket.write(this.head(null), 'latin1');
  }

  /** False when the socket's buffer is full: wait for 'drain'. */
  write(chunk: string | Uint8Array): boolean {
    if (this.writableEnded || this.socket.destroyed) return false;
    const size = byteLength(chunk);
    this.socket.cork();
    if (!this.headersSent) this.socket.write(this.head(null), 'latin1');
    if (size > 0 && !this.noBody) {
      if (this.chunked) this.socket.write(`${size.toString(16)}\r\n`, 'latin1');
      this.socket.write(chunk);
      if (this.chunked) this.socket.write('\r\n', 'latin1');
    }
    this.socket.uncork();
    return !this.socket.writableNeedDrain;
  }

  end(chunk?: string | Uint8Array | null): this {
    if (this.writableEnded) return this;
    this.writableEnded = true;
    if (this.socket.destroyed) return this;
    const body = chunk === undefined || chunk === null || byteLength(chunk) === 0 ? null : chunk;
    const pieces: (string | Uint8Array)[] = [];
    if (!this.headersSent) {
      const head = this.head(body);
      // The usual answer, a head and a whole text body, goes out as one write (node:http does the same).
      if (typeof body === 'string' && !this.chunked && !this.noBody && ASCII.test(head)) {
        this.socket.write(head + body, 'utf8', () => this.finished());
        return this;
      }
      pieces.push(head);
    }
    if (body !== null && !this.noBody) {
      if (this.chunked) pieces.push(`${byteLength(body).toString(16)}\r\n`);
      pieces.push(body);
      if (this.chunked) pieces.push('\r\n');
    }
    if (this.chunked) pieces.push('0\r\n\r\n');
    if (pieces.length === 0) {
      // Nothing left to send: finished once what was written before is out.
      if (this.socket.writableLength === 0) setImmediate(() => this.finished());
      else this.socket.once('drain', () => this.finished());
      return this;
    }
    this.socket.cork();
    pieces.forEach((p, i) => {
      const enc = typeof p === 'string' && p !== body ? 'latin1' : 'utf8';
      if (i === pieces.length - 1) this.socket.write(p, enc, () => this.finished());
      else this.socket.write(p, enc);
    });
    this.socket.uncork();
    return this;
  }

  /** Drop the connection (the client sees the answer cut). */
  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Told first when the connection closes before the answer went out (the client left): the API
   * server's request (server.ts), set per request instead of a 'close' listener and its closures.
   */
  leaver: { abandon(): void } | null = null;

  /** The connection closed: 'close' once (after 'finish' when the answer went out). */
  socketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.off('drain', this.onDrain);
    if (!this.writableFinished) this.leaver?.abandon();
    this.emit('close');
  }

  private finished(): void {
    if (this.writableFinished) return;
    this.writableFinished = true;
    this.emit('finish');
    this.socketClosed();
    this.owner.responseDone(this.closeAfter);
  }

  /** The status line and fields; `body` is the whole body when end() is the first write. */
  private head(body: string | Uint8Array | null): string {
    this.headersSent = true;
    const status = this.statusCode;
    this.noBody = this.noBodyMethod || status === 204 || status === 304 || (status >= 100 && status < 200);
    let out = `HTTP/1.${this.minor} ${status} ${this.reason ?? reasonPhrase(status)}\r\n`;
    for (const [name, value] of this.fields.values()) {
      if (!TOKEN.test(name)) throw new TypeError(`invalid header name "${name}"`);
      if (typeof value !== 'object') out += field(name, value);
      else for (const v of value) out += field(name, v);
    }
    const framed = this.fields.has('content-length') || this.fields.has('transfer-encoding');
    if (!framed && !this.noBody) {
      if (this.writableEnded) {
        // The whole body is known: say its length.
        out += `Content-Length: ${body === null ? 0 : byteLength(body)}\r\n`;
      } else if (this.minor === 1) {
        this.chunked = true;
        out += 'Transfer-Encoding: chunked\r\n';
      } else {
        // An HTTP/1.0 client knows the end of a body of unknown length by the connection's end.
        this.closeAfter = true;
      }
    }
    const keepAlive = this.closeAfter ? null : this.owner.keepAliveSeconds();
    if (keepAlive === null) {
      this.closeAfter = true;
      out += 'Connection: close\r\n';
    } else {
      out += `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAlive}\r\n`;
    }
    return `${out}\r\n`;
  }
}

/** One field line; a value with CR, LF or NUL would split the response, so it throws. */
function field(name: string, value: string | number): string {
  const s = typeof value === 'string' ? value : String(value);
  if (BAD_VALUE.test(s)) throw new TypeError(`invalid character in header "${name}"`);
  return `${name}: ${s}\r\n`;
}

function byteLength(chunk: string | Uint8Array): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
}
