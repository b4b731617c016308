/**
 * A request on the API's server on node:net (server.ts here), shaped like
 * the part of node:http's IncomingMessage the API reads (method, url,
 * headers, rawHeaders, socket, complete, and the body as a Readable), so
 * the adapter in src/api/server.ts serves both. The body is pushed by the
 * connection as it is decoded; while nobody reads it the connection stops
 * reading the socket (push() returning false), so an unread body waits in
 * the kernel's buffers, not here.
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { RequestHead } from './head.js';

export class Http1Request extends Readable {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawHeaders: readonly string[];
  readonly httpVersion: string;
  /**
   * The body's length as the head framed it (head.ts): 0 without a body, null when chunked. The
   * Content-Length field itself may be repeated with equal values (`70000, 70000` in `headers`),
   * so a limit checked before the body is read must use this, not the field's text.
   */
  readonly contentLength: number | null;
  /** The whole body arrived (IncomingMessage.complete). */
  complete = false;

  constructor(
    head: RequestHead,
    readonly socket: Socket,
    /** Called when the reader wants more of the body: the connection resumes the socket. */
    private readonly more: () => void,
  ) {
    super();
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
    this.httpVersion = `1.${head.minor}`;
    this.contentLength =
      head.body.kind === 'length' ? head.body.length : head.body.kind === 'none' ? 0 : null;
  }

  override _read(): void {
    if (this.whole !== null) {
      // Read as a stream after all: deliver the body held whole, then its end.
      const b = this.whole;
      this.whole = null;
      this.wholeTaken = true;
      if (b.length > 0) this.push(b);
      this.push(null);
      return;
    }
    if (this.wholeTaken) {
      this.push(null);
      return;
    }
    this.more();
  }

  /** The body's last byte arrived. */
  finishBody(): void {
    this.complete = true;
    this.push(null);
  }

  /**
   * The whole body arrived with the head (a small request in one packet): held as is, not pushed
   * through the stream, whose per-chunk ticks and buffers were a good part of a KV write's garbage.
   * takeWholeBody() hands it over; reading the stream instead gets it as one chunk.
   */
  setWholeBody(body: Buffer): void {
    this.complete = true;
    this.whole = body;
  }

  /** The body set by setWholeBody, once; null when the body comes through the stream. */
  takeWholeBody(): Buffer | null {
    const b = this.whole;
    if (b === null) return null;
    this.whole = null;
    this.wholeTaken = true;
    return b;
  }

  private whole: Buffer | null = null;
  private wholeTaken = false;
}
