/**
 * Client side of the end-to-end Raft tests: polling, the cluster view over
 * `/v1/leader`, and a bounded concurrent KV load recorded as a history for
 * `checkLinearizable` (src/sim/linearizability.ts). Requests go over HTTP to
 * whatever API URLs the test hands in (loopback or its own namespaces).
 */
import { createRng } from '../../src/common/rng.js';
import type { KvHistoryOp } from '../../src/sim/linearizability.js';

/**
 * Poll `f` every `everyMs` until it returns something truthy; throws naming `what` after `ms` (a
 * hang guard, not a goal).
 */
export async function until<T>(
  what: string,
  f: () => Promise<T | null | undefined | false>,
  ms = 20_000,
  everyMs = 50,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** GET a JSON body; null on any failure (the node may be down or partitioned). */
export async function getJson<T>(url: string, timeoutMs = 3000): Promise<T | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    return (await res.json()) as T;
  } catch {
    return null;
  }
}

/** `GET /v1/leader`. */
export interface LeaderView {
  self: string;
  leader: string | null;
  role: string;
  term: number;
  commit: number;
  applied: number;
  voters: string[];
  learners: string[];
}

/**
 * The views of every API once they agree: one leader known to all, one term,
 * equal commit and applied indexes. Null while they differ or one is silent.
 */
export async function converged(apis: readonly string[]): Promise<LeaderView[] | null> {
  const vs = await Promise.all(apis.map((a) => getJson<LeaderView>(`${a}/v1/leader`)));
  if (vs.some((v) => v === null)) return null;
  const views = vs as LeaderView[];
  const [v0] = views;
  if (v0 === undefined || v0.leader === null) return null;
  const same = views.every(
    (v) => v.leader === v0.leader && v.term === v0.term && v.commit === v0.commit && v.applied === v0.applied,
  );
  return same && views.filter((v) => v.role === 'leader').length === 1 ? views : null;
}

export interface KvAnswer {
  /** HTTP status, or null when no answer arrived (timeout, connection error). */
  status: number | null;
  /** `error.code` of an error body. */
  code: string | null;
  value: unknown;
}

/** One request; never throws, never waits longer than `timeoutMs`. */
export async function kvRequest(
  api: string,
  method: 'GET' | 'PUT',
  key: string,
  value?: number,
  timeoutMs = 8000,
): Promise<KvAnswer> {
  try {
    const res = await fetch(`${api}/v1/kv/${key}`, {
      method,
      ...(method === 'PUT'
        ? { body: JSON.stringify({ value }), headers: { 'content-type': 'application/json' } }
        : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as { value?: unknown; error?: { code?: string } };
    return { status: res.status, code: body.error?.code ?? null, value: body.value ?? null };
  } catch {
    return { status: null, code: null, value: null };
  }
}

/**
 * Records operations as the checker wants them: a write with any answer but
 * 200 is indeterminate (`ret: null`: a 503 or a timeout may still commit), a
 * read without a 200/404 answer says nothing and is left out. Values are
 * unique across the history, so the checker can tell every write apart.
 */
export class KvRecorder {
  readonly history: KvHistoryOp[] = [];
  /** Acknowledged writes of keys written once (`u-...`): key -> value. */
  readonly acked = new Map<string, number>();
  private readonly t0 = performance.now();
  private seq = 0;

  now(): number {
    return performance.now() - this.t0;
  }

  nextValue(): number {
    return ++this.seq;
  }

  async write(client: string | number, api: string, key: string): Promise<KvAnswer> {
    const value = this.nextValue();
    const call = this.now();
    const a = await kvRequest(api, 'PUT', key, value);
    const ret = a.status === 200 ? this.now() : null;
    this.history.push({ client, key, call, ret, op: { kind: 'write', value } });
    if (ret !== null && key.startsWith('u-')) this.acked.set(key, value);
    return a;
  }

  async read(client: string | number, api: string, key: string): Promise<KvAnswer> {
    const call = this.now();
    const a = await kvRequest(api, 'GET', key);
    if (a.status === 200 || a.status === 404) {
      const value = a.status === 200 ? (a.value as number) : null;
      this.history.push({ client, key, call, ret: this.now(), op: { kind: 'read', value } });
    }
    return a;
  }

  /** Writes acknowledged whose call came at or after `since` (a `now()` reading). */
  ackedWritesSince(since: number): number {
    return this.history.filter((h) => h.op.kind === 'write' && h.ret !== null && h.call >= since).length;
  }

  /** Operations with a known outcome on the contended keys. */
  completedContended(): number {
    return this.history.filter((h) => h.ret !== null && h.key.startsWith('lin')).length;
  }
}

export interface LoadOptions {
  /** Names this load's clients and fresh keys, so two loads on one recorder never collide. */
  readonly name: string;
  readonly clients: number;
  readonly seed: number;
  /** Contended keys `lin0..`: written and read by every client. */
  readonly contended: number;
  /** The API URLs of the nodes to spread requests over (read before every request). */
  readonly targets: () => readonly string[];
  /** Bounds: the load stops at `stop()`, after this many operations per client, or after `maxMs`. */
  readonly maxOpsPerClient: number;
  readonly maxMs: number;
}

/**
 * Concurrent clients: 30% writes of fresh keys (checked for durability),
 * the rest reads and writes of the contended keys (checked for
 * linearizability). A client moves on to the next node after a failure.
 */
export function startLoad(rec: KvRecorder, opts: LoadOptions): { stop(): Promise<void> } {
  let stopped = false;
  const end = Date.now() + opts.maxMs;
  const client = async (c: number): Promise<void> => {
    const rng = createRng(opts.seed + c);
    let target = c;
    for (let n = 0; n < opts.maxOpsPerClient && !stopped && Date.now() < end; n++) {
      const targets = opts.targets();
      const api = targets[target % targets.length]!;
      const r = rng.next();
      const key = r < 0.3 ? `u-${opts.name}${c}-${n}` : `lin${Math.floor(rng.next() * opts.contended)}`;
      const id = `${opts.name}${c}`;
      const a =
        key.startsWith('lin') && r < 0.6 ? await rec.read(id, api, key) : await rec.write(id, api, key);
      if (a.status !== 200 && a.status !== 404) {
        target++;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  };
  const running = [...Array(opts.clients).keys()].map((c) => client(c));
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(running);
    },
  };
}
