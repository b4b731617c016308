/** Recorded-shape API responses for the dashboard tests, built as typed objects. */
import type { MembersResponse, MemberView } from '../../../src/api/members-types.js';
import type { LeaderResponseBody } from '../../../src/api/routes/kv-types.js';
import {
  swarmEnergyMemberSchema,
  type EnergyResponse,
  type SwarmEnergyResponse,
} from '../../../src/api/energy-types.js';
import type { StatusResponse } from '../../../src/api/types.js';
import { taskListSchema, type TaskListResponse } from '../../../src/api/routes/tasks-types.js';

export const T0 = Date.parse('2026-01-01T12:00:00.000Z');

export function member(i: number, over: Partial<MemberView> = {}): MemberView {
  const id = `${i.toString(16).padStart(4, '0')}aaaabbbbcccc`;
  return {
    id,
    name: `node-${i}`,
    addresses: { gossip: `127.0.0.1:${6000 + i}`, api: `http://127.0.0.1:${7000 + i}`, raft: null },
    device_class: 'standard',
    labels: ['class=standard', 'arch=x64', 'power=mains'],
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

/** GET /v1/energy of a demo node (recorded 2026-11-22, no sensors on that machine: modelled power). */
export function energyResponse(over: Partial<EnergyResponse> = {}, at = T0): EnergyResponse {
  return {
    at: new Date(at).toISOString(),
    device_class: 'standard',
    power: {
      watts: 1.4945,
      source: 'model',
      measured: false,
      model_watts: 1.4945,
      cpu_utilisation: 0.995,
      budget_watts: null,
      over_budget: false,
    },
    state: 'active',
    temperature_c: null,
    energy: {
      joules: 157.9283659314045,
      watt_hours: 0.04386899053650125,
      average_watts: 1.40822639866786,
      peak_watts: 1.5,
      elapsed_s: 112.147,
      samples: 100,
    },
    carbon: { grams: 0.0175475962146005, intensity_g_per_kwh: 400, band: 'high' },
    efficiency: {
      score: 0.972,
      rating: 'C',
      window_s: 60.048,
      window_work_units: 82,
      window_joules: 84.3830574685621,
      lifetime_score: 0.10131175552686672,
    },
    battery: null,
    mains_online: null,
    protocol: {
      packets_sent_per_s: 6,
      packets_received_per_s: 6,
      bytes_per_s: 504,
      fsyncs_per_s: 0,
      watts: 0.00142032,
      joules: 0.15792064000000008,
      share: 0.0009999510795203961,
    },
    alarms: [],
    missing_sensors: {
      thermal: 'no thermal zones',
      battery: 'no battery among power supplies',
      mains: 'no Mains/USB supply with an online file',
      meter: 'no power meter (sys/class/hwmon: absent)',
    },
    power_history: [],
    ...over,
  };
}

/** GET /v1/energy/swarm for `members` (their gossiped energy), totals computed as the node does. */
export function swarmEnergyResponse(members: MemberView[]): SwarmEnergyResponse {
  const live = members.filter((m) => m.status === 'alive' || m.status === 'suspect');
  const reporting = live.filter((m) => m.energy?.power_w != null);
  return {
    self: members.find((m) => m.self)?.id ?? 'self',
    // The schema strips what /v1/members has and the swarm view has not (addresses, timings).
    members: members.map((m) => swarmEnergyMemberSchema.parse(m)),
    totals: {
      power_w: reporting.reduce((a, m) => a + (m.energy?.power_w ?? 0), 0),
      members: members.length,
      members_reporting: reporting.length,
      on_battery: live.filter((m) => m.energy?.battery_percent != null).length,
      average_rating: reporting.length > 0 ? 'B' : null,
    },
  };
}

/** GET /v1/status of node-1 in `three()`. */
export function statusResponse(over: Partial<StatusResponse> = {}): StatusResponse {
  return {
    id: '0001aaaabbbbcccc',
    name: 'node-1',
    device_class: 'standard',
    role: 'leader',
    term: 4,
    leader: '0001aaaabbbbcccc',
    cluster: null,
    waiting: null,
    merge: null,
    commit_index: 57,
    applied_index: 57,
    voters: ['0001aaaabbbbcccc', '0002aaaabbbbcccc', '0003aaaabbbbcccc'],
    learners: [],
    addresses: { gossip: '127.0.0.1:6001', api: '127.0.0.1:7001', raft: '127.0.0.1:8001' },
    uptime_s: 114,
    version: '0.3.0',
    pid: 25402,
    data_dir: '/tmp/swarm-demo/node-1',
    security: { gossip_encrypted: false, note: 'gossip unencrypted', refused_peers: [] },
    ...over,
  };
}

type Alloc = TaskListResponse['tasks'][number]['allocations'][number];

/** One allocation of `task` on `member(i)`, as GET /v1/tasks lists it. */
export function alloc(task: string, n: number, i: number, over: Partial<Alloc> = {}): Alloc {
  const state = over.state ?? 'running';
  return {
    id: `${task}.${n}`,
    node: member(i).id,
    node_name: `node-${i}`,
    desired: 'run',
    reason: 'placed: rank 1 of 3 (labels ok, load 0)',
    replaces: null,
    state,
    pid: state === 'running' ? 41000 + n : null,
    exit_code: null,
    signal: null,
    restarts: 0,
    message: state === 'running' ? 'started' : '',
    since: state === 'pending' ? null : new Date(T0 - 20_000).toISOString(),
    ...over,
  };
}

/** One task as GET /v1/tasks lists it; `running` counted as the node does. */
export function task(
  name: string,
  count: number,
  allocations: Alloc[],
  over: Partial<TaskListResponse['tasks'][number]> = {},
): TaskListResponse['tasks'][number] {
  return {
    name,
    desired: 'run',
    spec: {
      name,
      command: ['/usr/bin/python3', `${name}.py`],
      env: {},
      count,
      constraints: { labels: [], device_classes: [] },
      restart: 'on-failure',
      backoff_ms: 1000,
      backoff_max_ms: 60_000,
      max_restarts: 10,
      energy: 'any',
      power_w: 0,
      kill_timeout_s: 10,
    },
    submitted: new Date(T0 - 60_000).toISOString(),
    running: allocations.filter((a) => a.state === 'running').length,
    allocations,
    explanation: null,
    ...over,
  };
}

/**
 * GET /v1/tasks of the `three()` swarm with two tasks: `web` 2/2 on node-1 and
 * node-2, `sensor-logger` 1/2 (node-3 running, node-2 still pending). Parsed with
 * the client's schema, so the fixture cannot drift from the route's shape.
 */
export function tasksResponse(): TaskListResponse {
  return taskListSchema.parse({
    tasks: [
      task('web', 2, [alloc('web', 0, 1), alloc('web', 1, 2)]),
      task('sensor-logger', 2, [
        alloc('sensor-logger', 0, 3),
        alloc('sensor-logger', 1, 2, { state: 'pending' }),
      ]),
    ],
  });
}
