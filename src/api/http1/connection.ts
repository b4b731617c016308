/**
 * One client connection of the API's server on node:net (server.ts here):
 * reads request heads and bodies from the socket, hands each request to the
 * listener with its response, and keeps the connection for the next one.
 *
 * One request at a time: the next head is parsed only once the answer to
 * the previous one is out (pipelined requests wait in order, and past
 * MAX_HEAD_BYTES of them the socket is paused), so answers never interleave.
 * A body is pushed to its request as it arrives and the socket is paused
 * while nobody reads it. A body left unread when its answer is out is read
 * and dropped before the next request (node:http's dump).
 *
 * Timeouts (node:http's defaults): an idle connection is closed after the
 * keep-alive time; a head must arrive within HEADERS_TIMEOUT_MS of its first
 * byte and the whole request (head and body) within REQUEST_TIMEOUT_MS; an
 * answer being written (an event stream, a long poll) has none.
 */
import type { Socket } from 'node:net';
import { ChunkedDecoder } from './chunked.js';
import { HeadError, MAX_HEAD_BYTES, headEnd, parseHead, skipLeadingCrlf } from './head.js';
import { Http1Request } from './request.js';
import { Http1Response, type ResponseOwner } from './response.js';
import { reasonPhrase } from './status.js';

export const HEADERS_TIMEOUT_MS = 60_000;
export const REQUEST_TIMEOUT_MS = 300_000;

export type RequestListener = (req: Http1Request, res: Http1Response) => void;

/** What a connection asks of its server. */
export interface ConnectionHost {
  readonly listener: RequestListener;
  /** Idle keep-alive time, ms. */
  readonly keepAliveTimeout: number;
  /** The server is closing: answer with Connection: close, and close when idle. */
  readonly closing: boolean;
  forget(conn: Connection): void;
}

const EMPTY = Buffer.alloc(0);
const ERROR_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  408: 'request_timeout',
  431: 'headers_too_large',
  501: 'not_implemented',
  505: 'http_version_not_supported',
};

type Body = { kind: 'length'; left: number } | { kind: 'chunked'; decoder: ChunkedDecoder };

export class Connection implements ResponseOwner {
  /** Bytes received and not yet parsed. */
  private buf: Buffer = EMPTY;
  /** How far headEnd already scanned `buf`. */
  private scanned = 0;
  private req: Http1Request | null = null;
  private res: Http1Response | null = null;
  /** The current request's body still arriving. */
  private body: Body | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dead = false;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    // Errors (a reset) end in 'close', which is what is handled.
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
    this.arm(host.keepAliveTimeout);
  }

  /** No request is in progress: closing it loses nothing. */
  get idle(): boolean {
    return this.req === null && this.res === null && this.buf.length === 0;
  }

  keepAliveSeconds(): number | null {
    return this.host.closing ? null : Math.floor(this.host.keepAliveTimeout / 1000);
  }

  responseDone(close: boolean): void {
    this.res = null;
    if (close || this.host.closing) {
      this.dead = true;
      this.disarm();
      // The peer reads what was written, then sees the end.
      this.socket.end();
      return;
    }
    // An unread body is read and dropped, so the next request's head can be found after it.
    if (this.body !== null) this.req?.resume();
    else this.req = null;
    this.pump();
  }

  private onData(d: Buffer): void {
    if (this.dead) return;
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    this.pump();
  }

  private onClose(): void {
    this.dead = true;
    this.disarm();
    const req = this.req;
    if (req !== null && !req.complete) {
      // Readable emits 'error' even without listeners; a reader that listens learns why.
      if (req.listenerCount('error') > 0) req.destroy(new Error('the client closed the connection'));
      else req.destroy();
    }
    this.res?.socketClosed();
    this.host.forget(this);
  }

  /** Parse and dispatch what `buf` holds, as far as the current state allows. */
  private pump(): void {
    try {
      while (!this.dead) {
        if (this.body !== null && !this.feedBody()) return;
        if (this.res !== null) {
          // Pipelined bytes wait for the answer in progress; past a head's worth, the socket waits too.
          if (this.buf.length > MAX_HEAD_BYTES) this.socket.pause();
          return;
        }
        if (this.req !== null) this.req = null;
        if (!this.nextRequest()) return;
      }
    } catch (err) {
      if (err instanceof HeadError) this.refuse(err);
      else this.socket.destroy();
    }
  }

  /** Feed `buf` to the body being read; true once the body is complete. */
  private feedBody(): boolean {
    const req = this.req!;
    const body = this.body!;
    if (this.buf.length === 0) return false;
    let full = false;
    const deliver = (data: Buffer): void => {
      if (!req.destroyed && !req.push(data)) full = true;
    };
    let used: number;
    let done: boolean;
    if (body.kind === 'length') {
      used = Math.min(body.left, this.buf.length);
      deliver(this.buf.subarray(0, used));
      body.left -= used;
      done = body.left === 0;
    } else {
      // A malformed chunked body cannot be answered (the answer may be under way): drop the connection.
      try {
        used = body.decoder.push(this.buf, deliver);
      } catch {
        this.socket.destroy();
        return false;
      }
      done = body.decoder.done;
    }
    this.buf = used === this.buf.length ? EMPTY : this.buf.subarray(used);
    this.scanned = 0;
    if (done) {
      this.body = null;
      req.finishBody();
      if (this.res === null) this.disarm();
      return true;
    }
    // Nobody reads: leave the rest in the kernel until they do (_read resumes).
    if (full) this.socket.pause();
    return false;
  }

  /** Parse the next head in `buf` and dispatch it; false when it has not all arrived. */
  private nextRequest(): boolean {
    const skip = skipLeadingCrlf(this.buf);
    if (skip > 0) {
      this.buf = this.buf.subarray(skip);
      this.scanned = 0;
    }
    if (this.buf.length === 0) {
      this.socket.resume();
      this.arm(this.host.keepAliveTimeout);
      return false;
    }
    const end = headEnd(this.buf, this.scanned);
    if (end < 0) {
      if (this.buf.length > MAX_HEAD_BYTES) throw new HeadError(431, 'request header fields too large');
      this.scanned = this.buf.length;
      if (this.timerKind !== 'head') this.arm(HEADERS_TIMEOUT_MS, 'head');
      this.socket.resume();
      return false;
    }
    const head = parseHead(this.buf.subarray(0, end));
    this.buf = end === this.buf.length ? EMPTY : this.buf.subarray(end);
    this.scanned = 0;
    const socket = this.socket;
    const req = new Http1Request(head, socket, () => {
      // Asked for only once the body is wanted, and never after the answer began (a refusal needs no body).
      if (head.expectContinue && !this.continued && this.body !== null && !res.headersSent) {
        this.continued = true;
        socket.write(`HTTP/1.${head.minor} 100 Continue\r\n\r\n`, 'latin1');
      }
      if (this.dead) return;
      socket.resume();
      // Bytes already here are delivered now; the socket brings the rest.
      if (this.body !== null && this.buf.length > 0) queueMicrotask(() => this.pump());
    });
    this.continued = false;
    const res = new Http1Response(
      socket,
      this,
      head.method,
      head.minor,
      head.keepAlive && !this.host.closing,
    );
    this.req = req;
    this.res = res;
    if (head.body.kind === 'none') {
      req.finishBody();
      this.disarm();
    } else if (head.body.kind === 'length' && this.buf.length >= head.body.length) {
      // The whole body is here already: handed over as one buffer (Http1Request.setWholeBody).
      const n = head.body.length;
      req.setWholeBody(this.buf.subarray(0, n));
      this.buf = n === this.buf.length ? EMPTY : this.buf.subarray(n);
      this.disarm();
    } else {
      this.body =
        head.body.kind === 'length'
          ? { kind: 'length', left: head.body.length }
          : { kind: 'chunked', decoder: new ChunkedDecoder() };
      this.arm(REQUEST_TIMEOUT_MS, 'request');
    }
    this.host.listener(req, res);
    return true;
  }

  private continued = false;
  private timerKind: 'idle' | 'head' | 'request' | null = null;

  /** Answer a head that cannot be served, then close: what follows it cannot be framed. */
  private refuse(err: HeadError): void {
    this.dead = true;
    this.disarm();
    const text = JSON.stringify({
      error: { code: ERROR_CODES[err.status] ?? 'bad_request', message: err.message },
    });
    this.socket.end(
      `HTTP/1.1 ${err.status} ${reasonPhrase(err.status)}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }

  private arm(ms: number, kind: 'idle' | 'head' | 'request' = 'idle'): void {
    this.disarm();
    this.timerKind = kind;
    this.timer = setTimeout(() => {
      this.timer = null;
      // A request that did not arrive in time is answered (node:http's 408); an idle one just closed.
      if (kind !== 'idle' && this.res === null) this.refuse(new HeadError(408, 'request timed out'));
      else this.socket.destroy();
    }, ms);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerKind = null;
  }
}
