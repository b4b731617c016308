/**
 * The effective configuration a detached daemon runs with, handed over by the
 * CLI process that spawns it. That process has already merged and validated
 * file, SWARM_* env and flags; the daemon reads the result as plain JSON, so it
 * never loads the config schema (zod, about 6 MB of private memory) nor the
 * command-line parser.
 *
 * A file rather than an env var or a pipe: it is written atomically before the
 * spawn, so the daemon reads it with one synchronous call whatever its stdin
 * is; it holds secrets (security.swarm_key, api_token), so it is mode 0600
 * like the config file itself, where /proc/<pid>/environ would show an env var
 * for the daemon's whole life; and it stays in the data dir as a record of
 * what the running node was started with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';
import { ConfigError } from '../common/errors.js';
import type { SwarmConfig } from '../config/schema.js';
import { VERSION } from '../version.js';

export const RESOLVED_CONFIG_FILE = 'config.resolved.json';
/** Bumped whenever the file's layout changes; a daemon reads only its own format. */
export const RESOLVED_CONFIG_FORMAT = 1;

const SECTIONS = [
  'network',
  'gossip',
  'consensus',
  'node',
  'metrics',
  'energy',
  'adaptive_gossip',
  'api',
  'raft',
  'security',
  'logging',
] as const satisfies readonly (keyof SwarmConfig)[];

interface ResolvedConfigFile {
  readonly format: number;
  /** The SwarmConfig shape belongs to one package version: an upgrade between write and read must not be trusted. */
  readonly swarm_version: string;
  readonly config: SwarmConfig;
}

/** Write `<dataDir>/config.resolved.json` (mode 0600 even over an older file) and return its path. */
export function writeResolvedConfig(dataDir: string, config: SwarmConfig): string {
  const path = join(dataDir, RESOLVED_CONFIG_FILE);
  const file: ResolvedConfigFile = { format: RESOLVED_CONFIG_FORMAT, swarm_version: VERSION, config };
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600, false);
  return path;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Read a handed-over config; anything unreadable, foreign or from another version is a ConfigError (exit 2). */
export function readResolvedConfig(path: string): SwarmConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the resolved config: ${(err as Error).message}`);
  }
  const restart = 'start the node with `swarm node start` again';
  if (!isObject(doc) || doc.format !== RESOLVED_CONFIG_FORMAT || doc.swarm_version !== VERSION) {
    const f = isObject(doc) ? doc : {};
    throw new ConfigError(
      `${path}: resolved config of format ${JSON.stringify(f.format)} from swarm ${JSON.stringify(f.swarm_version)}; ` +
        `this daemon (swarm ${VERSION}) reads format ${RESOLVED_CONFIG_FORMAT} of its own version only: ${restart}`,
    );
  }
  const config = doc.config;
  const missing = isObject(config) ? SECTIONS.find((s) => !isObject(config[s])) : 'config';
  if (missing !== undefined)
    throw new ConfigError(`${path}: resolved config lacks its [${missing}] section: ${restart}`);
  return config as unknown as SwarmConfig;
}
