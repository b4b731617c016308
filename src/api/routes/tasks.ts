/**
 * /v1/tasks: submit, list, inspect and stop tasks, and read their logs, on
 * any node. Specs, allocations and states live in the replicated KV
 * (src/tasks/model.ts); reads are linearizable (the leader's ReadIndex, as
 * for GET /v1/kv). Logs live on the node that runs the allocation: another
 * node reads them from it over the authenticated Raft channel (op task_logs,
 * src/node/raft-forward.ts), never through its API, which may listen on
 * 127.0.0.1 only.
 *
 * Two answers stream (SSE, src/api/stream.ts) instead of making the client
 * poll: `GET /v1/tasks/{name}?watch=true` sends the task view each time its
 * records change (a KV watch on tasks/), and `GET /v1/tasks/{name}/logs?follow=true`
 * sends new log bytes as the node running the allocation writes them (its
 * supervisor wakes local readers; another node waits there through
 * `task_logs` with `wait_ms`) and ends once the allocation reached a terminal
 * state and its log was read to the end.
 */
import type { Context, Hono } from 'hono';
import { sleep } from '../../common/sleep.js';
import type { WatchFilter } from '../../kv/types.js';
import { NoQuorumError, NotLeaderError } from '../../node/raft-component.js';
import { ForwardRefusedError, type TaskLogChunk } from '../../node/raft-forward.js';
import { TaskStoreConflict } from '../../node/task-store.js';
import {
  LogNodeUnreachableError,
  TaskExistsError,
  TaskNotFoundError,
  TasksDisabledError,
  type AllocationView,
  type TaskStatusView,
  type TasksComponent,
} from '../../node/tasks-component.js';
import { CompactedError, TooManyWatchersError, type WatchCursor } from '../../node/watch-hub.js';
import {
  ALLOC_PREFIX,
  STATE_PREFIX,
  TERMINAL_STATES,
  explainKey,
  specKey,
  TASKS_PREFIX,
} from '../../tasks/model.js';
import { TaskSpecError, parseTaskSpec } from '../../tasks/spec.js';
import { ApiError, parseJsonBody, type ApiRoutes } from '../app.js';
import { PING_STREAM, STREAM_WAIT_MS, sseEvent, sseResponse } from '../stream.js';
import type { TaskLogEndResponse, TaskLogsResponse } from './tasks-types.js';

const MAX_LOG_READ = 256 * 1024;
const DEFAULT_LOG_READ = 64 * 1024;

export interface TasksRoutesRaft {
  readonly forward: { linearize(waitMs: number): Promise<void> };
  readonly requestTimeoutMs: number;
  /** The node's watch hub; without it `?watch=true` and `?follow=true` answer 501. */
  readonly watch?: { cursor(filter: WatchFilter, from?: number): WatchCursor };
}

/** Pace of a follower whose log node is older (answers a waiting read at once) or unreachable. */
const FOLLOW_RETRY_MS = 1000;

/** Whether a KV key is one of task `name`'s records (spec, allocations, states, explanation). */
function taskKey(key: string, name: string): boolean {
  return (
    key === specKey(name) ||
    key === explainKey(name) ||
    key.startsWith(`${ALLOC_PREFIX}${name}/`) ||
    key.startsWith(`${STATE_PREFIX}${name}/`)
  );
}

/**
 * Resolves at the next KV change a stream cares about (or a compaction, which may have hidden
 * one: the cursor is reopened at the present); one wait is shared until it resolves, so racing
 * it against other waits never piles cursors up.
 */
class ChangeFeed {
  private cur: WatchCursor;
  private pending: Promise<void> | null = null;
  private closed = false;

  constructor(
    first: WatchCursor,
    private readonly reopen: () => WatchCursor,
    private readonly signal: AbortSignal,
    private readonly matches: (key: string) => boolean = () => true,
  ) {
    this.cur = first;
  }

  next(): Promise<void> {
    this.pending ??= this.wait().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async wait(): Promise<void> {
    for (;;) {
      if (this.closed || this.signal.aborted) return;
      try {
        const evs = await this.cur.next(STREAM_WAIT_MS, 256, this.signal);
        if (evs.some((e) => this.matches(e.key))) return;
      } catch (err) {
        if (!(err instanceof CompactedError)) throw err;
        this.cur.close();
        this.cur = this.reopen();
        return;
      }
    }
  }

  close(): void {
    this.closed = true;
    this.cur.close();
  }
}

function intQuery(v: string | undefined, name: string, def: number | null, max: number): number | null {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new ApiError(400, 'bad_request', `${name} must be an integer between 0 and ${max}`);
  return n;
}

/** One chunk of an allocation's log as the API answers it (plain read and `log` event alike). */
function logBody(name: string, alloc: AllocationView, chunk: TaskLogChunk): TaskLogsResponse {
  return {
    task: name,
    alloc: alloc.id,
    node: alloc.node,
    node_name: alloc.node_name,
    data: chunk.bytes.toString('utf8'),
    next_offset: chunk.next_offset,
    size: chunk.size,
  };
}

export function tasksRoutes(tasks: TasksComponent, raft: TasksRoutesRaft): ApiRoutes {
  async function mapped<T>(run: () => Promise<T> | T): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof TaskSpecError) throw new ApiError(400, err.code, err.message);
      if (err instanceof TaskNotFoundError) throw new ApiError(404, err.code, err.message);
      if (err instanceof TaskExistsError) throw new ApiError(409, err.code, err.message);
      if (err instanceof TaskStoreConflict)
        throw new ApiError(409, 'conflict', `${err.message}; another request changed the task, try again`);
      if (err instanceof NoQuorumError || err instanceof NotLeaderError)
        throw new ApiError(503, 'no_quorum', err.message);
      if (err instanceof ForwardRefusedError) throw new ApiError(err.status, err.code, err.message);
      if (err instanceof TasksDisabledError || err instanceof LogNodeUnreachableError)
        throw new ApiError(503, err.code, err.message);
      throw err;
    }
  }
  /** Read after the leader's ReadIndex is applied here: what any earlier answer showed is visible. */
  const fresh = <T>(read: () => T | Promise<T>): Promise<T> =>
    mapped(async () => {
      await raft.forward.linearize(raft.requestTimeoutMs);
      return read();
    });

  const watchHub = (): NonNullable<TasksRoutesRaft['watch']> => {
    if (raft.watch === undefined)
      throw new ApiError(501, 'not_supported', 'this node cannot stream task changes');
    return raft.watch;
  };
  const cursor = (filter: WatchFilter): WatchCursor => {
    try {
      return watchHub().cursor(filter);
    } catch (err) {
      if (err instanceof TooManyWatchersError) throw new ApiError(429, 'too_many_watchers', err.message);
      throw err;
    }
  };

  /**
   * `?watch=true`: the view now (linearizable, as without it; 404 before any stream), then again
   * each time the task's records change here; `not_found` ends it when the task goes away. The
   * cursor is opened before the first read, so no change after that read is missed.
   */
  async function watchTask(c: Context, name: string): Promise<Response> {
    const filter: WatchFilter = { prefix: TASKS_PREFIX };
    const first = cursor(filter);
    let view: TaskStatusView;
    try {
      view = await fresh(() => tasks.taskStatus(name));
    } catch (err) {
      first.close();
      throw err;
    }
    return sseResponse(
      c,
      async (sink) => {
        const feed = new ChangeFeed(
          first,
          () => cursor(filter),
          sink.signal,
          (k) => taskKey(k, name),
        );
        try {
          let last = JSON.stringify(view);
          await sink.write(`retry: 1000\n${sseEvent('task', view)}`);
          for (;;) {
            await feed.next();
            if (sink.signal.aborted) return;
            try {
              view = tasks.taskStatus(name);
            } catch (err) {
              if (!(err instanceof TaskNotFoundError)) throw err;
              await sink.write(sseEvent('not_found', errorInfo(err)));
              return;
            }
            const text = JSON.stringify(view);
            if (text !== last) await sink.write(sseEvent('task', view));
            last = text;
          }
        } finally {
          feed.close();
        }
      },
      PING_STREAM,
    );
  }

  /** Why a followed allocation is over (its terminal state, or gone), null while it may still write. */
  function allocEnd(name: string, alloc: AllocationView): TaskLogEndResponse | null {
    let now: AllocationView | undefined;
    try {
      now = tasks.taskStatus(name).allocations.find((a) => a.id === alloc.id);
    } catch (err) {
      if (!(err instanceof TaskNotFoundError)) throw err;
    }
    const base = { task: name, alloc: alloc.id };
    if (now === undefined) return { ...base, state: 'gone', exit_code: null, signal: null };
    if (!TERMINAL_STATES.includes(now.state)) return null;
    return {
      ...base,
      state: now.state as TaskLogEndResponse['state'],
      exit_code: now.exit_code,
      signal: now.signal,
    };
  }

  /**
   * `?follow=true`: the log from `offset` (or its last `max` bytes), then new bytes as they are
   * written, each as an event whose id is its next_offset (a reconnecting EventSource resumes
   * there); `end` once the allocation is over and its log read to the end. Waiting costs no
   * timer per chunk: the node running the allocation answers a waiting read when its supervisor
   * writes, and a change of the allocation's state (here, through the watch hub) ends any wait.
   */
  function followLog(
    c: Context,
    name: string,
    alloc: AllocationView,
    startOffset: number | null,
    max: number,
  ): Response {
    const where = tasks.locate(alloc.node);
    const filter: WatchFilter = { prefix: `${STATE_PREFIX}${name}/` };
    const feedCursor = cursor(filter);
    const read = async (
      offset: number | null,
      waitMs: number,
      signal: AbortSignal,
    ): Promise<TaskLogChunk> => {
      if (!where.self) return tasks.remoteLog(alloc.node, alloc.id, offset, max, waitMs);
      const local = await tasks.readLocalLogWaiting(alloc.id, offset, max, waitMs, signal);
      if (typeof local === 'string') throw new ApiError(400, 'bad_request', local);
      return { ...local, waited: true };
    };
    const logEvent = (chunk: TaskLogChunk): string =>
      sseEvent('log', logBody(name, alloc, chunk), chunk.next_offset);
    return sseResponse(
      c,
      async (sink) => {
        const feed = new ChangeFeed(feedCursor, () => cursor(filter), sink.signal);
        // A read that waits at the log's node; kept across a state change that won the race, so
        // that at most one is in flight (its bytes are used only if they start where we are).
        let waiting: Promise<TaskLogChunk | Error> | null = null;
        let offset = startOffset;
        const pause = (): Promise<unknown> =>
          Promise.race([sleep(FOLLOW_RETRY_MS, sink.signal), feed.next()]);
        try {
          await sink.write('retry: 1000\n\n');
          while (!sink.signal.aborted) {
            // The state before the read: a terminal state seen here was reported after the last
            // write to the log, so an empty read after it means the log was read to the end.
            const end = allocEnd(name, alloc);
            let chunk: TaskLogChunk;
            try {
              chunk = await read(offset, 0, sink.signal);
            } catch (err) {
              if (end !== null) return void (await sink.write(sseEvent('end', end)));
              await sink.write(sseEvent('retrying', errorInfo(err)));
              await pause();
              continue;
            }
            offset = chunk.next_offset;
            if (chunk.bytes.length > 0) {
              await sink.write(logEvent(chunk));
              continue;
            }
            if (end !== null) return void (await sink.write(sseEvent('end', end)));
            const from = offset;
            // Here the supervisor's write wakes the read (no timer per chunk); another node's
            // answer must come within the request timeout.
            waiting ??= read(from, where.self ? STREAM_WAIT_MS : raft.requestTimeoutMs, sink.signal).catch(
              (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
            );
            const won = await Promise.race([
              waiting.then((r) => ({ r })),
              // The feed's wait also ends when the client leaves (its cursor waits on sink.signal).
              feed.next().then(() => null),
            ]);
            if (won === null) continue;
            waiting = null;
            if (won.r instanceof Error) {
              await sink.write(sseEvent('retrying', errorInfo(won.r)));
              await pause();
            } else if (won.r.bytes.length > 0 && won.r.from === offset) {
              offset = won.r.next_offset;
              await sink.write(logEvent(won.r));
            } else if (won.r.waited !== true) {
              // The log's node predates waiting reads (it answered at once): pace the reads here.
              await pause();
            }
          }
        } finally {
          feed.close();
        }
      },
      PING_STREAM,
    );
  }

  return (app: Hono) => {
    app.get('/v1/tasks', async (c) => c.json({ tasks: await fresh(() => tasks.list()) }));

    app.post('/v1/tasks', async (c) => {
      const body = parseJsonBody(await c.req.text());
      const view: TaskStatusView = await fresh(() => tasks.run(parseTaskSpec(body)));
      return c.json(view, 201);
    });

    app.get('/v1/tasks/:name', async (c) => {
      const name = c.req.param('name');
      if (c.req.query('watch') === 'true') return watchTask(c, name);
      return c.json(await fresh(() => tasks.taskStatus(name)));
    });

    app.post('/v1/tasks/:name/stop', async (c) =>
      c.json(await fresh(() => tasks.stopTask(c.req.param('name')))),
    );

    app.get('/v1/tasks/:name/logs', async (c) => {
      const name = c.req.param('name');
      const offset = intQuery(c.req.query('offset'), 'offset', null, Number.MAX_SAFE_INTEGER);
      const max = intQuery(c.req.query('max'), 'max', DEFAULT_LOG_READ, MAX_LOG_READ) as number;
      const st = await fresh(() => tasks.taskStatus(name));
      const wanted = c.req.query('alloc');
      const alloc =
        wanted !== undefined
          ? st.allocations.find((a) => a.id === wanted)
          : (st.allocations.find((a) => a.state === 'running') ?? st.allocations[st.allocations.length - 1]);
      if (alloc === undefined)
        throw new ApiError(
          404,
          'not_found',
          wanted ? `task ${name} has no allocation ${wanted}` : `task ${name} has no allocation yet`,
        );
      if (c.req.query('follow') === 'true') {
        const lastId = c.req.header('last-event-id');
        // A reconnecting EventSource: resume where its last event ended.
        const resume = lastId !== undefined && /^\d{1,15}$/.test(lastId) ? Number(lastId) : offset;
        return followLog(c, name, alloc, resume, max);
      }
      const where = tasks.locate(alloc.node);
      const chunk = await mapped(async () => {
        if (!where.self) return tasks.remoteLog(alloc.node, alloc.id, offset, max);
        const local = tasks.readLocalLog(alloc.id, offset, max);
        if (typeof local === 'string') throw new ApiError(400, 'bad_request', local);
        return local;
      });
      return c.json(logBody(name, alloc, chunk));
    });
  };
}

function errorInfo(err: unknown): { code: string; message: string } {
  const code = err instanceof ApiError ? err.code : (err as { code?: unknown }).code;
  return {
    code: typeof code === 'string' ? code : 'error',
    message: err instanceof Error ? err.message : String(err),
  };
}
