/**
 * A chunked request body (RFC 9112 section 7.1) decoded as its bytes arrive,
 * for the API's server on node:net (server.ts here). Bounded: a chunk-size
 * line (with any extensions) may take MAX_LINE_BYTES, a size at most 15 hex
 * digits, the trailer section MAX_TRAILER_BYTES; the data itself is handed
 * on as it comes and never held here (the request's reader bounds the body).
 * Strict like head.ts: CRLF after each chunk's data and each line, or a 400.
 */
import { HeadError } from './head.js';

/** A chunk-size line with its extensions (which are ignored). */
export const MAX_LINE_BYTES = 4 * 1024;
/** Trailer fields after the last chunk (read and dropped). */
export const MAX_TRAILER_BYTES = 16 * 1024;

type State = 'size' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

const CR = 13;
const LF = 10;

export class ChunkedDecoder {
  private state: State = 'size';
  /** Bytes of the line being read (a size line or a trailer line), kept as text. */
  private line = '';
  private lineBytes = 0;
  private trailerBytes = 0;
  /** Data bytes left in the current chunk. */
  private left = 0;
  private sawCr = false;

  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Decode `buf`: data goes to `onData` (views into `buf`), and the return is
   * how many bytes of `buf` belonged to the body (the rest is the next
   * request's). Throws HeadError(400) on a malformed body.
   */
  push(buf: Buffer, onData: (data: Buffer) => void): number {
    let i = 0;
    while (i < buf.length && this.state !== 'done') {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.left, buf.length - i);
          onData(buf.subarray(i, i + n));
          this.left -= n;
          i += n;
          if (this.left === 0) this.state = 'data-cr';
          break;
        }
        case 'data-cr':
          if (buf[i++] !== CR) throw new HeadError(400, 'chunk data not followed by CRLF');
          this.state = 'data-lf';
          break;
        case 'data-lf':
          if (buf[i++] !== LF) throw new HeadError(400, 'chunk data not followed by CRLF');
          this.state = 'size';
          break;
        case 'size':
        case 'trailer': {
          const b = buf[i++]!;
          if (this.sawCr) {
            if (b !== LF) throw new HeadError(400, 'bare CR in a chunked body');
            this.sawCr = false;
            this.endLine();
            break;
          }
          if (b === CR) {
            this.sawCr = true;
            break;
          }
          if (b === LF) throw new HeadError(400, 'bare LF in a chunked body');
          this.lineBytes++;
          if (this.state === 'size' && this.lineBytes > MAX_LINE_BYTES)
            throw new HeadError(400, 'chunk-size line too long');
          if (this.state === 'trailer' && ++this.trailerBytes > MAX_TRAILER_BYTES)
            throw new HeadError(431, 'chunked trailer too large');
          // Keep only what the size needs: extensions are skipped, not stored.
          if (this.line.length < 64) this.line += String.fromCharCode(b);
          break;
        }
      }
    }
    return i;
  }

  private endLine(): void {
    const line = this.line;
    this.line = '';
    this.lineBytes = 0;
    if (this.state === 'trailer') {
      // The empty line ends the trailer section and the body; trailer fields are dropped.
      if (line === '') this.state = 'done';
      return;
    }
    const semi = line.indexOf(';');
    const size = (semi < 0 ? line : line.slice(0, semi)).replace(/[ \t]+$/, '');
    if (!/^[0-9a-fA-F]{1,15}$/.test(size)) throw new HeadError(400, 'malformed chunk size');
    this.left = parseInt(size, 16);
    this.state = this.left === 0 ? 'trailer' : 'data';
  }
}
