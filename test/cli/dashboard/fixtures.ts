/** Recorded-shape API responses for the dashboard tests, built as typed objects. */
import type { MembersResponse, MemberView } from '../../../src/api/members-types.js';
import type { LeaderResponseBody } from '../../../src/api/routes/kv-types.js';

export const T0 = Date.parse('2026-01-01T12:00:00.000Z');

export function member(i: number, over: Partial<MemberView> = {}): MemberView {
  const id = `${i.toString(16).padStart(4, '0')}aaaabbbbcccc`;
  return {
    id,
    name: `node-${i}`,
    addresses: { gossip: `127.0.0.1:${6000 + i}`, api: `http://127.0.0.1:${7000 + i}`, raft: null },
    device_class: 'standard',
    status: 'alive',
    incarnation: 1,
    raft_role: i === 1 ? 'leader' : 'follower',
    energy: { power_w: 1.25 + i / 100, battery_percent: null, power_state: 'ac', rating: 'B' },
    last_change: new Date(T0 - 5000).toISOString(),
    self: i === 1,
    ...over,
  };
}

export function membersResponse(
  members: MemberView[],
  over: Partial<Omit<MembersResponse, 'members'>> = {},
): MembersResponse {
  return {
    self: members[0]?.id ?? 'self',
    leader: members.find((m) => m.raft_role === 'leader')?.id ?? null,
    encrypted: false,
    multicast: false,
    adaptive: {
      enabled: true,
      mode: 'normal',
      interval_ms: 1000,
      fanout: 3,
      reason: 'start',
      changed_at: null,
    },
    counters: {
      packets_in: 0,
      packets_out: 0,
      bytes_in: 0,
      bytes_out: 0,
      dropped_malformed: 0,
      dropped_unauthenticated: 0,
      dropped_oversize: 0,
      send_errors: 0,
      wakeups: 0,
      probe_loss: 0,
      rtt_ms: 1.5,
      suspicions_raised: 0,
      refutations: 0,
    },
    ...over,
    members,
  };
}

export function withCounters(m: MembersResponse, packetsIn: number, packetsOut: number): MembersResponse {
  return {
    ...m,
    counters: {
      ...m.counters,
      packets_in: packetsIn,
      packets_out: packetsOut,
      bytes_in: packetsIn * 100,
      bytes_out: packetsOut * 100,
    },
  };
}

export function leaderResponse(over: Partial<LeaderResponseBody> = {}): LeaderResponseBody {
  return {
    self: '0001aaaabbbbcccc',
    leader: '0001aaaabbbbcccc',
    leader_api: 'http://127.0.0.1:7001',
    role: 'leader',
    term: 4,
    commit: 42,
    applied: 42,
    voters: ['0001aaaabbbbcccc', '0002aaaabbbbcccc', '0003aaaabbbbcccc'],
    learners: [],
    ...over,
  };
}

export const three = (): MemberView[] => [member(1), member(2), member(3)];
