/**
 * The API as a node component: listens on api.bind_address:api.port and
 * reports its actual address (the port may be 0 = picked by the OS).
 */
import type { AddressInfo } from 'node:net';
import { SwarmError } from '../common/errors.js';
import { httpDate } from '../common/utc-time.js';
import type { ComponentStatus, NodeComponent, SwarmNode } from '../node/node.js';
import {
  ApiError,
  createApiHandlers,
  errorAnswer,
  errorBody,
  type ApiRoutes,
  type DirectRoute,
  type JsonAnswer,
} from './app.js';
import { MAX_BODY_BYTES, decodeUtf8 } from './body-checks.js';
import { createServer, type Http1Request, type Http1Response, type Http1Server } from './http1/server.js';
import { LightHeaders, LightResponse } from './light-fetch.js';
import { cancelStream, runStream, takeStream, type OpenStreams } from './stream.js';

export type { OpenStreams } from './stream.js';

/** The API port could not be bound (in use, no permission, bad address). */
export class ListenError extends SwarmError {
  constructor(what: string, host: string, port: number, cause: NodeJS.ErrnoException) {
    const reason =
      cause.code === 'EADDRINUSE'
        ? 'is in use'
        : cause.code === 'EACCES'
          ? 'needs privileges'
          : cause.code === 'EADDRNOTAVAIL'
            ? 'is not an address of this machine'
            : `cannot be bound (${cause.code ?? cause.message})`;
    super('listen_failed', `${what} ${formatHostPort(host, port)} ${reason}`, {
      fields: { host, port },
      cause,
    });
  }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function notUtf8(): ApiError {
  return new ApiError(400, 'bad_utf8', 'request body is not valid UTF-8');
}

function utf8Text(bytes: Buffer): string {
  const text = decodeUtf8(bytes);
  if (text === null) throw notUtf8();
  return text;
}

function tooLarge(maxBodyBytes: number): ApiError {
  return new ApiError(413, 'too_large', `request body exceeds ${maxBodyBytes} bytes`);
}

/**
 * The request as hono reads it (url, method, headers, body on demand); the
 * body is read once and kept, and only up to `maxBodyBytes`: a chunked body
 * that passes it is refused then, not after it was all buffered.
 */
class NodeRequest {
  readonly url: string;
  readonly method: string;
  private lightHeaders: LightHeaders | null = null;
  private body: Promise<Buffer> | null = null;
  /** Set when the body was refused unread: see discardThenClose. */
  refused = false;
  /**
   * Aborted when the client goes away before its answer was written: a
   * request that waits (a lock, a campaign) withdraws instead of waiting on
   * for nobody (etcd cancels with the client's context).
   */
  get signal(): AbortSignal {
    // Made on first use: an AbortController per request was 2% of a leader's time under KV writes,
    // and most routes never look (a KV write reads `abandoned`).
    if (this.gone === null) {
      this.gone = new AbortController();
      if (this.left) this.gone.abort();
    }
    return this.gone.signal;
  }

  /** Whether the client went away before its answer was written (`signal.aborted` without a signal). */
  get abandoned(): boolean {
    return this.left;
  }

  /** The client's connection closed before the answer was written. */
  abandon(): void {
    this.left = true;
    this.gone?.abort();
  }

  private gone: AbortController | null = null;
  private left = false;
  private waiting: AbortController | null = null;

  constructor(
    private readonly incoming: Http1Request,
    private readonly maxBodyBytes: number,
    private readonly res: Http1Response | null = null,
    private readonly open: OpenStreams | null = null,
  ) {
    this.method = incoming.method ?? 'GET';
    this.url = `http://${incoming.headers.host ?? 'localhost'}${incoming.url ?? '/'}`;
  }

  /** Built on first use: a KV write's route reads none (a header map per request was garbage per write). */
  get headers(): LightHeaders {
    if (this.lightHeaders !== null) return this.lightHeaders;
    const h = new LightHeaders();
    const raw = this.incoming.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) h.append(raw[i] ?? '', raw[i + 1] ?? '');
    this.lightHeaders = h;
    return h;
  }

  /**
   * For a long poll (stream.ts waitSignal): aborted like `signal`, and also
   * when the server stops, so a stopping node answers its long polls at once
   * instead of cutting them off. Made on first use, held until the answer is out.
   */
  get waitSignal(): AbortSignal {
    if (this.waiting !== null) return this.waiting.signal;
    const ac = new AbortController();
    this.waiting = ac;
    const stop = (): void => ac.abort();
    if (this.signal.aborted) stop();
    else this.signal.addEventListener('abort', stop, { once: true });
    const open = this.open;
    if (open !== null && this.res !== null) {
      open.add(stop);
      this.res.once('close', () => open.delete(stop));
    }
    return ac.signal;
  }

  get bodyUsed(): boolean {
    return this.body !== null;
  }

  /** A body that came whole with its head, within the limit or refused. */
  private wholeBody(whole: Buffer): Promise<Buffer> {
    if (whole.length <= this.maxBodyBytes) return Promise.resolve(whole);
    this.refused = true;
    return Promise.reject(tooLarge(this.maxBodyBytes));
  }

  private bytes(): Promise<Buffer> {
    if (this.body !== null) return this.body;
    // Usually the whole body came with the head: no stream, no listeners, no copy.
    const whole = this.incoming.takeWholeBody();
    if (whole !== null) {
      this.body = this.wholeBody(whole);
      return this.body;
    }
    this.body = new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (c: Buffer): void => {
        size += c.length;
        if (size > this.maxBodyBytes) {
          this.refused = true;
          this.incoming.off('data', onData);
          chunks.length = 0;
          reject(tooLarge(this.maxBodyBytes));
          return;
        }
        chunks.push(c);
      };
      this.incoming.on('data', onData);
      this.incoming.once('end', () => resolve(Buffer.concat(chunks)));
      this.incoming.once('error', reject);
    });
    return this.body;
  }

  text(): Promise<string> {
    // A body that came whole with its head (a KV write's): decoded now, without an async frame and its tick.
    if (this.body === null) {
      const whole = this.incoming.takeWholeBody();
      if (whole !== null) {
        this.body = this.wholeBody(whole);
        if (!this.refused) {
          const text = decodeUtf8(whole);
          return text === null ? Promise.reject(notUtf8()) : Promise.resolve(text);
        }
      }
    }
    return this.bytes().then(utf8Text);
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = await this.bytes();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }
}

/** What a handler may return: the light response in a daemon, undici's elsewhere. */
type AnyResponse = LightResponse | Response;

function headersOf(r: AnyResponse): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of r.headers.entries()) {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  return headers;
}

/** The answer a route marked as a stream is still one when it leaves hono: a 2xx event stream, not a HEAD. */
function streams(req: Http1Request, r: AnyResponse): boolean {
  return (
    req.method !== 'HEAD' &&
    r.status >= 200 &&
    r.status < 300 &&
    (r.headers.get('content-type') ?? '').startsWith('text/event-stream')
  );
}

async function writeResponse(
  req: Http1Request,
  nreq: NodeRequest,
  res: Http1Response,
  r: AnyResponse,
  open: OpenStreams,
): Promise<void> {
  // A route that streams (stream.ts): headers now, the body as the route writes it.
  const stream = takeStream(nreq);
  if (stream !== undefined) {
    if (streams(req, r)) return runStream(res, r.status, r.headers.entries(), stream, open);
    await cancelStream(stream);
  }
  let body: string | Uint8Array | null;
  if (r instanceof LightResponse) {
    // The daemon's usual answer: fields straight from the light headers, no record in between.
    r.headers.eachField((name, value) => res.setHeader(name, value));
    body = r.body;
  } else {
    for (const [name, value] of Object.entries(headersOf(r))) res.setHeader(name, value);
    body = r.body === null ? null : new Uint8Array(await r.arrayBuffer());
  }
  if (body !== null && res.getHeader('content-length') === undefined)
    res.setHeader('content-length', typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  res.writeHead(r.status, r.statusText || undefined);
  res.end(req.method === 'HEAD' || body === null ? undefined : body);
}

/** A direct route's answer (app.ts DirectRoute), field for field what writeResponse makes of hono's `c.json`. */
function writeJson(res: Http1Response, a: JsonAnswer): void {
  const text = JSON.stringify(a.body);
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.writeHead(a.status);
  res.end(text);
}

let dateSecond = -1;
let dateText = '';
/** The Date field's text, made once a second rather than once a request. */
function dateNow(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSecond) {
    dateSecond = sec;
    dateText = httpDate(sec * 1000);
  }
  return dateText;
}

/**
 * HTTP/1.1 (http1/server.ts, on node:net) -> hono without @hono/node-server,
 * whose import alone touches the global Request and Response and so loads
 * undici (see light-fetch.ts).
 */
export function requestListener(
  fetchFn: (req: Request) => AnyResponse | Promise<AnyResponse>,
  opts: { maxBodyBytes?: number; streams?: OpenStreams; direct?: readonly DirectRoute[] } = {},
): (req: Http1Request, res: Http1Response) => void {
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const open = opts.streams ?? new Set<() => void>();
  const direct = opts.direct ?? [];
  // One async function for every request, its errors caught inside: no closure, no `.catch` promise per request.
  const serve = async (req: Http1Request, res: Http1Response): Promise<void> => {
    try {
      // A body announced larger than the limit is refused before a byte of it is read: the length the
      // head parser framed, since the field may be repeated (`70000, 70000` is not a number).
      if (req.contentLength !== null && req.contentLength > maxBodyBytes) {
        const e = tooLarge(maxBodyBytes);
        const text = JSON.stringify(errorBody(e.code, e.message));
        discardThenClose(req, res);
        res.writeHead(413, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      // hono reads only url, method, headers and the body methods NodeRequest has.
      const nreq = new NodeRequest(req, maxBodyBytes, res, open);
      // Told if the connection closes before the answer went out (no 'close' listener per request).
      res.leaver = nreq;
      for (const route of direct) {
        const answer = route(nreq);
        if (answer === null) continue;
        let a: JsonAnswer;
        try {
          a = await answer;
        } catch (err) {
          a = errorAnswer(err instanceof Error ? err : new Error(String(err)));
        }
        if (nreq.refused) discardThenClose(req, res);
        writeJson(res, a);
        return;
      }
      const r = await fetchFn(nreq as unknown as Request);
      if (nreq.refused) discardThenClose(req, res);
      await writeResponse(req, nreq, res, r, open);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const text = JSON.stringify(errorBody('internal', err instanceof Error ? err.message : String(err)));
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    }
  };
  return (req, res) => {
    // Ours rather than node:http's, which formats it with toUTCString (ICU's time zone data; utc-time.ts).
    res.setHeader('date', dateNow());
    void serve(req, res);
  };
}

/** How much of a refused body is still read, and for how long, before its connection is closed. */
const DISCARD_BYTES = 16 * 1024 * 1024;
const DISCARD_MS = 5000;

/**
 * After a body was refused: read and drop what the client still sends, up to
 * DISCARD_BYTES or DISCARD_MS, then close. Closing at once would reset the
 * connection under a client still writing, and a reset can destroy our 413
 * in its receive buffer before it is read (nginx's lingering_close does the
 * same); memory stays flat, since nothing is kept.
 */
function discardThenClose(req: Http1Request, res: Http1Response): void {
  res.once('finish', () => {
    if (req.complete) return;
    let seen = 0;
    const socket = req.socket;
    const timer = setTimeout(() => socket.destroy(), DISCARD_MS);
    timer.unref();
    req.on('data', (c: Buffer) => {
      seen += c.length;
      if (seen > DISCARD_BYTES) socket.destroy();
    });
    req.resume();
    socket.once('close', () => clearTimeout(timer));
    req.once('end', () => clearTimeout(timer));
  });
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

export class ApiServer implements NodeComponent {
  readonly name = 'api';
  private server: Http1Server | null = null;
  private address: string | null = null;
  private readonly routes: readonly ApiRoutes[];
  /** Open streaming responses, ended first when the server stops. */
  private readonly streams: OpenStreams = new Set();

  constructor(opts: { routes?: readonly ApiRoutes[] } = {}) {
    this.routes = opts.routes ?? [];
  }

  async start(node: SwarmNode): Promise<void> {
    const { bind_address: host, port } = node.config.api;
    const token = node.config.security.api_token;
    const { app, direct } = createApiHandlers(node, { apiToken: token, routes: this.routes });
    const server = createServer(requestListener(app.fetch, { streams: this.streams, direct }));
    // Clients (fetch, node:http) reuse a socket only while more than ~1 s of the
    // server's keep-alive hint remains; 5 s lets agents and followers' relays keep
    // one connection (measured: 592 -> 1213 KV writes/s in-process). Shutdown
    // closes idle sockets itself, so a long timeout does not delay `stop()`.
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void =>
        reject(new ListenError('api port', host, port, err));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => node.log.error('api server error', { error: err }));
    this.server = server;
    const a = server.address() as AddressInfo;
    this.address = formatHostPort(host, a.port);
    node.log.info('api listening', { address: this.address });
    if (!isLoopback(host) && node.config.security.api_token === '') {
      node.log.warn('api reachable from the network without security.api_token: anyone can stop this node', {
        address: this.address,
      });
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    // Event streams never go idle and long polls wait up to minutes: end them, or the close below
    // would wait out the 2 s cut-off.
    for (const end of [...this.streams]) end();
    await new Promise<void>((resolve) => {
      // A keep-alive connection whose last response is still being written is not idle yet: sweep again
      // until none is left, so a stop does not wait out the keep-alive timeout (it used to take 2 s).
      const sweep = setInterval(() => server.closeIdleConnections(), 25);
      server.close(() => {
        clearInterval(sweep);
        resolve();
      });
      server.closeIdleConnections();
      // A client holding a request open must not keep the node from stopping.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
  }

  status(): ComponentStatus {
    return { addresses: { api: this.address } };
  }
}
