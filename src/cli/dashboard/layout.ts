/**
 * The dashboard as lines of styled segments for a given terminal size. Both the
 * ink view (live) and the plain snapshot (stdout not a TTY) render these lines,
 * so the two never disagree, and layout decisions (which columns to drop, how
 * many rows fit) are tested as plain strings.
 */
import type { MemberView } from '../../api/members-types.js';
import { formatBytesRate, formatRate, padEnd, relativeTime, sparkline, truncate } from './format.js';
import type { DashboardEvent, DashboardModel, EventKind } from './model.js';

export type SegColor = 'green' | 'yellow' | 'red' | 'cyan' | 'magenta' | 'gray';

export interface Seg {
  text: string;
  color?: SegColor;
  bold?: boolean;
}
export type Line = Seg[];

export interface LayoutOptions {
  width: number;
  /** Rows available; `Infinity` for a snapshot, which is never cut. */
  height: number;
  now: number;
  intervalMs: number;
  /** Where the data comes from, shown in the title. */
  source: string;
}

interface Column {
  title: string;
  /** Lower drops first when the terminal is narrow. */
  priority: number;
  cell(m: MemberView, now: number): string;
  max: number;
}

const dash = (v: string | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : v);

const COLUMNS: readonly Column[] = [
  { title: 'NAME', priority: 10, max: 24, cell: (m) => `${m.self ? '*' : ' '}${m.name}` },
  { title: 'CLASS', priority: 4, max: 12, cell: (m) => m.device_class },
  { title: 'STATUS', priority: 9, max: 7, cell: (m) => m.status },
  { title: 'ROLE', priority: 8, max: 10, cell: (m) => dash(m.raft_role) },
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
  { title: 'RATING', priority: 5, max: 6, cell: (m) => dash(m.energy?.rating) },
];

const GAP = 2;

function statusColor(status: string): SegColor | undefined {
  if (status === 'alive') return 'green';
  if (status === 'suspect') return 'yellow';
  if (status === 'dead') return 'red';
  if (status === 'left') return 'gray';
  return undefined;
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

/** Columns that fit `width`, dropping the least useful first, in their display order. */
function fitColumns(
  members: readonly MemberView[],
  width: number,
  now: number,
): { col: Column; w: number }[] {
  const sized = COLUMNS.map((col) => ({
    col,
    w: Math.min(
      col.max,
      Math.max(col.title.length, ...members.map((m) => Array.from(col.cell(m, now)).length)),
    ),
  }));
  const total = (cs: { w: number }[]): number => cs.reduce((a, c) => a + c.w, 0) + GAP * (cs.length - 1);
  const kept = [...sized];
  while (kept.length > 1 && total(kept) > width) {
    let drop = 0;
    for (let i = 1; i < kept.length; i++) if (kept[i]!.col.priority < kept[drop]!.col.priority) drop = i;
    kept.splice(drop, 1);
  }
  return kept;
}

function memberRow(
  m: MemberView,
  cols: { col: Column; w: number }[],
  now: number,
  leaderId: string | null,
): Line {
  const line: Line = [];
  cols.forEach(({ col, w }, i) => {
    const text = padEnd(truncate(col.cell(m, now), w), i === cols.length - 1 ? 0 : w + GAP);
    if (col.title === 'STATUS') line.push({ text, color: statusColor(m.status) });
    else if (col.title === 'ROLE' && m.id === leaderId) line.push({ text, color: 'cyan', bold: true });
    else line.push({ text });
  });
  return line;
}

function headerLines(model: DashboardModel, o: LayoutOptions): Line[] {
  const title: Line = [
    { text: 'Swarm dashboard', bold: true },
    {
      text: `  ${o.source}  every ${o.intervalMs >= 1000 ? `${o.intervalMs / 1000}s` : `${o.intervalMs}ms`}`,
    },
  ];
  if (model.reconnecting)
    title.push({ text: `  reconnecting… (${model.error ?? 'no answer'})`, color: 'yellow', bold: true });
  const m = model.members;
  if (m === null) return [title, [{ text: model.reconnecting ? 'waiting for the node…' : 'connecting…' }]];
  const counts = new Map<string, number>();
  for (const x of m.members) counts.set(x.status, (counts.get(x.status) ?? 0) + 1);
  const byStatus = ['alive', 'suspect', 'dead', 'left']
    .filter((k) => counts.has(k))
    .map((k) => `${counts.get(k)} ${k}`)
    .join(', ');
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
      text: a.enabled ? `${a.mode}, interval ${a.interval_ms} ms, fanout ${a.fanout}` : 'adaptive off',
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

/** Cut every line to `width` columns, segment by segment, so colours survive truncation. */
function clip(line: Line, width: number): Line {
  const out: Line = [];
  let left = width;
  for (let i = 0; i < line.length && left > 0; i++) {
    const seg = line[i]!;
    const len = Array.from(seg.text).length;
    const rest = line.slice(i + 1).reduce((a, s) => a + Array.from(s.text).length, 0);
    if (len <= left && (len < left || rest === 0)) {
      out.push(seg);
      left -= len;
    } else {
      out.push({ ...seg, text: truncate(seg.text, left) });
      left = 0;
    }
  }
  return out;
}

export function layoutDashboard(model: DashboardModel, o: LayoutOptions): Line[] {
  const width = Math.max(20, o.width);
  const lines: Line[] = [...headerLines(model, o)];
  const m = model.members;
  if (m !== null) {
    lines.push([]);
    const cols = fitColumns(m.members, width, o.now);
    lines.push([
      {
        text: cols
          .map(({ col, w }, i) => (i === cols.length - 1 ? col.title : padEnd(col.title, w + GAP)))
          .join(''),
        bold: true,
      },
    ]);
    const events = model.events;
    // Space left once the header and the events block (title + up to 5 events) are placed; keep at least one member row.
    const eventRows = Math.min(5, events.length === 0 ? 1 : events.length);
    const free = o.height - lines.length - (eventRows + 2);
    const rows = m.members.length === 0 ? [] : m.members;
    if (rows.length === 0) lines.push([{ text: '(no members)', color: 'gray' }]);
    else if (rows.length <= free || !Number.isFinite(o.height)) {
      for (const x of rows) lines.push(memberRow(x, cols, o.now, m.leader));
    } else {
      const shown = Math.max(1, free - 1);
      for (const x of rows.slice(0, shown)) lines.push(memberRow(x, cols, o.now, m.leader));
      lines.push([{ text: `… ${rows.length - shown} more`, color: 'gray' }]);
    }
    lines.push([]);
    lines.push([{ text: 'Recent events', bold: true }]);
    if (events.length === 0) lines.push([{ text: '(none yet)', color: 'gray' }]);
    const maxEvents = Number.isFinite(o.height) ? Math.max(1, Math.min(5, o.height - lines.length)) : 5;
    for (const e of events.slice(0, maxEvents)) lines.push(eventLine(e, o.now));
  }
  const cut = Number.isFinite(o.height) ? lines.slice(0, Math.max(1, o.height)) : lines;
  return cut.map((l) => clip(l, width));
}

export function linesToText(lines: readonly Line[]): string {
  return lines
    .map(
      (l) =>
        `${l
          .map((s) => s.text)
          .join('')
          .trimEnd()}\n`,
    )
    .join('');
}
