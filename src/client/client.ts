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
import type { TaskListResponse, TaskLogsResponse, TaskStatusResponse } from '../api/routes/tasks-types.js';
import type * as Schemas from './schemas.js';
import { ApiRequestError, BadResponseError, NodeUnreachableError, UnauthorizedError } from './errors.js';

type SchemaModule = typeof Schemas;
let schemaModule: Promise<SchemaModule> | undefined;

/** The response schemas (and zod with them), imported on the first answer that needs checking. */
function loadSchemas(): Promise<SchemaModule> {
  return (schemaModule ??= import('./schemas.js'));
}

/** The `{error:{code,message}}` body of a failed call, checked by hand so that an error needs no zod. */
function errorBody(json: unknown): { code: string; message: string } | null {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const error: unknown = (json as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' && typeof message === 'string' ? { code, message } : null;
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

  /** Resolves once the write is committed and applied; `prevRevision` makes it a compare-and-set (409 on mismatch). */
  kvPut(key: string, value: unknown, opts: { prevRevision?: number } = {}): Promise<KvItemResponse> {
    const body = opts.prevRevision === undefined ? { value } : { value, prev_revision: opts.prevRevision };
    return this.call('PUT', `/v1/kv/${encodeURIComponent(key)}`, (m) => m.kvItemSchema, body);
  }

  kvDelete(key: string): Promise<KvDeleteResponseBody> {
    return this.call('DELETE', `/v1/kv/${encodeURIComponent(key)}`, (m) => m.kvDeleteSchema);
  }

  kvList(prefix = '', opts: { stale?: boolean } = {}): Promise<KvListResponseBody> {
    const q = new URLSearchParams({ prefix, ...(opts.stale === true ? { consistency: 'stale' } : {}) });
    return this.call('GET', `/v1/kv?${q.toString()}`, (m) => m.kvListSchema);
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
    if (!res.ok) {
      const e = errorBody(json);
      const message = e ? e.message : `HTTP ${res.status}`;
      if (res.status === 401) throw new UnauthorizedError(message);
      throw new ApiRequestError(res.status, e ? e.code : `http_${res.status}`, message);
    }
    const parsed = pick(await loadSchemas()).safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BadResponseError(
        url,
        `${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid shape'}`.trim(),
      );
    }
    return parsed.data;
  }
}

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
