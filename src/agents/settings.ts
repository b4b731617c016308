/**
 * Agent settings from flags and the environment of the original demo
 * (AGENT_ID, PORT, PEERS), flags winning. Validated once, with messages that
 * name the setting, so a typo fails at start rather than mid-run.
 */
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { defaultDataDir } from './store.js';

export interface AgentSettings {
  id: string;
  host: string;
  port: number;
  peers: string[];
  dataDir: string;
  minValue: number;
  maxValue: number;
  /** Wait window of a round before the next one starts. */
  waitMs: number;
  /** Timeout of one call to a peer. */
  timeoutMs: number;
}

export interface AgentFlags {
  id?: string;
  host?: string;
  port?: string;
  peers?: string;
  dataDir?: string;
  values?: string;
  waitMs?: string;
  timeoutMs?: string;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 5001,
  minValue: 1,
  maxValue: 3,
  waitMs: 500,
  timeoutMs: 1000,
} as const;

const schema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." or "-", at most 64'),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  peers: z.array(z.url({ protocol: /^https?$/ })),
  dataDir: z.string().min(1),
  minValue: z.number().int(),
  maxValue: z.number().int(),
  waitMs: z.number().int().min(10).max(600_000),
  timeoutMs: z.number().int().min(10).max(600_000),
});

function num(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v))
    throw new ConfigError(`${name} must be an integer, got "${raw}"`, { key: name, value: raw });
  return v;
}

/** "1..3" (the default range) or a single "a..b" pair. */
export function parseValues(raw: string): { minValue: number; maxValue: number } {
  const m = /^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$/.exec(raw);
  if (!m) throw new ConfigError(`values must look like 1..3, got "${raw}"`, { key: 'values', value: raw });
  const minValue = Number(m[1]);
  const maxValue = Number(m[2]);
  if (minValue > maxValue)
    throw new ConfigError(`values range ${raw} is empty`, { key: 'values', value: raw });
  return { minValue, maxValue };
}

export function resolveSettings(flags: AgentFlags, env: NodeJS.ProcessEnv): AgentSettings {
  const id = flags.id ?? env.AGENT_ID;
  if (!id) throw new ConfigError('agent id is required: --id or AGENT_ID', { key: 'AGENT_ID' });
  const peersRaw = flags.peers ?? env.PEERS ?? '';
  const values = parseValues(
    flags.values ?? env.AGENT_VALUES ?? `${DEFAULTS.minValue}..${DEFAULTS.maxValue}`,
  );
  const candidate = {
    id,
    host: flags.host ?? env.AGENT_HOST ?? DEFAULTS.host,
    port: num(flags.port ?? env.PORT, DEFAULTS.port, 'PORT'),
    peers: peersRaw
      .split(',')
      .map((p) => p.trim().replace(/\/+$/, ''))
      .filter((p) => p.length > 0),
    dataDir: flags.dataDir ?? env.AGENT_DATA_DIR ?? defaultDataDir(id, env),
    ...values,
    waitMs: num(flags.waitMs ?? env.AGENT_WAIT_MS, DEFAULTS.waitMs, 'AGENT_WAIT_MS'),
    timeoutMs: num(flags.timeoutMs ?? env.AGENT_TIMEOUT_MS, DEFAULTS.timeoutMs, 'AGENT_TIMEOUT_MS'),
  };
  const r = schema.safeParse(candidate);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = issue ? issue.path.join('.') : 'agent';
    throw new ConfigError(`agent setting ${key}: ${issue?.message ?? 'invalid'}`, { key });
  }
  return r.data;
}
