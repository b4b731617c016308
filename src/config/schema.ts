/**
 * The configuration schema: every section and key, its default, its rule and
 * its one-line description. This file is the single source of truth; the
 * template, the docs table, env-override typing and `config set` parsing are
 * all derived from it by introspection (see `keys.ts`).
 *
 * Sections and keys up to `[adaptive_gossip]` keep iot-swarm 0.2.0's names and
 * defaults so existing config files load unchanged.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { labelListProblem } from '../tasks/labels.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER): z.ZodNumber => {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
  return z
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(min, { error: `must be an integer ${range}` })
    .max(max, { error: `must be an integer ${range}` });
};

const num = (min: number, max = Number.POSITIVE_INFINITY): z.ZodNumber => {
  const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `between ${min} and ${max}`;
  return z
    .number({ error: 'must be a number' })
    .min(min, { error: `must be a number ${range}` })
    .max(max, { error: `must be a number ${range}` });
};

/** Listening ports accept 0 ("let the OS pick"), which tests and the demo rely on. */
const listenPort = (): z.ZodNumber => int(0, 65535);
const port = (): z.ZodNumber => int(1, 65535);

/** An optional physical quantity: any number > 0. */
const positive = (): z.ZodNumber =>
  z.number({ error: 'must be a number' }).gt(0, { error: 'must be a number > 0' });

const str = (): z.ZodString => z.string({ error: 'must be a string' });
const bool = (): z.ZodBoolean => z.boolean({ error: 'must be true or false' });

const ipAddress = (): z.ZodString =>
  str().refine((v) => isIP(v) !== 0, { error: 'must be an IPv4 or IPv6 address' });

const multicastGroup = (): z.ZodString =>
  str().refine(
    (v) => {
      if (isIP(v) !== 4) return false;
      const first = Number(v.split('.')[0]);
      return first >= 224 && first <= 239;
    },
    { error: 'must be an IPv4 multicast address (224.0.0.0-239.255.255.255)' },
  );

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const hostPort = (): z.ZodString =>
  str().refine(
    (v) => {
      const m = HOST_PORT.exec(v);
      if (!m) return false;
      const p = Number(m[2]);
      return p >= 1 && p <= 65535;
    },
    { error: 'must be "host:port" with a port 1-65535' },
  );

/** A swarm key is 32 random bytes, base64-encoded (what `swarm keygen` prints). */
export function isValidSwarmKey(v: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v)) return false;
  return Buffer.from(v, 'base64').length === 32;
}

export const DEVICE_CLASSES = ['full', 'standard', 'minimal'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

const network = z.strictObject({
  gossip_port: listenPort().default(5555).describe('UDP port for gossip (0 = any free port)'),
  multicast_group: multicastGroup()
    .default('239.255.255.250')
    .describe('IPv4 multicast group used to discover peers on the LAN'),
  multicast_port: port().default(5556).describe('UDP port of the multicast discovery group'),
  bind_address: ipAddress().default('0.0.0.0').describe('address the gossip socket binds to'),
  join: z
    .array(hostPort(), { error: 'must be a list of "host:port" strings' })
    .default([])
    .describe('peers to contact at start, as "host:port" gossip addresses'),
  multicast_enabled: bool()
    .default(true)
    .describe('discover peers by multicast (turn off for tests and the demo)'),
  advertise_address: str()
    .refine((v) => v === '' || isIP(v) !== 0, { error: 'must be "" or an IPv4 or IPv6 address' })
    .default('')
    .describe(
      'address peers reach this node at, advertised for gossip, Raft and API ("" = the interface toward the first join peer, else the first external IPv4)',
    ),
});

const gossip = z.strictObject({
  interval_ms: int(10).default(1000).describe('base gossip round interval'),
  fanout: int(1, 100).default(3).describe('peers contacted per gossip round'),
  ttl: int(1, 64).default(3).describe('hops a rumour travels before it is dropped'),
  anti_entropy_interval_ms: int(100).default(10000).describe('interval of full state exchange with one peer'),
  message_cache_size: int(1).default(1000).describe('entries in the duplicate-suppression cache'),
});

const consensus = z.strictObject({
  heartbeat_interval_ms: int(1).default(500).describe('leader heartbeat interval'),
  election_timeout_min_ms: int(1).default(1500).describe('lower bound of the randomized election timeout'),
  election_timeout_max_ms: int(1).default(3000).describe('upper bound of the randomized election timeout'),
  vote_timeout_ms: int(1).default(1000).describe('how long a candidate waits for votes'),
});

const node = z.strictObject({
  name: str().default('').describe('node name (empty: hostname-based)'),
  device_class: z
    .enum(DEVICE_CLASSES, { error: 'must be one of full, standard, minimal' })
    .default('standard')
    .describe(
      'hardware class: full (Pi 4/5), standard (Pi Zero 2 W, ESP32-S3), minimal (ESP32 observer, never leader)',
    ),
  data_dir: str()
    .default('')
    .describe('node state directory (empty: data/ next to the config file; relative: from the config file)'),
  labels: z
    .array(str(), { error: 'must be a list of strings' })
    .superRefine((v, ctx) => {
      const problem = labelListProblem(v);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default([])
    .describe(
      'capabilities tasks can require, e.g. ["camera", "zone=kitchen"] (class, arch and power are built in)',
    ),
});

const metrics = z.strictObject({
  enabled: bool().default(true).describe('collect node metrics'),
  collection_interval_ms: int(100).default(5000).describe('metrics sampling interval'),
  history_size: int(1).default(100).describe('samples kept in memory'),
});

const energy = z.strictObject({
  enabled: bool().default(true).describe('measure energy use'),
  collection_interval_ms: int(100).default(1000).describe('energy sampling interval'),
  carbon_intensity_gco2_kwh: num(0).default(400.0).describe('grid carbon intensity in gCO2/kWh'),
  low_power_threshold_percent: num(0, 100).default(30.0).describe('battery level that enters low-power mode'),
  critical_threshold_percent: num(0, 100).default(10.0).describe('battery level that enters critical mode'),
  power_budget_watts: z
    .number({ error: 'must be a number' })
    .gt(0, { error: 'must be a number > 0' })
    .optional()
    .describe('optional power budget of the device in watts'),
  // Device-profile overrides: unset means the device class's profile (docs/energy.md).
  tdp_watts: positive().optional().describe('override: power at full CPU load, watts'),
  idle_watts: positive().optional().describe('override: power at idle, watts'),
  min_watts: positive().optional().describe('override: lowest power the model reports, watts'),
  max_watts: positive().optional().describe('override: highest power the model reports, watts'),
  battery_capacity_wh: positive().optional().describe('override: battery capacity, watt-hours'),
});

const adaptiveGossip = z.strictObject({
  enabled: bool().default(true).describe('adapt gossip interval and fanout to measured conditions'),
  adaptation_interval_ms: int(100).default(5000).describe('how often the controller re-evaluates'),
  min_interval_ms: int(10).default(200).describe('fastest gossip interval the controller may choose'),
  max_interval_ms: int(10).default(5000).describe('slowest gossip interval the controller may choose'),
  max_fanout: int(1, 100).default(10).describe('largest fanout the controller may choose'),
  energy_aware: bool().default(true).describe('slow down on battery and low power'),
});

const api = z.strictObject({
  bind_address: ipAddress().default('127.0.0.1').describe('address of the REST control API'),
  port: listenPort().default(5557).describe('TCP port of the REST control API (0 = any free port)'),
});

const raft = z.strictObject({
  port: listenPort().default(5558).describe('TCP port for Raft traffic (0 = any free port)'),
  voters: int(1, 15).default(5).describe('size of the voter set; other nodes are learners'),
  bootstrap_expect: int(0, 15)
    .default(0)
    .describe(
      'voter-capable members to see before forming a new cluster (0 = form with whoever is seen; see --bootstrap)',
    ),
  snapshot_interval_entries: int(1).default(10000).describe('log entries between snapshots'),
  quota_bytes: int(0)
    .default(256 * 1024 * 1024)
    .describe('store size above which writes are refused with quota_exceeded (0 = no limit)'),
});

const security = z.strictObject({
  swarm_key: str()
    .refine((v) => v === '' || isValidSwarmKey(v), {
      error: 'must be base64 of 32 bytes (see `swarm keygen`)',
    })
    .default('')
    .describe('base64 AES-256 key that encrypts gossip (empty: unencrypted)'),
  api_token: str().default('').describe('bearer token required by mutating API requests (empty: none)'),
});

const tasks = z.strictObject({
  enabled: bool().default(true).describe('run the task scheduler (on the leader) and supervisor'),
  lease_ms: int(500)
    .default(10000)
    .describe(
      "a node out of contact with the Raft leader this long stops its tasks; the leader re-places a dead node's tasks this long plus kill_timeout_s after detecting it",
    ),
  log_max_bytes: int(4096)
    .default(1024 * 1024)
    .describe("size at which a task's output log rotates (one older file kept)"),
});

const logging = z.strictObject({
  level: z
    .enum(LOG_LEVELS, { error: 'must be one of debug, info, warn, error' })
    .default('info')
    .describe('lowest log level written'),
});

/** Default a whole section from its own key defaults so an absent [section] is fine. */
function section<S extends z.ZodObject>(s: S): z.ZodDefault<S> {
  return s.default(() => s.parse({}) as z.core.util.NoUndefined<z.output<S>>);
}

const coordination = z.strictObject({
  watch_history_events: int(16)
    .default(10000)
    .describe('applied KV events each node keeps for watchers; older starts answer 410'),
  watch_history_bytes: int(65536)
    .default(16 * 1024 * 1024)
    .describe('bytes of keys and values the watch history may hold'),
  max_watchers: int(1)
    .default(256)
    .describe('watch streams, long polls, lock and campaign waits one node serves at once'),
  resign_on_emergency: bool()
    .default(true)
    .describe('when the node enters the emergency power mode, resign elections campaigned through it'),
});

export const SECTIONS = {
  network,
  gossip,
  consensus,
  node,
  metrics,
  energy,
  adaptive_gossip: adaptiveGossip,
  api,
  raft,
  security,
  tasks,
  logging,
  coordination,
} as const;

export type SectionName = keyof typeof SECTIONS;

const baseSchema = z.strictObject({
  network: section(network),
  gossip: section(gossip),
  consensus: section(consensus),
  node: section(node),
  metrics: section(metrics),
  energy: section(energy),
  adaptive_gossip: section(adaptiveGossip),
  api: section(api),
  raft: section(raft),
  security: section(security),
  tasks: section(tasks),
  logging: section(logging),
  coordination: section(coordination),
});

/** A relation `a op b` between two keys that must hold. */
export interface CrossRule {
  readonly a: string;
  readonly op: '<' | '<=' | '>=' | '!=';
  readonly b: string;
  /** Port-style rules: 0 means "any free port", which never collides. */
  readonly zeroExempt?: boolean;
}

export const CROSS_RULES: readonly CrossRule[] = [
  { a: 'consensus.election_timeout_min_ms', op: '<', b: 'consensus.election_timeout_max_ms' },
  { a: 'consensus.heartbeat_interval_ms', op: '<', b: 'consensus.election_timeout_min_ms' },
  { a: 'adaptive_gossip.min_interval_ms', op: '<=', b: 'gossip.interval_ms' },
  { a: 'adaptive_gossip.max_interval_ms', op: '>=', b: 'gossip.interval_ms' },
  { a: 'adaptive_gossip.max_fanout', op: '>=', b: 'gossip.fanout' },
  { a: 'energy.critical_threshold_percent', op: '<=', b: 'energy.low_power_threshold_percent' },
  { a: 'raft.port', op: '!=', b: 'api.port', zeroExempt: true },
];

/** `a op b` read from b's side. */
const REVERSED: Record<CrossRule['op'], string> = { '<': '>', '<=': '>=', '>=': '<=', '!=': '!=' };

function holds(x: number, op: CrossRule['op'], y: number): boolean {
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>=':
      return x >= y;
    case '!=':
      return x !== y;
  }
}

/** The rule as a requirement on `a` (or, with `fromB`, on `b`), e.g. "must be < consensus.x (3000)". */
export function describeCrossRule(rule: CrossRule, other: number, fromB = false): string {
  const op = fromB ? REVERSED[rule.op] : rule.op;
  const key = fromB ? rule.a : rule.b;
  return op === '!=' ? `must differ from ${key} (${other})` : `must be ${op} ${key} (${other})`;
}

function valueAt(c: Record<string, unknown>, key: string): number {
  const [s, k] = key.split('.') as [string, string];
  return (c[s] as Record<string, number>)[k] ?? 0;
}

export const configSchema = baseSchema.superRefine((c, ctx) => {
  CROSS_RULES.forEach((rule, index) => {
    const va = valueAt(c, rule.a);
    const vb = valueAt(c, rule.b);
    if (rule.zeroExempt && (va === 0 || vb === 0)) return;
    if (holds(va, rule.op, vb)) return;
    ctx.addIssue({
      code: 'custom',
      path: rule.a.split('.'),
      message: describeCrossRule(rule, vb),
      params: { crossRule: index, va, vb },
    });
  });
});

/** The effective configuration. After `loadConfig`, `node.data_dir` is an absolute path. */
export type SwarmConfig = z.output<typeof configSchema>;

/** Every key at its default (`node.data_dir` is '' here: `loadConfig` resolves it). */
export function defaultConfig(): SwarmConfig {
  return configSchema.parse({});
}
