/**
 * Typed client for a node's REST API, used by the CLI and by agents. Every call
 * has a timeout; every failure is one of the typed errors in `errors.ts`.
 */
import type { z } from 'zod';
import type { HealthResponse, ShutdownResponse, StatusResponse } from '../api/types.js';
import type { MembersResponse } from '../api/members-types.js';
import type { EnergyResponse, SwarmEnergyResponse } from '../api/energy-types.js';
import type {
  KvDeleteResponseBody,
  KvItemResponse,
  KvListResponseBody,
  LeaderResponseBody,
} from '../api/routes/kv-types.js';
import type { EventJson, EventSendResponse, EventsRecentResponse } from '../api/routes/events-types.js';
import type {
  ElectionResponse,
  LeaseInfoResponse,
  LeaseResponse,
  LeaseRevokeResponse,
  LockResponse,
  LockStateResponse,
  ResignResponse,
  UnlockResponse,
  WatchEvent,
  WatchPollResponse,
} from '../api/routes/coord-types.js';

import type {
  TaskListResponse,
  TaskLogEndResponse,
  TaskLogsResponse,
  TaskStatusResponse,
} from '../api/routes/tasks-types.js';
import type * as Schemas from './schemas.js';
import { sleep } from '../common/sleep.js';
import { parseSse } from './sse.js';
import {
  ApiRequestError,
  BadResponseError,
  CompactedRevisionError,
  NodeUnreachableError,
  StreamNotSupportedError,
  UnauthorizedError,
  errorBody,
} from './errors.js';

/** Which keys a watch follows. */
export type WatchTarget = { readonly key: string } | { readonly prefix: string };

/** Seconds added to a server-side wait for the client's own timeout. */
const WAIT_MARGIN_MS = 5000;

type SchemaModule = typeof Schemas;
let schemaModule: Promise<SchemaModule> | undefined;

/** The response schemas (and zod with them), imported on the first answer that needs checking. */
function loadSchemas(): Promise<SchemaModule> {
  return (schemaModule ??= import('./schemas.js'));
}

export interface SwarmClientOptions {
  /** e.g. `http://127.0.0.1:5557` */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` when non-empty. */
  token?: string;
  /** Per-request timeout; default 5000 ms. */
  timeoutMs?: number;
}

export class SwarmClient {
  readonly baseUrl: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(opts: SwarmClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.token = opts.token ?? '';
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  status(): Promise<StatusResponse> {
    return this.call('GET', '/v1/status', (m) => m.statusSchema);
  }

  health(): Promise<HealthResponse> {
    return this.call('GET', '/v1/health', (m) => m.healthSchema);
  }

  /** The swarm as the node's gossip sees it (members, leader, adaptive mode, encryption). */
  members(): Promise<MembersResponse> {
    return this.call('GET', '/v1/members', (m) => m.membersResponseSchema);
  }

  /** This node's energy snapshot (power, energy, carbon, rating, battery). 503 when [energy] is off. */
  energy(): Promise<EnergyResponse> {
    return this.call('GET', '/v1/energy', (m) => m.energyResponseSchema);
  }

  /** Every member's gossiped energy summary plus swarm totals. */
  energySwarm(): Promise<SwarmEnergyResponse> {
    return this.call('GET', '/v1/energy/swarm', (m) => m.swarmEnergyResponseSchema);
  }

  /** The node's `/metrics` in Prometheus text format (not JSON, so outside `request`). */
  async metricsText(): Promise<string> {
    const url = `${this.baseUrl}/metrics`;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new NodeUnreachableError(this.baseUrl, describeFetchError(err), err);
    }
    const text = await res.text();
    if (!res.ok)
      throw new ApiRequestError(res.status, `http_${res.status}`, `GET /metrics: HTTP ${res.status}`);
    return text;
  }

  /** Raft leader, term, commit index and membership as this node sees them. */
  leader(): Promise<LeaderResponseBody> {
    return this.call('GET', '/v1/leader', (m) => m.leaderSchema);
  }

  /** Linearizable read by default; `stale` reads the node's local state. 404 -> ApiRequestError not_found. */
  kvGet(key: string, opts: { stale?: boolean } = {}): Promise<KvItemResponse> {
    const q = opts.stale === true ? '?consistency=stale' : '';
    return this.call('GET', `/v1/kv/${encodeURIComponent(key)}${q}`, (m) => m.kvItemSchema);
  }

  /**
   * Resolves once the write is committed and applied; `prevRevision` makes it a compare-and-set (409 on
   * mismatch); `lease` binds the key to a lease (deleted when it ends; 404 lease_not_found).
   */
  kvPut(
    key: string,
    value: unknown,
    opts: { prevRevision?: number; lease?: number } = {},
  ): Promise<KvItemResponse> {
    const body = {
      value,
      ...(opts.prevRevision === undefined ? {} : { prev_revision: opts.prevRevision }),
      ...(opts.lease === undefined ? {} : { lease: opts.lease }),
    };
    return this.call('PUT', `/v1/kv/${encodeURIComponent(key)}`, (m) => m.kvItemSchema, body);
  }

  kvDelete(key: string): Promise<KvDeleteResponseBody> {
    return this.call('DELETE', `/v1/kv/${encodeURIComponent(key)}`, (m) => m.kvDeleteSchema);
  }

  kvList(prefix = '', opts: { stale?: boolean } = {}): Promise<KvListResponseBody> {
    const q = new URLSearchParams({ prefix, ...(opts.stale === true ? { consistency: 'stale' } : {}) });
    return this.call('GET', `/v1/kv?${q.toString()}`, (m) => m.kvListSchema);
  }

  // ---------------------------------------------------------------- watch

  /**
   * One long poll: the events from `fromRevision` (default: after now) matching
   * `target`, or [] after `waitS`. Continue from `next_revision`. 410 ->
   * CompactedRevisionError.
   */
  watchPoll(
    target: WatchTarget,
    opts: { fromRevision?: number; waitS?: number; consistent?: boolean; limit?: number } = {},
  ): Promise<WatchPollResponse> {
    const waitS = opts.waitS ?? 30;
    const q = this.watchQuery(target, opts);
    q.set('wait', `${waitS}s`);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    return this.call('GET', `/v1/watch?${q.toString()}`, (m) => m.watchPollSchema, undefined, {
      timeoutMs: waitS * 1000 + WAIT_MARGIN_MS,
    });
  }

  private watchQuery(
    target: WatchTarget,
    opts: { fromRevision?: number; consistent?: boolean },
  ): URLSearchParams {
    const q = new URLSearchParams('key' in target ? { key: target.key } : { prefix: target.prefix });
    if (opts.fromRevision !== undefined) q.set('from_revision', String(opts.fromRevision));
    if (opts.consistent === true) q.set('consistent', 'true');
    return q;
  }

  /**
   * Every event matching `target` from `fromRevision` (default: after now), as
   * a Server-Sent Events stream, until `signal` aborts. A dropped connection
   * is re-opened (with `Last-Event-ID`, so the stream resumes right after the
   * last event yielded: no gap, no duplicate) until `reconnectForMs` passes
   * without success. 410 -> CompactedRevisionError.
   */
  async *watchKv(
    target: WatchTarget,
    opts: { fromRevision?: number; consistent?: boolean; signal?: AbortSignal; reconnectForMs?: number } = {},
  ): AsyncGenerator<WatchEvent> {
    let last: number | null = opts.fromRevision === undefined ? null : opts.fromRevision - 1;
    let failingSince: number | null = null;
    const reconnectForMs = opts.reconnectForMs ?? 30_000;
    while (opts.signal?.aborted !== true) {
      const q = this.watchQuery(target, {
        ...(last === null ? {} : { fromRevision: last + 1 }),
        ...(opts.consistent === true ? { consistent: true } : {}),
      });
      try {
        for await (const m of this.sse(`/v1/watch?${q.toString()}`, last, opts.signal)) {
          failingSince = null;
          if (m.event === 'compacted') {
            const oldest = (JSON.parse(m.data) as { oldest_revision: number }).oldest_revision;
            throw new CompactedRevisionError(
              `watch fell behind the node's history (oldest ${oldest})`,
              oldest,
            );
          }
          if (m.event !== 'put' && m.event !== 'delete') continue;
          const ev = JSON.parse(m.data) as WatchEvent;
          last = ev.revision;
          yield ev;
        }
      } catch (err) {
        if (isAborted(opts.signal)) return;
        if (!(err instanceof NodeUnreachableError)) throw err;
        failingSince ??= Date.now();
        if (Date.now() - failingSince > reconnectForMs) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Raw SSE messages of `path` (Last-Event-ID when `lastId` is set). */
  async *sse(path: string, lastId: number | null, signal?: AbortSignal) {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (lastId !== null) headers['last-event-id'] = String(lastId);
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        headers,
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      throw new NodeUnreachableError(this.baseUrl, describeFetchError(err), err);
    }
    if (!res.ok || res.body === null) {
      let json: unknown = null;
      try {
        json = await res.json();
      } catch {
        /* not JSON */
      }
      throw this.errorOf(res.status, json);
    }
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body.cancel().catch(() => undefined);
      throw new StreamNotSupportedError(`${this.baseUrl}${path}`);
    }
    try {
      yield* parseSse(res.body);
    } catch (err) {
      if (signal?.aborted === true) return;
      throw new NodeUnreachableError(this.baseUrl, `stream broke: ${describeFetchError(err)}`, err);
    }
    // The server ended the stream (stopping): like a drop, the caller reconnects.
    throw new NodeUnreachableError(this.baseUrl, 'stream ended');
  }

  // ---------------------------------------------------------------- leases

  leaseGrant(ttlS: number): Promise<LeaseResponse> {
    return this.call('POST', '/v1/lease', (m) => m.leaseSchema, { ttl_s: ttlS });
  }

  /** 404 lease_not_found once the lease expired or was revoked. */
  leaseKeepAlive(id: number): Promise<LeaseResponse> {
    return this.call('POST', `/v1/lease/${id}/keepalive`, (m) => m.leaseSchema, {});
  }

  leaseRevoke(id: number): Promise<LeaseRevokeResponse> {
    return this.call('DELETE', `/v1/lease/${id}`, (m) => m.leaseRevokeSchema);
  }

  leaseInfo(id: number): Promise<LeaseInfoResponse> {
    return this.call('GET', `/v1/lease/${id}`, (m) => m.leaseInfoSchema);
  }

  // ---------------------------------------------------------------- locks and elections

  /** Blocks until held (200, `revision` = fencing token) or `waitS` passed (408 timeout). */
  lock(name: string, opts: { lease: number; waitS?: number; owner?: unknown }): Promise<LockResponse> {
    const waitS = opts.waitS ?? 30;
    const body = {
      lease: opts.lease,
      wait_s: waitS,
      ...(opts.owner === undefined ? {} : { owner: opts.owner }),
    };
    return this.call('POST', `/v1/lock/${encodeURIComponent(name)}`, (m) => m.lockSchema, body, {
      timeoutMs: waitS * 1000 + WAIT_MARGIN_MS,
    });
  }

  unlock(name: string, lease: number): Promise<UnlockResponse> {
    return this.call('DELETE', `/v1/lock/${encodeURIComponent(name)}?lease=${lease}`, (m) => m.unlockSchema);
  }

  lockState(name: string): Promise<LockStateResponse> {
    return this.call('GET', `/v1/lock/${encodeURIComponent(name)}`, (m) => m.lockStateSchema);
  }

  /** Blocks until this candidate leads (or 408 after `waitS`). */
  campaign(name: string, opts: { lease: number; value: unknown; waitS?: number }): Promise<ElectionResponse> {
    const waitS = opts.waitS ?? 300;
    return this.call(
      'POST',
      `/v1/election/${encodeURIComponent(name)}/campaign`,
      (m) => m.electionSchema,
      { lease: opts.lease, value: opts.value, wait_s: waitS },
      { timeoutMs: waitS * 1000 + WAIT_MARGIN_MS },
    );
  }

  resign(name: string, lease: number): Promise<ResignResponse> {
    return this.call('POST', `/v1/election/${encodeURIComponent(name)}/resign`, (m) => m.resignSchema, {
      lease,
    });
  }

  electionLeader(name: string): Promise<ElectionResponse> {
    return this.call('GET', `/v1/election/${encodeURIComponent(name)}`, (m) => m.electionSchema);
  }

  /** Leader changes of an election (the current one first), until `signal` aborts. */
  async *electionWatch(
    name: string,
    signal?: AbortSignal,
  ): AsyncGenerator<ElectionResponse & { revision: number }> {
    for await (const m of this.sse(`/v1/election/${encodeURIComponent(name)}?watch=true`, null, signal)) {
      if (m.event === 'leader')
        yield { ...(JSON.parse(m.data) as ElectionResponse), revision: Number(m.id ?? 0) };
    }
  }

  /**
   * Send a swarm event to every node (best effort; 202 once this node
   * originated it). `payload` is text (JSON as its text); `{ binary }` sends bytes.
   */
  sendEvent(name: string, payload: string | { binary: Uint8Array } = ''): Promise<EventSendResponse> {
    const body =
      typeof payload === 'string'
        ? { name, payload }
        : { name, payload_base64: Buffer.from(payload.binary).toString('base64') };
    return this.call('POST', '/v1/events', (m) => m.eventSendResponseSchema, body);
  }

  /** The events this node still holds in its ring (after `since`, a cursor; all with "0"), as one list. */
  recentEvents(opts: { name?: string; since?: string } = {}): Promise<EventsRecentResponse> {
    const q = new URLSearchParams({ since: opts.since ?? '0', ...(opts.name ? { name: opts.name } : {}) });
    return this.call('GET', `/v1/events/recent?${q.toString()}`, (m) => m.eventsRecentResponseSchema);
  }

  /**
   * The events this node delivers from now on (or after `since`), until
   * `signal` aborts. A dropped connection is re-opened after `retryMs` with
   * the last cursor, so nothing the node's ring still holds is missed or
   * repeated; a `lost` item says when the ring no longer had some (or the
   * node restarted). The first connection failing throws, as any call.
   */
  async *watchEvents(
    opts: { name?: string; since?: string; signal?: AbortSignal; retryMs?: number } = {},
  ): AsyncGenerator<EventWatchItem> {
    let since = opts.since;
    let connected = false;
    const schemas = await loadSchemas();
    const aborted = (): boolean => opts.signal?.aborted === true;
    while (!aborted()) {
      const q = new URLSearchParams({
        ...(opts.name ? { name: opts.name } : {}),
        ...(since !== undefined ? { since } : {}),
      });
      const url = `${this.baseUrl}/v1/events${q.size > 0 ? `?${q.toString()}` : ''}`;
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (this.token) headers.authorization = `Bearer ${this.token}`;
      let res: Response;
      try {
        res = await fetch(url, { headers, ...(opts.signal ? { signal: opts.signal } : {}) });
      } catch (err) {
        if (aborted()) return;
        if (!connected) throw new NodeUnreachableError(this.baseUrl, describeFetchError(err), err);
        await sleep(opts.retryMs ?? 1000, opts.signal);
        continue;
      }
      if (!res.ok || res.body === null) {
        let json: unknown = null;
        try {
          json = await res.json();
        } catch {
          // no JSON body: reported by status alone
        }
        const e = errorBody(json);
        if (res.status === 401) throw new UnauthorizedError(e?.message ?? 'HTTP 401');
        throw new ApiRequestError(
          res.status,
          e ? e.code : `http_${res.status}`,
          e?.message ?? `HTTP ${res.status}`,
        );
      }
      connected = true;
      try {
        for await (const m of parseSse(res.body)) {
          if (m.id !== null && m.id !== '') since = m.id;
          if (m.event === 'message') {
            const parsed = schemas.eventJsonSchema.safeParse(JSON.parse(m.data));
            if (!parsed.success) throw new BadResponseError(url, 'event of an unexpected shape');
            yield { type: 'event', event: parsed.data };
          } else if (m.event === 'ready') {
            yield { type: 'ready', cursor: m.id ?? '' };
          } else if (m.event === 'lost') {
            const v = JSON.parse(m.data) as { missed?: number | null; restarted?: boolean };
            yield { type: 'lost', missed: v.missed ?? null, restarted: v.restarted === true };
          }
        }
      } catch (err) {
        if (aborted()) return;
        if (err instanceof BadResponseError || err instanceof SyntaxError) throw err;
        // the connection broke: reconnect below from the last cursor
      }
      await sleep(opts.retryMs ?? 1000, opts.signal);
    }
  }

  /** Submit a task spec (JSON form of the TOML file; docs/tasks.md). 400 names the bad field, 409 if it runs. */
  taskRun(spec: unknown): Promise<TaskStatusResponse> {
    return this.call('POST', '/v1/tasks', (m) => m.taskStatusSchema, spec);
  }

  taskList(): Promise<TaskListResponse> {
    return this.call('GET', '/v1/tasks', (m) => m.taskListSchema);
  }

  /** Allocations, their states and the last placement explanation. 404 -> ApiRequestError not_found. */
  taskStatus(name: string): Promise<TaskStatusResponse> {
    return this.call('GET', `/v1/tasks/${encodeURIComponent(name)}`, (m) => m.taskStatusSchema);
  }

  /** Stop every replica (SIGTERM, then SIGKILL after kill_timeout_s); resolves once the stop is recorded. */
  taskStop(name: string): Promise<TaskStatusResponse> {
    return this.call('POST', `/v1/tasks/${encodeURIComponent(name)}/stop`, (m) => m.taskStatusSchema, {});
  }

  /** A chunk of an allocation's output log, read through whichever node runs it; pass next_offset back to follow. */
  taskLogs(
    name: string,
    opts: { alloc?: string; offset?: number; max?: number } = {},
  ): Promise<TaskLogsResponse> {
    const q = new URLSearchParams();
    if (opts.alloc !== undefined) q.set('alloc', opts.alloc);
    if (opts.offset !== undefined) q.set('offset', String(opts.offset));
    if (opts.max !== undefined) q.set('max', String(opts.max));
    const qs = q.toString();
    return this.call(
      'GET',
      `/v1/tasks/${encodeURIComponent(name)}/logs${qs ? `?${qs}` : ''}`,
      (m) => m.taskLogsSchema,
    );
  }

  /**
   * The task's view now, then each time it changes, until `signal` aborts (SSE, `?watch=true`).
   * Throws ApiRequestError not_found when the task does not exist or goes away,
   * StreamNotSupportedError from a node older than the stream, NodeUnreachableError when the
   * stream breaks.
   */
  async *taskWatch(name: string, signal?: AbortSignal): AsyncGenerator<TaskStatusResponse> {
    const path = `/v1/tasks/${encodeURIComponent(name)}?watch=true`;
    const schemas = await loadSchemas();
    for await (const m of this.sse(path, null, signal)) {
      if (m.event === 'not_found') {
        const e = errorBody({ error: JSON.parse(m.data) as unknown });
        throw new ApiRequestError(404, 'not_found', e?.message ?? `no task ${name}`);
      }
      if (m.event === 'task') yield this.parsed(path, schemas.taskStatusSchema, JSON.parse(m.data));
    }
  }

  /**
   * An allocation's log as it is written (SSE, `?follow=true`): `log` chunks from `offset` (or
   * the last `max` bytes), `retrying` while the node running it does not answer, then one `end`
   * once the allocation ended and its log was read to the end; the generator returns after it.
   * Throws as taskWatch does.
   */
  async *taskLogsFollow(
    name: string,
    opts: { alloc?: string; offset?: number; max?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<TaskLogFollowItem> {
    const q = new URLSearchParams({ follow: 'true' });
    if (opts.alloc !== undefined) q.set('alloc', opts.alloc);
    if (opts.offset !== undefined) q.set('offset', String(opts.offset));
    if (opts.max !== undefined) q.set('max', String(opts.max));
    const path = `/v1/tasks/${encodeURIComponent(name)}/logs?${q.toString()}`;
    const schemas = await loadSchemas();
    for await (const m of this.sse(path, null, opts.signal)) {
      if (m.event === 'log')
        yield { type: 'log', chunk: this.parsed(path, schemas.taskLogsSchema, JSON.parse(m.data)) };
      else if (m.event === 'retrying') {
        const e = errorBody({ error: JSON.parse(m.data) as unknown });
        yield { type: 'retrying', code: e?.code ?? 'error', message: e?.message ?? '' };
      } else if (m.event === 'end') {
        yield { type: 'end', end: this.parsed(path, schemas.taskLogEndSchema, JSON.parse(m.data)) };
        return;
      }
    }
  }

  /** Ask the node to stop; resolves once it has accepted (it then stops asynchronously). */
  shutdown(reason?: string): Promise<ShutdownResponse> {
    return this.call(
      'POST',
      '/v1/shutdown',
      (m) => m.shutdownResponseSchema,
      reason === undefined ? {} : { reason },
    );
  }

  /** Generic typed call for routes added by later modules. */
  request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
    opts: { timeoutMs?: number } = {},
  ): Promise<z.output<S>> {
    return this.call(method, path, () => schema, body, opts);
  }

  private parsed<S extends z.ZodType>(url: string, schema: S, json: unknown): z.output<S> {
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BadResponseError(
        url,
        `${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid shape'}`.trim(),
      );
    }
    return parsed.data;
  }

  private errorOf(status: number, json: unknown): Error {
    const e = errorBody(json);
    const message = e ? e.message : `HTTP ${status}`;
    if (status === 401) return new UnauthorizedError(message);
    const oldest = (json as { oldest_revision?: unknown } | null)?.oldest_revision;
    if (status === 410 && typeof oldest === 'number') return new CompactedRevisionError(message, oldest);
    return new ApiRequestError(status, e ? e.code : `http_${status}`, message);
  }

  /** One call; `pick` names the schema of a successful answer (from the lazily loaded schema module). */
  private async call<S extends z.ZodType>(
    method: string,
    path: string,
    pick: (m: SchemaModule) => S,
    body?: unknown,
    opts: { timeoutMs?: number } = {},
  ): Promise<z.output<S>> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs),
      });
    } catch (err) {
      throw new NodeUnreachableError(this.baseUrl, describeFetchError(err), err);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new BadResponseError(url, `HTTP ${res.status} without a JSON body`);
    }
    if (!res.ok) throw this.errorOf(res.status, json);
    return this.parsed(url, pick(await loadSchemas()), json);
  }
}

/** A function, so that TypeScript does not narrow `aborted` across the awaits that change it. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** What `taskLogsFollow` yields. */
export type TaskLogFollowItem =
  | { readonly type: 'log'; readonly chunk: TaskLogsResponse }
  | { readonly type: 'retrying'; readonly code: string; readonly message: string }
  | { readonly type: 'end'; readonly end: TaskLogEndResponse };

/** What `watchEvents` yields: an event, the stream (re)opened, or word that some could not be replayed. */
export type EventWatchItem =
  | { readonly type: 'event'; readonly event: EventJson }
  /** The stream is open (after any replay): events delivered from here on will follow. */
  | { readonly type: 'ready'; readonly cursor: string }
  | { readonly type: 'lost'; readonly missed: number | null; readonly restarted: boolean };

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === 'ECONNREFUSED') return 'connection refused';
    if (cause?.code) return cause.code;
    return cause?.message ?? err.message;
  }
  return String(err);
}
