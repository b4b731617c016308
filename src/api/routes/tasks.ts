/**
 * /v1/tasks: submit, list, inspect and stop tasks, and read their logs, on
 * any node. Specs, allocations and states live in the replicated KV
 * (src/tasks/model.ts); reads are linearizable (the leader's ReadIndex, as
 * for GET /v1/kv). Logs live on the node that runs the allocation: another
 * node reads them from it over the authenticated Raft channel (op task_logs,
 * src/node/raft-forward.ts), never through its API, which may listen on
 * 127.0.0.1 only.
 */
import type { Hono } from 'hono';
import { NoQuorumError, NotLeaderError } from '../../node/raft-component.js';
import { ForwardRefusedError } from '../../node/raft-forward.js';
import { TaskStoreConflict } from '../../node/task-store.js';
import {
  TaskExistsError,
  TaskNotFoundError,
  type TaskStatusView,
  type TasksComponent,
} from '../../node/tasks-component.js';
import { TaskSpecError, parseTaskSpec } from '../../tasks/spec.js';
import { ApiError, parseJsonBody, type ApiRoutes } from '../app.js';
import type { TaskLogsResponse } from './tasks-types.js';

const MAX_LOG_READ = 256 * 1024;
const DEFAULT_LOG_READ = 64 * 1024;

export interface TasksRoutesRaft {
  readonly forward: { linearize(waitMs: number): Promise<void> };
  readonly requestTimeoutMs: number;
}

function intQuery(v: string | undefined, name: string, def: number | null, max: number): number | null {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new ApiError(400, 'bad_request', `${name} must be an integer between 0 and ${max}`);
  return n;
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
      if (
        err instanceof Error &&
        'code' in err &&
        (err.code === 'tasks_disabled' || err.code === 'node_unreachable')
      )
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

  return (app: Hono) => {
    app.get('/v1/tasks', async (c) => c.json({ tasks: await fresh(() => tasks.list()) }));

    app.post('/v1/tasks', async (c) => {
      const body = parseJsonBody(await c.req.text());
      const view: TaskStatusView = await fresh(() => tasks.run(parseTaskSpec(body)));
      return c.json(view, 201);
    });

    app.get('/v1/tasks/:name', async (c) => c.json(await fresh(() => tasks.taskStatus(c.req.param('name')))));

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
      const where = tasks.locate(alloc.node);
      const chunk = await mapped(async () => {
        if (!where.self) return tasks.remoteLog(alloc.node, alloc.id, offset, max);
        const local = tasks.readLocalLog(alloc.id, offset, max);
        if (typeof local === 'string') throw new ApiError(400, 'bad_request', local);
        return local;
      });
      const out: TaskLogsResponse = {
        task: name,
        alloc: alloc.id,
        node: alloc.node,
        node_name: alloc.node_name,
        data: chunk.bytes.toString('utf8'),
        next_offset: chunk.next_offset,
        size: chunk.size,
      };
      return c.json(out);
    });
  };
}
