/**
 * Loading the effective configuration: defaults <- file <- SWARM_* env <- flags.
 * Every failure is a ConfigError whose message is one line naming where the
 * value came from, the key, the value and the rule it breaks.
 */
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import {
  KEY_SPECS,
  SECTION_NAMES,
  keySpec,
  parseValueText,
  unknownKeyError,
  type ConfigValue,
} from './keys.js';
import { resolveConfigPath, resolveDataDir, type ConfigLocation } from './paths.js';
import { CROSS_RULES, configSchema, describeCrossRule, type CrossRule, type SwarmConfig } from './schema.js';

/** A value set from outside the file, e.g. by a CLI flag; `source` names it in errors (`--api-port`). */
export interface ConfigOverride {
  readonly key: string;
  readonly value: ConfigValue;
  readonly source: string;
}

export interface LoadConfigOptions {
  /** Explicit config file (the global `--config` flag). */
  path?: string;
  env: NodeJS.ProcessEnv;
  overrides?: readonly ConfigOverride[];
  /** Skip SWARM_<SECTION>__<KEY> overrides (used by `config set`, which validates the file alone). */
  ignoreEnv?: boolean;
  cwd?: string;
}

export interface LoadedConfig {
  readonly config: SwarmConfig;
  readonly location: ConfigLocation;
  readonly fileExists: boolean;
  /** Where each explicitly set key came from (file path, env var name or flag). */
  readonly sources: ReadonlyMap<string, string>;
}

type RawConfig = Record<string, Record<string, unknown>>;

export const ENV_PREFIX = 'SWARM_';

/** Parse TOML text; syntax errors become `file:line:col: TOML syntax error: ...`. */
export function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML';
      throw new ConfigError(`${file}:${err.line}:${err.column}: TOML syntax error: ${reason}`, {
        line: err.line,
        column: err.column,
      });
    }
    throw err;
  }
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function show(v: unknown): string {
  if (v === undefined) return '(missing)';
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

/** Copy a parsed file into `raw`, rejecting unknown sections and keys with a suggestion. */
function mergeFile(
  raw: RawConfig,
  doc: Record<string, unknown>,
  file: string,
  sources: Map<string, string>,
): void {
  for (const [sec, body] of Object.entries(doc)) {
    if (!(SECTION_NAMES as readonly string[]).includes(sec)) {
      const firstKey = isTable(body) ? Object.keys(body)[0] : undefined;
      throw unknownKeyError(firstKey ? `${sec}.${firstKey}` : sec, file);
    }
    if (!isTable(body))
      throw new ConfigError(`${file}: ${sec} = ${show(body)}: must be a table [${sec}]`, { key: sec });
    for (const [name, value] of Object.entries(body)) {
      const key = `${sec}.${name}`;
      if (!keySpec(key)) throw unknownKeyError(key, file);
      (raw[sec] ??= {})[name] = value;
      sources.set(key, file);
    }
  }
}

function mergeEnv(raw: RawConfig, env: NodeJS.ProcessEnv, sources: Map<string, string>): void {
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || !name.includes('__') || text === undefined) continue;
    const [sec, key] = name.slice(ENV_PREFIX.length).toLowerCase().split('__', 2) as [string, string];
    const dotted = `${sec}.${key}`;
    const spec = keySpec(dotted);
    if (!spec) throw unknownKeyError(dotted, name);
    // `SWARM_API__PORT=` reads as "not set" (the usual way to blank a variable); strings keep ''.
    if (text.trim() === '' && spec.kind !== 'string' && spec.kind !== 'string[]') continue;
    (raw[sec] ??= {})[key] = parseValueText(spec, text, name);
    sources.set(dotted, name);
  }
}

function mergeOverrides(
  raw: RawConfig,
  overrides: readonly ConfigOverride[],
  sources: Map<string, string>,
): void {
  for (const o of overrides) {
    const spec = keySpec(o.key);
    if (!spec) throw unknownKeyError(o.key, o.source);
    (raw[spec.section] ??= {})[spec.name] = o.value;
    sources.set(o.key, o.source);
  }
}

function lookup(raw: RawConfig, path: readonly PropertyKey[]): unknown {
  let cur: unknown = raw;
  for (const p of path) {
    if (!isTable(cur)) return undefined;
    cur = cur[String(p)];
  }
  return cur;
}

function crossRuleOf(issue: z.core.$ZodIssue): { rule: CrossRule; va: number; vb: number } | null {
  if (issue.code !== 'custom') return null;
  const p = issue.params as { crossRule?: number; va?: number; vb?: number } | undefined;
  const rule = p?.crossRule === undefined ? undefined : CROSS_RULES[p.crossRule];
  return rule ? { rule, va: p?.va ?? 0, vb: p?.vb ?? 0 } : null;
}

/** One line for the first schema issue: `<source>: <key> = <value>: <rule>`. */
function issueToError(
  issue: z.core.$ZodIssue,
  raw: RawConfig,
  sources: ReadonlyMap<string, string>,
  total: number,
): ConfigError {
  // Array element errors (network.join[1]) report the whole key.
  const keyPath = issue.path.filter((p) => typeof p === 'string');
  const key = keyPath.join('.');
  const more = total > 1 ? ` (and ${total - 1} more problem${total > 2 ? 's' : ''})` : '';
  if (issue.code === 'unrecognized_keys') {
    const bad = issue.keys[0] ?? '';
    return unknownKeyError(key ? `${key}.${bad}` : bad, sources.values().next().value ?? '');
  }
  const cross = crossRuleOf(issue);
  if (cross && !sources.has(cross.rule.a) && sources.has(cross.rule.b)) {
    // Blame the key the user actually set, not the default it collides with.
    const msg = describeCrossRule(cross.rule, cross.va, true);
    const where = sources.get(cross.rule.b) ?? '';
    return new ConfigError(`${where ? `${where}: ` : ''}${cross.rule.b} = ${show(cross.vb)}: ${msg}${more}`, {
      key: cross.rule.b,
      value: cross.vb,
    });
  }
  const source = sources.get(key);
  const value = cross ? cross.va : lookup(raw, keyPath);
  return new ConfigError(`${source ? `${source}: ` : ''}${key} = ${show(value)}: ${issue.message}${more}`, {
    key,
    value,
  });
}

/** Validate a raw config object (sections of keys) into a SwarmConfig. */
export function validateRaw(raw: RawConfig, sources: ReadonlyMap<string, string> = new Map()): SwarmConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues;
    const first = issues[0];
    if (first === undefined) throw new ConfigError('invalid configuration');
    throw issueToError(first, raw, sources, issues.length);
  }
  return result.data;
}

/** Read and validate the raw tables of a config file (no env, no defaults); {} when absent. */
export function readConfigFile(path: string): { doc: Record<string, unknown>; text: string | null } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { doc: {}, text: null };
    throw new ConfigError(`${path}: cannot read config file: ${(err as Error).message}`);
  }
  return { doc: parseToml(text, path), text };
}

export function loadConfig(opts: LoadConfigOptions): LoadedConfig {
  const location = resolveConfigPath({ flag: opts.path, env: opts.env, cwd: opts.cwd });
  const sources = new Map<string, string>();
  const raw: RawConfig = {};
  const { doc, text } = readConfigFile(location.path);
  mergeFile(raw, doc, location.path, sources);
  if (!opts.ignoreEnv) mergeEnv(raw, opts.env, sources);
  mergeOverrides(raw, opts.overrides ?? [], sources);
  const config = validateRaw(raw, sources);
  config.node.data_dir = resolveDataDir(config.node.data_dir, location.path);
  return { config, location, fileExists: text !== null, sources };
}

/** Look a dotted key up in an effective config. */
export function getConfigValue(config: SwarmConfig, key: string): ConfigValue | undefined {
  const spec = keySpec(key);
  if (!spec) throw unknownKeyError(key, '');
  const sec = config[spec.section] as Record<string, ConfigValue | undefined>;
  return sec[spec.name];
}

export { KEY_SPECS };
