/**
 * The dashboard's state as a plain reducer over poll results, kept apart from
 * ink so it is tested without a terminal. A failed poll keeps the last good
 * data and flags `reconnecting`: a node restart should not blank the screen.
 * Events are not read from the node (it keeps no history); they are derived by
 * diffing successive polls, so the dashboard shows what changed while it ran.
 */
import type { MembersResponse, MemberView } from '../../api/members-types.js';
import type { LeaderResponseBody } from '../../api/routes/kv-types.js';
import type { TaskListResponse } from '../../api/routes/tasks-types.js';
import { ApiRequestError, NodeUnreachableError } from '../../client/errors.js';
import { pushCapped } from './format.js';

/**
 * What the node said to `GET /v1/tasks`. Tasks are optional on a node, so the
 * answer is sorted by what the screen does with it: `absent` (an older node with
 * no such route: nothing to show), `disabled` (503 tasks_disabled: say so once),
 * `failed` (503 no_quorum, no answer in time: keep the last list, say why).
 */
export type TasksAnswer =
  | { kind: 'list'; list: TaskListResponse }
  | { kind: 'absent' }
  | { kind: 'disabled'; reason: string }
  | { kind: 'failed'; reason: string };

/** What the dashboard shows of the tasks. */
export type TasksState =
  /** Not asked yet, or the node has no tasks route: no tasks section, no TASKS column. */
  | { kind: 'none' }
  /** A list; `note` set when it is the last one seen and why no newer one came (e.g. no quorum). */
  | { kind: 'list'; list: TaskListResponse; note: string | null }
  /** No list to show, and why (tasks disabled on this node, no quorum before any list). */
  | { kind: 'unavailable'; reason: string };

/** What one poll returned; `leader` and `tasks` may fail alone (e.g. Raft disabled) without the poll failing. */
export interface PollSample {
  at: number;
  members: MembersResponse | null;
  leader: LeaderResponseBody | null;
  /** Undefined or null: not asked in this poll (the previous tasks state stays). */
  tasks?: TasksAnswer | null;
  /** Set when the members call failed: the node is unreachable or answered badly. */
  error: string | null;
}

export type EventKind =
  | 'join'
  | 'suspect'
  | 'failure'
  | 'leave'
  | 'recover'
  | 'leader'
  | 'mode'
  | 'connection'
  | 'task'
  | 'task-failure';

export interface DashboardEvent {
  at: number;
  kind: EventKind;
  text: string;
}

interface CounterMark {
  at: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface DashboardModel {
  members: MembersResponse | null;
  leader: LeaderResponseBody | null;
  tasks: TasksState;
  /** Time of the last successful poll, null before the first. */
  lastOkAt: number | null;
  reconnecting: boolean;
  error: string | null;
  /** Packets per second, oldest first, one value per pair of successive good polls. */
  rateIn: number[];
  rateOut: number[];
  bytesInRate: number | null;
  bytesOutRate: number | null;
  /** Newest first. */
  events: DashboardEvent[];
  prev: CounterMark | null;
}

export interface ModelLimits {
  historySize: number;
  maxEvents: number;
}

export const DEFAULT_LIMITS: ModelLimits = { historySize: 120, maxEvents: 50 };

export function emptyModel(): DashboardModel {
  return {
    members: null,
    leader: null,
    tasks: { kind: 'none' },
    lastOkAt: null,
    reconnecting: false,
    error: null,
    rateIn: [],
    rateOut: [],
    bytesInRate: null,
    bytesOutRate: null,
    events: [],
    prev: null,
  };
}

function memberName(m: MembersResponse | null, id: string | null): string {
  if (id === null) return 'none';
  return m?.members.find((x) => x.id === id)?.name ?? id;
}

function statusEvent(at: number, before: MemberView, after: MemberView): DashboardEvent | null {
  if (before.status === after.status) return null;
  const n = after.name;
  switch (after.status) {
    case 'alive':
      return { at, kind: 'recover', text: `${n} is alive again (was ${before.status})` };
    case 'suspect':
      return { at, kind: 'suspect', text: `${n} is suspect` };
    case 'dead':
      return { at, kind: 'failure', text: `${n} failed` };
    case 'left':
      return { at, kind: 'leave', text: `${n} left` };
  }
}

/** Events between two successive views; the first view yields none (nothing "happened", we just arrived). */
export function diffEvents(
  before: MembersResponse | null,
  after: MembersResponse,
  at: number,
): DashboardEvent[] {
  if (before === null) return [];
  const out: DashboardEvent[] = [];
  const old = new Map(before.members.map((m) => [m.id, m]));
  for (const m of after.members) {
    const o = old.get(m.id);
    if (o === undefined) out.push({ at, kind: 'join', text: `${m.name} joined (${m.device_class})` });
    else {
      const e = statusEvent(at, o, m);
      if (e) out.push(e);
    }
  }
  // Dead and left members are eventually dropped from the view; say so rather than let them vanish.
  const present = new Set(after.members.map((m) => m.id));
  for (const o of before.members)
    if (!present.has(o.id)) out.push({ at, kind: 'leave', text: `${o.name} removed from the member list` });
  if (before.leader !== after.leader)
    out.push({
      at,
      kind: 'leader',
      text: `leader ${memberName(before, before.leader)} -> ${memberName(after, after.leader)}`,
    });
  const a = before.adaptive;
  const b = after.adaptive;
  if (a.mode !== b.mode) {
    // The node's reason usually starts with the same transition; say it once.
    const transition = `${a.mode} -> ${b.mode}`;
    const why = b.reason.startsWith(`${transition}: `) ? b.reason.slice(transition.length + 2) : b.reason;
    out.push({
      at,
      kind: 'mode',
      text: `gossip mode ${transition} (interval ${b.interval_ms} ms, fanout ${b.fanout}): ${why}`,
    });
  }
  return out;
}

/**
 * Task events between two lists: tasks added and removed, replicas whose state
 * changed (`web.1 on node-2: pending -> running`). The first list yields none.
 */
export function diffTaskEvents(before: TasksState, after: TasksState, at: number): DashboardEvent[] {
  if (before.kind !== 'list' || after.kind !== 'list') return [];
  const out: DashboardEvent[] = [];
  const oldTasks = new Map(before.list.tasks.map((t) => [t.name, t]));
  for (const t of after.list.tasks) {
    const o = oldTasks.get(t.name);
    if (o === undefined) {
      out.push({
        at,
        kind: 'task',
        text: `task ${t.name} submitted (${t.spec.count} replica${t.spec.count === 1 ? '' : 's'})`,
      });
      continue;
    }
    if (o.desired !== t.desired && t.desired === 'stop')
      out.push({ at, kind: 'task', text: `task ${t.name} stopping` });
    const oldAllocs = new Map(o.allocations.map((a) => [a.id, a]));
    for (const a of t.allocations) {
      const p = oldAllocs.get(a.id);
      if (p !== undefined && p.state === a.state && p.node === a.node) continue;
      const change =
        p === undefined || p.node !== a.node ? `placed (${a.state})` : `${p.state} -> ${a.state}`;
      out.push({
        at,
        kind: a.state === 'failed' || a.state === 'lost' ? 'task-failure' : 'task',
        text: `${a.id} on ${a.node_name}: ${change}`,
      });
    }
  }
  const present = new Set(after.list.tasks.map((t) => t.name));
  for (const o of before.list.tasks)
    if (!present.has(o.name)) out.push({ at, kind: 'task', text: `task ${o.name} removed` });
  return out;
}

/** The tasks state after one answer: a failed read keeps the last list (marked) rather than blanking it. */
export function applyTasks(prev: TasksState, answer: TasksAnswer | null | undefined): TasksState {
  if (answer === null || answer === undefined) return prev;
  switch (answer.kind) {
    case 'list':
      return { kind: 'list', list: answer.list, note: null };
    case 'absent':
      return { kind: 'none' };
    case 'disabled':
      return { kind: 'unavailable', reason: answer.reason };
    case 'failed':
      return prev.kind === 'list'
        ? { kind: 'list', list: prev.list, note: `last known; ${answer.reason}` }
        : { kind: 'unavailable', reason: answer.reason };
  }
}

export function applyPoll(
  prev: DashboardModel,
  s: PollSample,
  limits: ModelLimits = DEFAULT_LIMITS,
): DashboardModel {
  const capEvents = (evs: DashboardEvent[]): DashboardEvent[] => evs.slice(0, limits.maxEvents);
  if (s.members === null) {
    const lost: DashboardEvent[] =
      !prev.reconnecting && prev.lastOkAt !== null
        ? [{ at: s.at, kind: 'connection', text: `lost the node: ${s.error ?? 'no answer'}` }]
        : [];
    // The counters of a restarted node start again from zero, so the next rate must not span the gap.
    return {
      ...prev,
      reconnecting: true,
      error: s.error ?? 'no answer',
      prev: null,
      events: capEvents([...lost, ...prev.events]),
    };
  }
  const c = s.members.counters;
  const mark: CounterMark = {
    at: s.at,
    packetsIn: c.packets_in,
    packetsOut: c.packets_out,
    bytesIn: c.bytes_in,
    bytesOut: c.bytes_out,
  };
  let { rateIn, rateOut, bytesInRate, bytesOutRate } = prev;
  const p = prev.prev;
  const dt = p === null ? 0 : (s.at - p.at) / 1000;
  const restarted = p !== null && (mark.packetsIn < p.packetsIn || mark.packetsOut < p.packetsOut);
  if (p !== null && dt > 0 && !restarted) {
    rateIn = pushCapped(rateIn, (mark.packetsIn - p.packetsIn) / dt, limits.historySize);
    rateOut = pushCapped(rateOut, (mark.packetsOut - p.packetsOut) / dt, limits.historySize);
    bytesInRate = (mark.bytesIn - p.bytesIn) / dt;
    bytesOutRate = (mark.bytesOut - p.bytesOut) / dt;
  }
  const tasks = applyTasks(prev.tasks, s.tasks);
  const events = [...diffEvents(prev.members, s.members, s.at), ...diffTaskEvents(prev.tasks, tasks, s.at)];
  if (prev.reconnecting) events.unshift({ at: s.at, kind: 'connection', text: 'node answers again' });
  return {
    members: s.members,
    leader: s.leader,
    tasks,
    lastOkAt: s.at,
    reconnecting: false,
    error: null,
    rateIn,
    rateOut,
    bytesInRate,
    bytesOutRate,
    events: capEvents([...events.reverse(), ...prev.events]),
    prev: mark,
  };
}

/** The calls one refresh makes; the leader and tasks calls may fail on their own (no Raft, no tasks) without failing the poll. */
export interface DashboardSource {
  members(): Promise<MembersResponse>;
  leader(): Promise<LeaderResponseBody>;
  taskList(): Promise<TaskListResponse>;
}

/** The reason alone ("connection refused"): the banner already names the node's URL. */
export function shortError(err: unknown): string {
  if (err instanceof NodeUnreachableError) {
    const prefix = `no node answers at ${err.url} (`;
    if (err.message.startsWith(prefix) && err.message.endsWith(')'))
      return err.message.slice(prefix.length, -1);
  }
  return err instanceof Error ? err.message : String(err);
}

/** Sorts a failed `GET /v1/tasks`: which failures mean "no tasks here" and which "try again". */
export function tasksFailure(err: unknown): TasksAnswer {
  if (err instanceof ApiRequestError) {
    // An older node has no route; a node with tasks never answers 404 on the list.
    if (err.status === 404) return { kind: 'absent' };
    if (err.apiCode === 'tasks_disabled')
      return { kind: 'disabled', reason: 'disabled on this node ([tasks] enabled = false)' };
    if (err.apiCode === 'no_quorum') return { kind: 'failed', reason: 'no quorum' };
  }
  return { kind: 'failed', reason: shortError(err) };
}

export async function pollOnce(source: DashboardSource, now: () => number): Promise<PollSample> {
  const [m, l, t] = await Promise.allSettled([source.members(), source.leader(), source.taskList()]);
  const at = now();
  if (m.status === 'rejected')
    return {
      at,
      members: null,
      leader: null,
      tasks: null,
      error: shortError(m.reason),
    };
  return {
    at,
    members: m.value,
    leader: l.status === 'fulfilled' ? l.value : null,
    tasks: t.status === 'fulfilled' ? { kind: 'list', list: t.value } : tasksFailure(t.reason),
    error: null,
  };
}
