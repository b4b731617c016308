/**
 * Typed client for a node's REST API, used by the CLI and by agents. Every call
 * has a timeout; every failure is one of the typed errors in `errors.ts`.
 */
import type { z } from 'zod';
import {
  errorSchema,
  healthSchema,
  shutdownResponseSchema,
  statusSchema,
  type HealthResponse,
  type ShutdownResponse,
  type StatusResponse,
} from '../api/types.js';
import { membersResponseSchema, type MembersResponse } from '../api/members-types.js';
import {
  energyResponseSchema,
  swarmEnergyResponseSchema,
  type EnergyResponse,
  type SwarmEnergyResponse,
} from '../api/energy-types.js';
import {
  kvDeleteSchema,
  kvItemSchema,
  kvListSchema,
  leaderSchema,
  type KvDeleteResponseBody,
  type KvItemResponse,
  type KvListResponseBody,
  type LeaderResponseBody,
} from '../api/routes/kv-types.js';
import { ApiRequestError, BadResponseError, NodeUnreachableError, UnauthorizedError } from './errors.js';

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
    return this.request('GET', '/v1/status', statusSchema);
  }

  health(): Promise<HealthResponse> {
    return this.request('GET', '/v1/health', healthSchema);
  }

  /** The swarm as the node's gossip sees it (members, leader, adaptive mode, encryption). */
  members(): Promise<MembersResponse> {
    return this.request('GET', '/v1/members', membersResponseSchema);
  }

  /** This node's energy snapshot (power, energy, carbon, rating, battery). 503 when [energy] is off. */
  energy(): Promise<EnergyResponse> {
    return this.request('GET', '/v1/energy', energyResponseSchema);
  }

  /** Every member's gossiped energy summary plus swarm totals. */
  energySwarm(): Promise<SwarmEnergyResponse> {
    return this.request('GET', '/v1/energy/swarm', swarmEnergyResponseSchema);
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
    return this.request('GET', '/v1/leader', leaderSchema);
  }

  /** Linearizable read by default; `stale` reads the node's local state. 404 -> ApiRequestError not_found. */
  kvGet(key: string, opts: { stale?: boolean } = {}): Promise<KvItemResponse> {
    const q = opts.stale === true ? '?consistency=stale' : '';
    return this.request('GET', `/v1/kv/${encodeURIComponent(key)}${q}`, kvItemSchema);
  }

  /** Resolves once the write is committed and applied; `prevRevision` makes it a compare-and-set (409 on mismatch). */
  kvPut(key: string, value: unknown, opts: { prevRevision?: number } = {}): Promise<KvItemResponse> {
    const body = opts.prevRevision === undefined ? { value } : { value, prev_revision: opts.prevRevision };
    return this.request('PUT', `/v1/kv/${encodeURIComponent(key)}`, kvItemSchema, body);
  }

  kvDelete(key: string): Promise<KvDeleteResponseBody> {
    return this.request('DELETE', `/v1/kv/${encodeURIComponent(key)}`, kvDeleteSchema);
  }

  kvList(prefix = '', opts: { stale?: boolean } = {}): Promise<KvListResponseBody> {
    const q = new URLSearchParams({ prefix, ...(opts.stale === true ? { consistency: 'stale' } : {}) });
    return this.request('GET', `/v1/kv?${q.toString()}`, kvListSchema);
  }

  /** Ask the node to stop; resolves once it has accepted (it then stops asynchronously). */
  shutdown(reason?: string): Promise<ShutdownResponse> {
    return this.request(
      'POST',
      '/v1/shutdown',
      shutdownResponseSchema,
      reason === undefined ? {} : { reason },
    );
  }

  /** Generic typed call for routes added by later modules. */
  async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
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
      const e = errorSchema.safeParse(json);
      const message = e.success ? e.data.error.message : `HTTP ${res.status}`;
      if (res.status === 401) throw new UnauthorizedError(message);
      throw new ApiRequestError(res.status, e.success ? e.data.error.code : `http_${res.status}`, message);
    }
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
