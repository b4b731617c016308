/**
 * The task spec: what a user asks the swarm to run. Validated by hand (not
 * zod) so every error names the field it is about ("count: must be an
 * integer between 1 and 64"), the same text from the CLI, the REST API and
 * a spec file. Pure: no I/O, no clock.
 */
import { SwarmError } from '../common/errors.js';

export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
export const ENERGY_POLICIES = ['any', 'mains-only', 'prefer-mains'] as const;
export type EnergyPolicy = (typeof ENERGY_POLICIES)[number];
/** `minimal` devices never run tasks, so a constraint may only name these. */
export const TASK_DEVICE_CLASSES = ['full', 'standard'] as const;

export const MAX_REPLICAS = 64;
const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Names the supervisor sets itself (docs/tasks.md). */
export const RESERVED_ENV = ['SWARM_TASK', 'SWARM_ALLOC', 'SWARM_NODE', 'SWARM_API'] as const;
/** A spec is stored as one KV value (64 KiB max); the command and env get most of it. */
const MAX_SPEC_BYTES = 32 * 1024;

export interface TaskSpec {
  readonly name: string;
  /** argv: command[0] is looked up in PATH of the node. */
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly count: number;
  readonly constraints: {
    /** Every label must be on the node (`name` or `name=value`, built-in labels included). */
    readonly labels: readonly string[];
    /** Allowed device classes; empty = any class that runs tasks. */
    readonly device_classes: readonly string[];
  };
  readonly restart: RestartPolicy;
  /** First restart delay; doubles after each restart up to backoff_max_ms. */
  readonly backoff_ms: number;
  readonly backoff_max_ms: number;
  /** Restarts of one allocation before it is marked failed (not re-placed). */
  readonly max_restarts: number;
  readonly energy: EnergyPolicy;
  /** Estimated power draw of one replica, watts (0 = unknown/negligible). */
  readonly power_w: number;
  /** Seconds between SIGTERM and SIGKILL when stopping. */
  readonly kill_timeout_s: number;
}

/** A spec that is not valid: `field` names the offending field. Exit 2 / HTTP 400. */
export class TaskSpecError extends SwarmError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('bad_task_spec', `${field}: ${message}`, { exitCode: 2, fields: { field } });
    this.field = field;
  }
}

const KNOWN = new Set([
  'name',
  'command',
  'env',
  'count',
  'constraints',
  'restart',
  'backoff_ms',
  'backoff_max_ms',
  'max_restarts',
  'energy',
  'power_w',
  'kill_timeout_s',
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(o: Record<string, unknown>, f: string, def: number, min: number, max: number): number {
  const v = o[f];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new TaskSpecError(f, `must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function num(o: Record<string, unknown>, f: string, def: number, min: number, max: number): number {
  const v = o[f];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new TaskSpecError(f, `must be a number between ${min} and ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(o: Record<string, unknown>, f: string, all: readonly T[], def: T): T {
  const v = o[f];
  if (v === undefined) return def;
  if (typeof v !== 'string' || !(all as readonly string[]).includes(v))
    throw new TaskSpecError(f, `must be one of ${all.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function strings(v: unknown, f: string, re?: RegExp, what?: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new TaskSpecError(f, 'must be a list of strings');
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new TaskSpecError(`${f}[${i}]`, 'must be a string');
    if (re && !re.test(x))
      throw new TaskSpecError(`${f}[${i}]`, `${JSON.stringify(x)} ${what ?? 'is invalid'}`);
    return x;
  });
}

const CONSTRAINT_LABEL = /^[A-Za-z0-9_.-]{1,32}(=[A-Za-z0-9_.:/-]{1,32})?$/;

/** Check and complete (defaults) a spec from JSON or TOML; throws TaskSpecError naming the field. */
export function parseTaskSpec(input: unknown): TaskSpec {
  if (!isObject(input)) throw new TaskSpecError('spec', 'must be an object (a table in TOML)');
  for (const k of Object.keys(input))
    if (!KNOWN.has(k)) throw new TaskSpecError(k, `unknown field (known: ${[...KNOWN].join(', ')})`);
  const name = input.name;
  if (typeof name !== 'string' || !NAME.test(name))
    throw new TaskSpecError(
      'name',
      'must be 1-63 chars: lowercase letters, digits, _ . - (starting with a letter or digit)',
    );
  const command = input.command;
  if (!Array.isArray(command) || command.length === 0)
    throw new TaskSpecError('command', 'must be a non-empty list of strings (argv)');
  const argv = strings(command, 'command');
  if (argv[0] === '') throw new TaskSpecError('command[0]', 'must not be empty');
  if (argv.some((a) => a.includes('\0'))) throw new TaskSpecError('command', 'must not contain NUL bytes');
  const envIn = input.env ?? {};
  if (!isObject(envIn)) throw new TaskSpecError('env', 'must be a table of NAME = "value" strings');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(envIn)) {
    if (!ENV_NAME.test(k)) throw new TaskSpecError(`env.${k}`, 'is not a valid variable name');
    if ((RESERVED_ENV as readonly string[]).includes(k))
      throw new TaskSpecError(`env.${k}`, 'is set by the supervisor and may not be overridden');
    if (typeof v !== 'string') throw new TaskSpecError(`env.${k}`, 'must be a string');
    if (v.includes('\0')) throw new TaskSpecError(`env.${k}`, 'must not contain NUL bytes');
    env[k] = v;
  }
  const cIn = input.constraints ?? {};
  if (!isObject(cIn))
    throw new TaskSpecError('constraints', 'must be a table with labels and device_classes');
  for (const k of Object.keys(cIn))
    if (k !== 'labels' && k !== 'device_classes')
      throw new TaskSpecError(`constraints.${k}`, 'unknown field (known: labels, device_classes)');
  const labels = strings(cIn.labels, 'constraints.labels', CONSTRAINT_LABEL, 'is not name or name=value');
  const classes = strings(cIn.device_classes, 'constraints.device_classes');
  classes.forEach((c, i) => {
    if (!(TASK_DEVICE_CLASSES as readonly string[]).includes(c))
      throw new TaskSpecError(
        `constraints.device_classes[${i}]`,
        c === 'minimal'
          ? 'minimal devices never run tasks'
          : `must be one of ${TASK_DEVICE_CLASSES.join(', ')}, got ${JSON.stringify(c)}`,
      );
  });
  const backoff = int(input, 'backoff_ms', 1000, 10, 3_600_000);
  const backoffMax = int(input, 'backoff_max_ms', Math.max(60_000, backoff), 10, 3_600_000);
  if (backoffMax < backoff) throw new TaskSpecError('backoff_max_ms', `must be >= backoff_ms (${backoff})`);
  const spec: TaskSpec = {
    name,
    command: argv,
    env,
    count: int(input, 'count', 1, 1, MAX_REPLICAS),
    constraints: { labels, device_classes: classes },
    restart: oneOf(input, 'restart', RESTART_POLICIES, 'on-failure'),
    backoff_ms: backoff,
    backoff_max_ms: backoffMax,
    max_restarts: int(input, 'max_restarts', 10, 0, 1_000_000),
    energy: oneOf(input, 'energy', ENERGY_POLICIES, 'any'),
    power_w: num(input, 'power_w', 0, 0, 10_000),
    kill_timeout_s: num(input, 'kill_timeout_s', 10, 0.1, 600),
  };
  const size = Buffer.byteLength(JSON.stringify(spec));
  if (size > MAX_SPEC_BYTES)
    throw new TaskSpecError('spec', `takes ${size} bytes; at most ${MAX_SPEC_BYTES}`);
  return spec;
}
