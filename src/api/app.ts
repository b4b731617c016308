/**
 * The REST API as a hono app, independent of any socket so tests can call
 * `app.request(...)` directly. `createApi(node)` takes the narrow `ApiNode`
 * view, so the API can be exercised against a fake node.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { constantTimeEqual } from '../common/constant-time.js';
import { SwarmError } from '../common/errors.js';
import { BodyShapeError, JsonLimitError, checkShutdownBody, parseBoundedJson } from './body-checks.js';
import type { NodeStatus } from '../node/node.js';
import type { ErrorResponse, HealthResponse, ShutdownResponse, StatusResponse } from './types.js';

/** What the API needs from a node. `SwarmNode` satisfies it. */
export interface ApiNode {
  readonly id: string;
  readonly state: string;
  status(): NodeStatus;
  requestShutdown(reason: string): void;
}

export interface ApiOptions {
  /** When non-empty, mutating requests need `Authorization: Bearer <token>`. */
  apiToken?: string;
  /** Extra route groups (Raft KV, swarm view, metrics...) mounted by later components. */
  routes?: readonly ApiRoutes[];
}

/**
 * A route group: mounts its routes on the hono app, and may also answer some
 * requests before hono does (`direct`, see DirectRoute).
 */
export type ApiRoutes = ((app: Hono, node: ApiNode) => void) & { readonly direct?: DirectRoute };

/** A JSON answer before HTTP: what `c.json(body, status)` would send. */
export interface JsonAnswer {
  readonly status: ContentfulStatusCode;
  readonly body: unknown;
}

/** What a direct route reads of a request (server.ts NodeRequest). */
export interface DirectRequest {
  readonly method: string;
  /** Absolute, as hono sees it: `http://<host><target>`. */
  readonly url: string;
  /** The body as UTF-8 text, within the server's body limit (413 too_large, 400 bad_utf8). */
  text(): Promise<string>;
  /** The client went away before its answer was written. */
  readonly abandoned: boolean;
}

/**
 * The server's way round hono for its hottest requests (a KV write, issue
 * #16): null when the route group does not take the request (hono then
 * routes it), else its JSON answer, or a rejection answered as hono's
 * onError would (errorAnswer). It must answer exactly as the group's hono
 * route for the same request: hono's Context, router and Response per
 * request were a tenth of a leader's JavaScript time under KV writes.
 * Only used when no API token is set (the token check is hono middleware):
 * createApiHandlers hands them out with the app.
 */
export type DirectRoute = (req: DirectRequest) => Promise<JsonAnswer> | null;

/** An error the API turns into `{error:{code,message}}` with the given HTTP status. */
export class ApiError extends SwarmError {
  readonly status: ContentfulStatusCode;
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

export function errorBody(code: string, message: string): ErrorResponse {
  return { error: { code, message } };
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m?.[1]) return false;
  const a = Buffer.from(m[1].trim());
  const b = Buffer.from(token);
  return constantTimeEqual(a, b);
}

function requireToken(token: string): MiddlewareHandler {
  return async (c, next) => {
    if (MUTATING.has(c.req.method) && !tokenMatches(c.req.header('authorization'), token)) {
      return c.json(errorBody('unauthorized', 'this request needs Authorization: Bearer <api_token>'), 401, {
        'WWW-Authenticate': 'Bearer',
      });
    }
    await next();
  };
}

/** Parse an optional JSON body and check its shape (body-checks.ts); bad JSON or bad shape is a 400. */
export async function readJson<T>(c: Context, check: (body: unknown) => T): Promise<T> {
  const text = await c.req.text();
  const value: unknown = text.trim() === '' ? {} : parseJsonBody(text);
  return checkedBody(value, check);
}

/**
 * A body's JSON within the API's limits (body-checks.ts parseBoundedJson):
 * 400 bad_json when it does not parse, 400 bad_request when it nests deeper
 * than MAX_VALUE_DEPTH or holds a number JSON cannot carry (1e999).
 */
export function parseJsonBody(text: string): unknown {
  try {
    return parseBoundedJson(text);
  } catch (err) {
    if (err instanceof JsonLimitError) throw new ApiError(400, 'bad_request', err.message);
    throw new ApiError(400, 'bad_json', 'request body is not valid JSON');
  }
}

/** A parsed body through its check (body-checks.ts); a bad shape is a 400 bad_request. */
export function checkedBody<T>(value: unknown, check: (body: unknown) => T): T {
  try {
    return check(value);
  } catch (err) {
    if (err instanceof BodyShapeError) throw new ApiError(400, 'bad_request', err.message);
    throw err;
  }
}

/** An error as the API answers it (createApi's onError): ApiError's status, a SwarmError 400 or 500, else 500. */
export function errorAnswer(err: Error): JsonAnswer {
  if (err instanceof ApiError) return { status: err.status, body: errorBody(err.code, err.message) };
  if (err instanceof SwarmError)
    return { status: err.exitCode === 2 ? 400 : 500, body: errorBody(err.code, err.message) };
  return { status: 500, body: errorBody('internal', err.message) };
}

export function createApi(node: ApiNode, opts: ApiOptions = {}): Hono {
  const app = new Hono();
  // Without a token there is nothing to check: no middleware, so hono calls a route's handler
  // directly instead of composing a chain (an async frame and closures per request).
  if ((opts.apiToken ?? '') !== '') app.use('*', requireToken(opts.apiToken ?? ''));

  app.get('/v1/health', (c) => {
    const body: HealthResponse = { status: 'ok', id: node.id, state: node.state };
    return c.json(body);
  });

  app.get('/v1/status', (c) => {
    const body: StatusResponse = node.status();
    return c.json(body);
  });

  app.post('/v1/shutdown', async (c) => {
    const req = await readJson(c, checkShutdownBody);
    const body: ShutdownResponse = { status: 'stopping', id: node.id };
    // Reply first: the node closes this server while stopping.
    setImmediate(() => node.requestShutdown(req.reason ?? 'api'));
    return c.json(body, 202);
  });

  for (const mount of opts.routes ?? []) mount(app, node);

  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    const a = errorAnswer(err);
    return c.json(a.body, a.status);
  });
  return app;
}

/** The API as a server serves it: the hono app and the direct routes to try before it. */
export interface ApiHandlers {
  readonly app: Hono;
  /** Empty when an API token is set: see createApiHandlers. */
  readonly direct: readonly DirectRoute[];
}

/**
 * The hono app with the route groups' direct routes (DirectRoute), made together so that no caller
 * can pair a token-protected app with routes that answer before its token check: the token is
 * hono middleware, so with one set every request must go through hono.
 */
export function createApiHandlers(node: ApiNode, opts: ApiOptions = {}): ApiHandlers {
  const app = createApi(node, opts);
  const direct =
    (opts.apiToken ?? '') === ''
      ? (opts.routes ?? []).flatMap((r) => (r.direct === undefined ? [] : [r.direct]))
      : [];
  return { app, direct };
}
