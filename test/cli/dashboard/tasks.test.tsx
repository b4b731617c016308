/**
 * Tasks per node on the dashboard (issue #18): the TASKS column and the tasks
 * panel, rendered by ink-testing-library from recorded-shape /v1/tasks answers,
 * and what the screen does when the node has no tasks route, has tasks
 * disabled, or cannot read them (no quorum).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from 'ink-testing-library';
import { ApiRequestError, NodeUnreachableError } from '../../../src/client/errors.js';
import {
  applyPoll,
  emptyModel,
  pollOnce,
  type DashboardModel,
  type DashboardSource,
  type TasksAnswer,
} from '../../../src/cli/dashboard/model.js';
import { layoutDashboard, linesToText } from '../../../src/cli/dashboard/layout.js';
import { DashboardView } from '../../../src/cli/dashboard/view.js';
import type { TaskListResponse } from '../../../src/api/routes/tasks-types.js';
import {
  T0,
  alloc,
  leaderResponse,
  member,
  membersResponse,
  task,
  tasksResponse,
  three,
} from './fixtures.js';
import { frameOf } from './frame.js';

afterEach(() => cleanup());

const frame = (model: DashboardModel, width = 100, height = 40): string =>
  frameOf(DashboardView, model, width, height);

function withTasks(...answers: (TasksAnswer | null)[]): DashboardModel {
  return answers.reduce(
    (m, tasks, k) =>
      applyPoll(m, {
        at: T0 + k * 1000,
        members: membersResponse(three()),
        leader: leaderResponse(),
        tasks,
        error: null,
      }),
    emptyModel(),
  );
}

const list = (l: TaskListResponse = tasksResponse()): TasksAnswer => ({ kind: 'list', list: l });

function source(tasks: () => Promise<TaskListResponse>): DashboardSource {
  return {
    members: () => Promise.resolve(membersResponse(three())),
    leader: () => Promise.resolve(leaderResponse()),
    taskList: tasks,
  };
}

describe('dashboard tasks per node', () => {
  it('a TASKS column counts the running replicas of each member, and the panel lists task -> node(state)', () => {
    const f = frame(withTasks(list()));
    expect(f).toMatch(/NAME +CLASS +STATUS +ROLE +TASKS +ADDRESS/);
    // web runs on node-1 and node-2, sensor-logger on node-3 (its node-2 replica is still pending).
    expect(f).toMatch(/\*node-1 +standard +alive +leader +1 +127\.0\.0\.1:6001/);
    expect(f).toMatch(/ node-2 +standard +alive +follower +1 +127\.0\.0\.1:6002/);
    expect(f).toMatch(/ node-3 +standard +alive +follower +1 +127\.0\.0\.1:6003/);
    expect(f).toContain('Tasks 2 (3 of 4 replicas running)');
    expect(f).toMatch(/\nweb +2\/2 +node-1\(running\) node-2\(running\)\n/);
    expect(f).toMatch(/\nsensor-logger +1\/2 +node-3\(running\) node-2\(pending\)\n/);
    // The panel sits between the member table and the events.
    expect(f.indexOf('Tasks 2')).toBeGreaterThan(f.indexOf('node-3'));
    expect(f.indexOf('Recent events')).toBeGreaterThan(f.indexOf('sensor-logger'));
  });

  it('a node without the /v1/tasks route (404): no TASKS column and no tasks panel', async () => {
    const s = await pollOnce(
      source(() => Promise.reject(new ApiRequestError(404, 'not_found', 'no route GET /v1/tasks'))),
      () => T0,
    );
    expect(s.tasks).toEqual({ kind: 'absent' });
    const f = frame(applyPoll(emptyModel(), s));
    expect(f).toMatch(/NAME +CLASS +STATUS +ROLE +ADDRESS/);
    expect(f).not.toContain('TASKS');
    expect(f).not.toMatch(/^Tasks/m);
    expect(f).toContain('Recent events');
  });

  it('tasks disabled on the node (503 tasks_disabled): one line says so, no column', async () => {
    const s = await pollOnce(
      source(() =>
        Promise.reject(
          new ApiRequestError(
            503,
            'tasks_disabled',
            'tasks are not running on this node ([tasks] enabled = false)',
          ),
        ),
      ),
      () => T0,
    );
    const f = frame(applyPoll(emptyModel(), s));
    expect(f).toContain('Tasks disabled on this node ([tasks] enabled = false)');
    expect(f).not.toContain('TASKS');
  });

  it('no quorum (503 no_quorum) keeps the last list, marked, and says why when there is none yet', async () => {
    const noQuorum = await pollOnce(
      source(() => Promise.reject(new ApiRequestError(503, 'no_quorum', 'no leader'))),
      () => T0,
    );
    expect(noQuorum.tasks).toEqual({ kind: 'failed', reason: 'no quorum' });
    expect(frame(withTasks(noQuorum.tasks ?? null))).toContain('Tasks no quorum');
    const kept = frame(withTasks(list(), noQuorum.tasks ?? null));
    expect(kept).toContain('Tasks 2 (3 of 4 replicas running)  (last known; no quorum)');
    expect(kept).toMatch(/\*node-1 +standard +alive +leader +1 /);
    expect(kept).toMatch(/\nweb +2\/2 +node-1\(running\)/);
    // A later good answer clears the mark.
    expect(frame(withTasks(list(), noQuorum.tasks ?? null, list()))).not.toContain('last known');
  });

  it('a timed-out tasks call alone does not fail the poll', async () => {
    const s = await pollOnce(
      source(() =>
        Promise.reject(new NodeUnreachableError('http://127.0.0.1:7001', 'timed out after 2000 ms')),
      ),
      () => T0,
    );
    expect(s.error).toBeNull();
    expect(s.members?.members).toHaveLength(3);
    expect(s.tasks?.kind).toBe('failed');
  });

  it('an empty list, a stopped task and an unplaced one', () => {
    const l: TaskListResponse = {
      tasks: [
        task('old', 1, [alloc('old', 0, 2, { state: 'stopped', desired: 'stop' })], { desired: 'stop' }),
        task('gpu-only', 1, []),
      ],
    };
    const f = frame(withTasks(list(l)));
    expect(f).toContain('Tasks 2 (0 of 1 replicas running)');
    expect(f).toMatch(/\nold +stopped\n/);
    expect(f).toMatch(/\ngpu-only +0\/1 +\(not placed\)\n/);
    expect(frame(withTasks(list({ tasks: [] })))).toMatch(/Tasks 0\n\(no tasks\)\n/);
  });

  it('a narrow, short terminal: lines fit, TASKS outlives ADDRESS, many tasks are cut with "… N more"', () => {
    const many: TaskListResponse = {
      tasks: Array.from({ length: 12 }, (_, i) => task(`job-${i}`, 1, [alloc(`job-${i}`, 0, (i % 3) + 1)])),
    };
    const fifty = Array.from({ length: 30 }, (_, i) => member(i + 1));
    const m = applyPoll(emptyModel(), {
      at: T0,
      members: membersResponse(fifty),
      leader: leaderResponse(),
      tasks: list(many),
      error: null,
    });
    const f = frame(m, 50, 24);
    const lines = f.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(50);
    expect(f).toMatch(/NAME +STATUS +ROLE +TASKS/);
    expect(f).not.toContain('ADDRESS');
    expect(f).toContain('Tasks 12 (12 of 12 replicas running)');
    expect(f).toMatch(/Tasks 12 [^\n]*\n(job-\d+ +1\/1 +node-\d\(running\)\n)+… \d+ more\n/);
    expect(f).not.toContain('job-11');
    expect(f).toContain('Recent events');
    // The plain snapshot (height Infinity) lists every task.
    const plain = linesToText(
      layoutDashboard(m, { width: 120, height: Infinity, now: T0, intervalMs: 1000, source: 'x' }),
    );
    expect(plain).toContain('job-11');
  });

  it('replica state changes, new and removed tasks become events; the first list yields none', () => {
    const first = tasksResponse();
    expect(withTasks(list(first)).events).toEqual([]);
    const second: TaskListResponse = {
      tasks: [
        task('web', 2, [alloc('web', 0, 1, { state: 'failed' }), alloc('web', 1, 2)]),
        task('sensor-logger', 2, [alloc('sensor-logger', 0, 3), alloc('sensor-logger', 1, 2)]),
        task('camera', 1, [alloc('camera', 0, 3, { state: 'pending' })]),
      ],
    };
    const third: TaskListResponse = { tasks: second.tasks.filter((t) => t.name !== 'camera') };
    const m = withTasks(list(first), list(second), list(third));
    expect(m.events.map((e) => [e.kind, e.text])).toEqual([
      ['task', 'task camera removed'],
      ['task', 'task camera submitted (1 replica)'],
      ['task', 'sensor-logger.1 on node-2: pending -> running'],
      ['task-failure', 'web.0 on node-1: running -> failed'],
    ]);
    const f = frame(m);
    expect(f).toMatch(/Recent events\n.*task camera removed\n/);
    expect(f).toContain('web.0 on node-1: running -> failed');
  });

  it('without colour (NO_COLOR) the frame with tasks has no escape codes', () => {
    expect(frame(withTasks(list())).includes('\u001b[')).toBe(false);
  });
});
