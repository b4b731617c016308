/**
 * `swarm swarm status`: one definition of its key/value head and members table,
 * printed once by the command (plain text, no ink) and redrawn in place by
 * `--watch`. Pure: the command imports it without loading ink or react.
 */
import type { MembersResponse, MemberView } from '../../api/members-types.js';
import type { StatusResponse } from '../../api/types.js';
import { formatPairs, formatTable } from '../output.js';
import { adaptiveText, relativeTime, statusSummary } from './format.js';
import {
  fitScreen,
  statusColor,
  tableLines,
  titleLine,
  waitingLine,
  type Column,
  type LayoutOptions,
  type Line,
  type LinkState,
} from './lines.js';
import { shortError } from './model.js';

/** Most refused peers listed; the rest are summed in one line (the API lists up to 64). */
const MAX_REFUSED_LINES = 5;

/** Warning lines for peers whose packets this node refused (wrong or missing swarm key). */
export function refusedPairs(st: StatusResponse, now: number): [string, string][] {
  const list = st.security.refused_peers;
  const out: [string, string][] = list
    .slice(0, MAX_REFUSED_LINES)
    .map((p) => [
      'WARNING refused',
      `${p.address} (${p.channel}, ${p.count} packets, last ${relativeTime(p.last_seen, now)}): ${p.hint}`,
    ]);
  if (list.length > MAX_REFUSED_LINES)
    out.push(['WARNING refused', `and ${list.length - MAX_REFUSED_LINES} more peers (see /v1/status)`]);
  return out;
}

export function statusPairs(m: MembersResponse, st: StatusResponse, now = Date.now()): [string, string][] {
  const leader = m.members.find((x) => x.id === m.leader);
  const a = m.adaptive;
  return [
    ['this node', `${st.name} (${st.id})`],
    ['members', `${m.members.length}${m.members.length > 0 ? ` (${statusSummary(m.members)})` : ''}`],
    ['leader', leader ? `${leader.name} (${leader.id})` : (st.leader ?? '-')],
    ...(st.waiting !== null ? ([['waiting', st.waiting]] as [string, string][]) : []),
    ['term', String(st.term)],
    [
      'raft',
      `commit ${st.commit_index}, applied ${st.applied_index}, ${st.voters.length} voters, ${st.learners.length} learners`,
    ],
    ['adaptive', a.enabled ? adaptiveText(a) : 'disabled'],
    ['reason', a.reason],
    ['security', m.encrypted ? 'gossip encrypted' : 'gossip unencrypted'],
    ...refusedPairs(st, now),
  ];
}

/** In display order; priorities say which go first on a narrow terminal. */
export const STATUS_COLUMNS: readonly Column<MemberView>[] = [
  { title: ' NAME', priority: 10, max: 25, cell: (x) => `${x.self ? '*' : ' '}${x.name}` },
  { title: 'ID', priority: 1, max: 16, cell: (x) => x.id },
  { title: 'STATUS', priority: 9, max: 7, cell: (x) => x.status, color: (x) => statusColor(x.status) },
  { title: 'CLASS', priority: 5, max: 12, cell: (x) => x.device_class },
  {
    title: 'RAFT',
    priority: 8,
    max: 10,
    cell: (x) => x.raft_role ?? '-',
    color: (x) => (x.raft_role === 'leader' ? 'cyan' : undefined),
  },
  {
    title: 'LABELS',
    priority: 4,
    max: 40,
    // Built-in class= is the CLASS column already.
    cell: (x) => x.labels.filter((l) => !l.startsWith('class=')).join(',') || '-',
  },
  { title: 'GOSSIP', priority: 3, max: 22, cell: (x) => x.addresses.gossip },
  { title: 'API', priority: 2, max: 28, cell: (x) => x.addresses.api ?? '-' },
  {
    title: 'BATTERY',
    priority: 6,
    max: 7,
    cell: (x) => (x.energy?.battery_percent != null ? `${Math.round(x.energy.battery_percent)}%` : '-'),
  },
  { title: 'CHANGED', priority: 4, max: 10, cell: (x, now) => relativeTime(x.last_change, now) },
];

/** The plain output of `swarm swarm status`. */
export function formatSwarmStatus(m: MembersResponse, st: StatusResponse, now = Date.now()): string {
  const table = formatTable(
    STATUS_COLUMNS.map((c) => c.title),
    m.members.map((x) => STATUS_COLUMNS.map((c) => c.cell(x, now))),
  );
  return `${formatPairs(statusPairs(m, st, now))}\n${table}`;
}

export interface StatusSample {
  at: number;
  members: MembersResponse | null;
  status: StatusResponse | null;
  error: string | null;
}

export interface StatusModel extends LinkState {
  members: MembersResponse | null;
  status: StatusResponse | null;
}

export function emptyStatusModel(): StatusModel {
  return { members: null, status: null, lastOkAt: null, reconnecting: false, error: null };
}

/** A failed poll keeps the last table under the reconnecting banner. */
export function applyStatusPoll(prev: StatusModel, s: StatusSample): StatusModel {
  if (s.members === null || s.status === null)
    return { ...prev, reconnecting: true, error: s.error ?? 'no answer' };
  return { members: s.members, status: s.status, lastOkAt: s.at, reconnecting: false, error: null };
}

export interface StatusSource {
  members(): Promise<MembersResponse>;
  status(): Promise<StatusResponse>;
}

export async function pollStatus(source: StatusSource, now: () => number): Promise<StatusSample> {
  const [m, st] = await Promise.allSettled([source.members(), source.status()]);
  const at = now();
  if (m.status === 'rejected') return { at, members: null, status: null, error: shortError(m.reason) };
  if (st.status === 'rejected') return { at, members: null, status: null, error: shortError(st.reason) };
  return { at, members: m.value, status: st.value, error: null };
}

export function layoutStatus(model: StatusModel, o: LayoutOptions): Line[] {
  const lines: Line[] = [titleLine('Swarm status', model, o)];
  const { members: m, status: st } = model;
  if (m === null || st === null) return fitScreen([...lines, waitingLine(model)], o);
  const pairs = statusPairs(m, st, o.now);
  const colorOf = (key: string | undefined): 'gray' | 'yellow' | undefined =>
    key === 'reason' ? 'gray' : key?.startsWith('WARNING') ? 'yellow' : undefined;
  formatPairs(pairs)
    .trimEnd()
    .split('\n')
    .forEach((text, i) => lines.push([{ text, color: colorOf(pairs[i]?.[0]) }]));
  lines.push([]);
  // The table's header takes one of the remaining rows.
  const room = o.height - lines.length - 1;
  lines.push(
    ...tableLines(STATUS_COLUMNS, m.members, {
      width: Math.max(20, o.width),
      now: o.now,
      room,
      empty: '(no members)',
    }),
  );
  return fitScreen(lines, o);
}
