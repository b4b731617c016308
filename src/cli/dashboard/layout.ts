/**
 * The dashboard as lines of styled segments for a given terminal size. Both the
 * ink view (live) and the plain snapshot (stdout not a TTY) render these lines,
 * so the two never disagree, and layout decisions (which columns to drop, how
 * many rows fit) are tested as plain strings.
 */
import type { MemberView } from '../../api/members-types.js';
import {
  adaptiveText,
  formatBytesRate,
  formatRate,
  padEnd,
  relativeTime,
  sparkline,
  statusSummary,
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
import type { DashboardEvent, DashboardModel, EventKind } from './model.js';

export type { LayoutOptions, Line } from './lines.js';
export { linesToText } from './lines.js';

const dash = (v: string | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : v);

function columns(leaderId: string | null): Column<MemberView>[] {
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
    const room = o.height - lines.length - 1 - (eventRows + 2);
    lines.push(
      ...tableLines(columns(m.leader), m.members, { width, now: o.now, room, empty: '(no members)' }),
    );
    lines.push([]);
    lines.push([{ text: 'Recent events', bold: true }]);
    if (events.length === 0) lines.push([{ text: '(none yet)', color: 'gray' }]);
    const maxEvents = Number.isFinite(o.height) ? Math.max(1, Math.min(5, o.height - lines.length)) : 5;
    for (const e of events.slice(0, maxEvents)) lines.push(eventLine(e, o.now));
  }
  return fitScreen(lines, o);
}
