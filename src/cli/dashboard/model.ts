/**
 * The dashboard's state as a plain reducer over poll results, kept apart from
 * ink so it is tested without a terminal. A failed poll keeps the last good
 * data and flags `reconnecting`: a node restart should not blank the screen.
 * Events are not read from the node (it keeps no history); they are derived by
 * diffing successive polls, so the dashboard shows what changed while it ran.
 */
import type { MembersResponse, MemberView } from '../../api/members-types.js';
import type { LeaderResponseBody } from '../../api/routes/kv-types.js';
import { NodeUnreachableError } from '../../client/errors.js';
import { pushCapped } from './format.js';

/** What one poll returned; `leader` may fail alone (e.g. Raft disabled) without the poll failing. */
export interface PollSample {
  at: number;
  members: MembersResponse | null;
  leader: LeaderResponseBody | null;
  /** Set when the members call failed: the node is unreachable or answered badly. */
  error: string | null;
}

export type EventKind =
  'join' | 'suspect' | 'failure' | 'leave' | 'recover' | 'leader' | 'mode' | 'connection';

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
  const events = diffEvents(prev.members, s.members, s.at);
  if (prev.reconnecting) events.unshift({ at: s.at, kind: 'connection', text: 'node answers again' });
  return {
    members: s.members,
    leader: s.leader,
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

/** The two calls one refresh makes; the leader call may fail on its own (no Raft) without failing the poll. */
export interface DashboardSource {
  members(): Promise<MembersResponse>;
  leader(): Promise<LeaderResponseBody>;
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

export async function pollOnce(source: DashboardSource, now: () => number): Promise<PollSample> {
  const [m, l] = await Promise.allSettled([source.members(), source.leader()]);
  const at = now();
  if (m.status === 'rejected')
    return {
      at,
      members: null,
      leader: null,
      error: shortError(m.reason),
    };
  return { at, members: m.value, leader: l.status === 'fulfilled' ? l.value : null, error: null };
}
