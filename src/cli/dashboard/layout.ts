/**
 * The dashboard as lines of styled segments for a given terminal size. Both the
 * ink view (live) and the plain snapshot (stdout not a TTY) render these lines,
 * so the two never disagree, and layout decisions (which columns to drop, how
 * many rows fit) are tested as plain strings.
 */
import type { MemberView } from '../../api/members-types.js';
import type { AllocationResponse, TaskStatusResponse } from '../../api/routes/tasks-types.js';
import {
  adaptiveText,
  formatBytesRate,
  formatRate,
  padEnd,
  relativeTime,
  sparkline,
  statusSummary,
  truncate,
} from './format.js';
import {
  fitScreen,
  ratingColor,
  statusColor,
  tableLines,
  titleLine,
  waitingLine,
  type Column,
  type LayoutOptions,
  type Line,
  type SegColor,
} from './lines.js';
import type { DashboardEvent, DashboardModel, EventKind, TasksState } from './model.js';

export type { LayoutOptions, Line } from './lines.js';
export { linesToText } from './lines.js';

const dash = (v: string | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : v);

/** Most task lines in a live frame; the rest are summed as `… N more` (the snapshot lists all). */
const MAX_TASK_LINES = 5;
const TASK_NAME_WIDTH = 16;

/** Running allocations per node id, over every task of the list. */
function runningPerNode(tasks: TasksState): Map<string, number> | null {
  if (tasks.kind !== 'list') return null;
  const out = new Map<string, number>();
  for (const t of tasks.list.tasks)
    for (const a of t.allocations) if (a.state === 'running') out.set(a.node, (out.get(a.node) ?? 0) + 1);
  return out;
}

function columns(leaderId: string | null, tasks: TasksState): Column<MemberView>[] {
  const running = runningPerNode(tasks);
  // Without a task list (older node, tasks disabled) the column would only say "-": leave it out.
  const tasksColumn: Column<MemberView>[] =
    running === null
      ? []
      : [{ title: 'TASKS', priority: 7.5, max: 5, cell: (m) => String(running.get(m.id) ?? 0) }];
  return [
    { title: 'NAME', priority: 10, max: 24, cell: (m) => `${m.self ? '*' : ' '}${m.name}` },
    { title: 'CLASS', priority: 4, max: 12, cell: (m) => m.device_class },
    { title: 'STATUS', priority: 9, max: 7, cell: (m) => m.status, color: (m) => statusColor(m.status) },
    {
      title: 'ROLE',
      priority: 8,
      max: 10,
      cell: (m) => dash(m.raft_role),
      color: (m) => (m.id === leaderId ? 'cyan' : undefined),
      bold: (m) => m.id === leaderId,
    },
    ...tasksColumn,
    { title: 'ADDRESS', priority: 1, max: 22, cell: (m) => m.addresses.gossip },
    { title: 'LAST HEARD', priority: 3, max: 10, cell: (m, now) => relativeTime(m.last_change, now) },
    {
      title: 'POWER',
      priority: 7,
      max: 8,
      cell: (m) => (m.energy?.power_w != null ? `${m.energy.power_w.toFixed(2)} W` : '-'),
    },
    {
      title: 'BATTERY',
      priority: 6,
      max: 7,
      cell: (m) => (m.energy?.battery_percent != null ? `${Math.round(m.energy.battery_percent)}%` : '-'),
    },
    {
      title: 'RATING',
      priority: 5,
      max: 6,
      cell: (m) => dash(m.energy?.rating),
      color: (m) => ratingColor(m.energy?.rating),
    },
  ];
}

function eventColor(kind: EventKind): SegColor | undefined {
  switch (kind) {
    case 'join':
    case 'recover':
      return 'green';
    case 'suspect':
      return 'yellow';
    case 'failure':
      return 'red';
    case 'leave':
      return 'gray';
    case 'leader':
    case 'mode':
      return 'cyan';
    case 'connection':
      return 'magenta';
    case 'task':
      return undefined;
    case 'task-failure':
      return 'red';
  }
}

function headerLines(model: DashboardModel, o: LayoutOptions): Line[] {
  const title = titleLine('Swarm dashboard', model, o);
  const m = model.members;
  if (m === null) return [title, waitingLine(model)];
  const byStatus = statusSummary(m.members);
  const leader = m.members.find((x) => x.id === m.leader);
  const l = model.leader;
  const a = m.adaptive;
  const size: Line = [
    { text: 'Members ', bold: true },
    { text: `${m.members.length}${byStatus ? ` (${byStatus})` : ''}` },
    { text: '   Leader ', bold: true },
    { text: leader?.name ?? (l?.leader ? l.leader : 'none'), color: leader || l?.leader ? 'cyan' : 'yellow' },
    { text: '   Term ', bold: true },
    { text: l ? String(l.term) : '-' },
    { text: '   Commit ', bold: true },
    { text: l ? String(l.commit) : '-' },
  ];
  const mode: Line = [
    { text: 'Gossip ', bold: true },
    {
      text: adaptiveText(a),
      color: a.mode === 'emergency' ? 'red' : a.mode === 'normal' ? undefined : 'yellow',
    },
    { text: a.enabled && a.reason ? `  (${a.reason})` : '', color: 'gray' },
  ];
  // Wide enough to see a trend, short enough that In and Out sit side by side on 80 columns.
  const sparkW = Math.max(4, Math.min(30, Math.floor((o.width - 34) / 2)));
  const last = (xs: readonly number[]): number | null => (xs.length > 0 ? xs[xs.length - 1]! : null);
  const rates: Line = [
    { text: 'In  ', bold: true },
    { text: `${padEnd(formatRate(last(model.rateIn)), 5)} pkt/s ` },
    { text: padEnd(sparkline(model.rateIn, sparkW), sparkW), color: 'green' },
    { text: '  Out ', bold: true },
    { text: `${padEnd(formatRate(last(model.rateOut)), 5)} pkt/s ` },
    { text: padEnd(sparkline(model.rateOut, sparkW), sparkW), color: 'cyan' },
  ];
  const bytes: Line = [
    {
      text: `    ${formatBytesRate(model.bytesInRate)} in, ${formatBytesRate(model.bytesOutRate)} out; loss ${Math.round(
        m.counters.probe_loss * 100,
      )}%, rtt ${m.counters.rtt_ms === null ? '-' : `${m.counters.rtt_ms.toFixed(1)} ms`}`,
      color: 'gray',
    },
  ];
  return [title, size, mode, rates, bytes];
}

function allocColor(state: AllocationResponse['state']): SegColor | undefined {
  switch (state) {
    case 'running':
      return 'green';
    case 'pending':
      return 'yellow';
    case 'failed':
    case 'lost':
      return 'red';
    case 'exited':
    case 'stopped':
      return 'gray';
  }
}

/** `web              2/2  node-1(running) node-2(pending)`: one task, where its replicas are. */
function taskLine(t: TaskStatusResponse): Line {
  const line: Line = [{ text: `${padEnd(truncate(t.name, TASK_NAME_WIDTH), TASK_NAME_WIDTH)} ` }];
  if (t.desired === 'stop') return [...line, { text: 'stopped', color: 'gray' }];
  line.push({
    text: padEnd(`${t.running}/${t.spec.count}`, 6),
    color: t.running >= t.spec.count ? undefined : 'yellow',
  });
  if (t.allocations.length === 0) line.push({ text: '(not placed)', color: 'yellow' });
  t.allocations.forEach((a, i) => {
    line.push({ text: `${i === 0 ? '' : ' '}${a.node_name}(` });
    line.push({ text: a.state, color: allocColor(a.state) });
    line.push({ text: ')' });
  });
  return line;
}

/**
 * The tasks panel: a title with the totals and one line per task, at most `room`
 * lines (at least one), or one line saying why there is no list.
 */
function tasksLines(tasks: TasksState, room: number): Line[] {
  if (tasks.kind === 'none') return [];
  if (tasks.kind === 'unavailable')
    return [
      [
        { text: 'Tasks ', bold: true },
        { text: tasks.reason, color: 'yellow' },
      ],
    ];
  const list = tasks.list.tasks;
  const live = list.filter((t) => t.desired === 'run');
  const running = live.reduce((a, t) => a + t.running, 0);
  const wanted = live.reduce((a, t) => a + t.spec.count, 0);
  const title: Line = [
    { text: 'Tasks ', bold: true },
    { text: `${list.length}${list.length > 0 ? ` (${running} of ${wanted} replicas running)` : ''}` },
  ];
  if (tasks.note !== null) title.push({ text: `  (${tasks.note})`, color: 'yellow' });
  const out: Line[] = [title];
  if (list.length === 0) out.push([{ text: '(no tasks)', color: 'gray' }]);
  else if (list.length <= room || !Number.isFinite(room)) out.push(...list.map(taskLine));
  else {
    const shown = Math.max(1, room - 1);
    out.push(...list.slice(0, shown).map(taskLine));
    out.push([{ text: `… ${list.length - shown} more`, color: 'gray' }]);
  }
  return out;
}

function eventLine(e: DashboardEvent, now: number): Line {
  return [
    { text: `${padEnd(relativeTime(new Date(e.at).toISOString(), now), 8)} ` },
    { text: e.text, color: eventColor(e.kind) },
  ];
}

export function layoutDashboard(model: DashboardModel, o: LayoutOptions): Line[] {
  const width = Math.max(20, o.width);
  const lines: Line[] = [...headerLines(model, o)];
  const m = model.members;
  if (m !== null) {
    lines.push([]);
    const events = model.events;
    // Space left once the header, the table's title and the events block (title + up to 5 events) are placed.
    const eventRows = Math.min(5, events.length === 0 ? 1 : events.length);
    // The tasks panel: blank line, title and up to MAX_TASK_LINES lines (one when the list is empty).
    const t = model.tasks;
    const taskRows =
      t.kind === 'none'
        ? 0
        : t.kind === 'unavailable'
          ? 2
          : 2 + Math.min(MAX_TASK_LINES, Math.max(1, t.list.tasks.length));
    const room = o.height - lines.length - 1 - (eventRows + 2) - taskRows;
    lines.push(
      ...tableLines(columns(m.leader, t), m.members, { width, now: o.now, room, empty: '(no members)' }),
    );
    if (t.kind !== 'none') {
      lines.push([]);
      // Whatever the member table left, keeping the events' title and one event below.
      const taskRoom = Number.isFinite(o.height)
        ? Math.max(1, Math.min(MAX_TASK_LINES, o.height - lines.length - 1 - 3))
        : Infinity;
      lines.push(...tasksLines(t, taskRoom));
    }
    lines.push([]);
    lines.push([{ text: 'Recent events', bold: true }]);
    if (events.length === 0) lines.push([{ text: '(none yet)', color: 'gray' }]);
    const maxEvents = Number.isFinite(o.height) ? Math.max(1, Math.min(5, o.height - lines.length)) : 5;
    for (const e of events.slice(0, maxEvents)) lines.push(eventLine(e, o.now));
  }
  return fitScreen(lines, o);
}
