/**
 * Minimal stand-ins for the fetch API's `Headers` and `Response`: what hono
 * needs to build a response, and what the API server needs to write one.
 *
 * Why: in Node those globals are undici's, loaded on first touch. Loading
 * undici costs a node about 7 MB of RSS (half of it the node binary's pages,
 * half heap and compiled code) and 60 ms of start-up, while an idle daemon
 * never fetches anything. A node daemon installs these before its API serves
 * (`installLightFetchGlobals`, called by `runForeground`). `fetch` itself
 * stays undici's: it is loaded when a follower first relays a write to its
 * leader, and its responses are undici's own classes, unaffected by the globals.
 * Processes that do not install them (tests, library users) keep the real ones;
 * the server's adapter writes either kind.
 */

/** Header values as `new Headers(init)` accepts them, and as hono passes them. */
export type LightHeadersInit =
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[]>>
  | null
  | undefined;

function isIterable(x: object): x is Iterable<readonly [string, string]> {
  return typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

export class LightHeaders {
  /** Lower-case name -> values in arrival order. */
  private readonly map = new Map<string, string[]>();

  constructor(init?: LightHeadersInit) {
    if (init === null || init === undefined) return;
    if (isIterable(init)) {
      for (const [k, v] of init) this.append(k, v);
      return;
    }
    for (const [k, v] of Object.entries(init)) {
      if (typeof v === 'string') this.append(k, v);
      else for (const x of v) this.append(k, x);
    }
  }

  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const list = this.map.get(key);
    if (list) list.push(String(value));
    else this.map.set(key, [String(value)]);
  }

  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), [String(value)]);
  }

  get(name: string): string | null {
    return this.map.get(name.toLowerCase())?.join(', ') ?? null;
  }

  getSetCookie(): string[] {
    return [...(this.map.get('set-cookie') ?? [])];
  }

  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }

  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }

  /**
   * Each field once, in insertion order, as a response head carries it: set-cookie's values as a
   * list when there are several (one line each), others joined. No iterator or sorted copy.
   */
  eachField(cb: (name: string, value: string | readonly string[]) => void): void {
    this.map.forEach((values, k) => {
      if (values.length === 1) cb(k, values[0]!);
      else if (k === 'set-cookie') cb(k, values);
      else cb(k, values.join(', '));
    });
  }

  forEach(cb: (value: string, name: string, parent: LightHeaders) => void): void {
    for (const [k, v] of this.entries()) cb(v, k, this);
  }

  /** Sorted by name and combined, except set-cookie, one entry per cookie (as the fetch spec does). */
  *entries(): IterableIterator<[string, string]> {
    for (const k of [...this.map.keys()].sort()) {
      const values = this.map.get(k) ?? [];
      if (k === 'set-cookie') for (const v of values) yield [k, v];
      else yield [k, values.join(', ')];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/**
 * A body the light response holds as is: text or bytes. Streamed answers
 * (server-sent events) are written by the route itself (stream.ts).
 */
export type LightBody = string | Uint8Array | null;

export interface LightResponseInit {
  status?: number;
  statusText?: string;
  headers?: LightHeadersInit | LightHeaders;
}

function toBody(body: unknown): LightBody {
  if (body === null || body === undefined) return null;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  // Blobs, forms and web streams would need undici; no API route produces them (SSE: stream.ts).
  throw new TypeError(`unsupported response body (${Object.prototype.toString.call(body)})`);
}

export class LightResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: LightHeaders;
  readonly body: LightBody;
  readonly type = 'default';
  readonly redirected = false;
  readonly url = '';
  bodyUsed = false;

  constructor(body?: unknown, init: LightResponseInit = {}) {
    const status = init.status ?? 200;
    if (!Number.isInteger(status) || status < 200 || status > 599)
      throw new RangeError(`invalid response status ${status}`);
    this.status = status;
    this.statusText = init.statusText ?? '';
    this.headers = new LightHeaders(init.headers);
    this.body = toBody(body);
    if (typeof this.body === 'string' && !this.headers.has('content-type'))
      this.headers.set('content-type', 'text/plain;charset=UTF-8');
  }

  static json(data: unknown, init: LightResponseInit = {}): LightResponse {
    const r = new LightResponse(JSON.stringify(data), init);
    r.headers.set('content-type', 'application/json');
    return r;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  private consume(): string | Uint8Array | null {
    if (this.bodyUsed) throw new TypeError('body already used');
    this.bodyUsed = true;
    return this.body;
  }

  async text(): Promise<string> {
    const b = this.consume();
    return b === null ? '' : typeof b === 'string' ? b : Buffer.from(b).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.consume();
    const bytes = b === null ? new Uint8Array(0) : typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  clone(): LightResponse {
    if (this.bodyUsed) throw new TypeError('body already used');
    return new LightResponse(this.body, {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    });
  }
}

/**
 * Replace the global `Headers` and `Response` with the light ones, before
 * anything touches them (touching them is what loads undici). For a process
 * that only serves the API: code that builds real requests in this process
 * would get the light classes.
 */
export function installLightFetchGlobals(): void {
  for (const [name, value] of [
    ['Headers', LightHeaders],
    ['Response', LightResponse],
  ] as const) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }
}
