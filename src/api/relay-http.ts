/**
 * The HTTP client a follower relays KV requests with: node:http over one
 * keep-alive agent, not fetch. fetch loads undici (about 7 MB per process and
 * 60 ms on first use, see docs/operations.md) and costs more CPU per request,
 * which a follower relaying every write of its device's agents pays in full.
 */
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface RelayResponse {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
}

/** An error of the relay itself (never an HTTP status): `code` is the socket error's, e.g. ECONNREFUSED. */
export class RelayError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'RelayError';
    this.code = code;
  }
}

export interface RelayRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  readonly timeoutMs: number;
}

function once(r: RelayRequest): Promise<RelayResponse> {
  return new Promise((resolve, reject) => {
    const headers =
      r.body === null ? r.headers : { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) };
    const req = request(r.url, { method: r.method, headers, agent, timeout: r.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 502,
          contentType: res.headers['content-type'] ?? null,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', (e: NodeJS.ErrnoException) => reject(new RelayError(e.message, e.code)));
    });
    req.on('timeout', () => req.destroy(new RelayError(`no answer within ${r.timeoutMs} ms`, 'ETIMEDOUT')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed as idle just as this request left: the server never read
      // it (it closes only idle sockets), so sending it again on a new connection is safe.
      if (req.reusedSocket && e.code === 'ECONNRESET')
        reject(new RelayError('stale keep-alive socket', 'ESTALE'));
      else reject(e instanceof RelayError ? e : new RelayError(e.message, e.code));
    });
    req.end(r.body ?? undefined);
  });
}

/**
 * Send one relayed request. One that met a stale kept-alive socket is sent
 * once more; if that second try is refused, the reset may instead have been
 * the server dying mid-request, so the outcome is unknown (code EUNKNOWN),
 * never "not sent" (ECONNREFUSED), which callers may retry elsewhere.
 */
export async function relayHttp(r: RelayRequest): Promise<RelayResponse> {
  try {
    return await once(r);
  } catch (e) {
    if (!(e instanceof RelayError) || e.code !== 'ESTALE') throw e;
  }
  try {
    return await once(r);
  } catch (e) {
    if (e instanceof RelayError && e.code === 'ECONNREFUSED')
      throw new RelayError('connection reset, then refused: the outcome is unknown', 'EUNKNOWN');
    throw e;
  }
}
