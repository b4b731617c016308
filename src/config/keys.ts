/**
 * Flat key catalogue derived from the zod schema, so the template, the docs,
 * env overrides and `config set` cannot drift from the rules. Also the text
 * parsing of a value for a key (env vars and CLI arguments are strings).
 */
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { SECTIONS, type SectionName } from './schema.js';

export type KeyKind = 'integer' | 'number' | 'boolean' | 'string' | 'string[]';

export type ConfigValue = string | number | boolean | string[];

export interface KeySpec {
  /** Dotted key, e.g. `gossip.fanout`. */
  readonly key: string;
  readonly section: SectionName;
  readonly name: string;
  readonly kind: KeyKind;
  /** undefined for optional keys without a default (e.g. `energy.power_budget_watts`). */
  readonly default: ConfigValue | undefined;
  readonly description: string;
  /** Allowed values for enum keys. */
  readonly choices?: readonly string[];
}

function kindOf(t: z.ZodType): { kind: KeyKind; choices?: readonly string[] } {
  if (t instanceof z.ZodNumber) return { kind: t.isInt ? 'integer' : 'number' };
  if (t instanceof z.ZodBoolean) return { kind: 'boolean' };
  if (t instanceof z.ZodEnum) return { kind: 'string', choices: t.options.map(String) };
  if (t instanceof z.ZodArray) return { kind: 'string[]' };
  return { kind: 'string' };
}

function buildSpecs(): KeySpec[] {
  const out: KeySpec[] = [];
  for (const [section, obj] of Object.entries(SECTIONS) as [SectionName, z.ZodObject][]) {
    for (const [name, field] of Object.entries(obj.shape) as [string, z.ZodType][]) {
      let inner: z.ZodType = field;
      let def: ConfigValue | undefined;
      if (inner instanceof z.ZodDefault) {
        def = inner.def.defaultValue as ConfigValue;
        inner = inner.unwrap() as z.ZodType;
      }
      if (inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
      out.push({
        key: `${section}.${name}`,
        section,
        name,
        ...kindOf(inner),
        default: def,
        description: field.description ?? '',
      });
    }
  }
  return out;
}

export const KEY_SPECS: readonly KeySpec[] = buildSpecs();
const BY_KEY = new Map(KEY_SPECS.map((s) => [s.key, s]));
export const SECTION_NAMES: readonly SectionName[] = Object.keys(SECTIONS) as SectionName[];

export function keySpec(key: string): KeySpec | undefined {
  return BY_KEY.get(key);
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** The closest candidate within a third of the word's length, for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.ceil(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

/** ConfigError for an unknown dotted key, with a suggestion when one is close. */
export function unknownKeyError(key: string, source: string): ConfigError {
  const [sec, ...rest] = key.split('.');
  const name = rest.join('.');
  const prefix = source ? `${source}: ` : '';
  if (sec === undefined || !(SECTION_NAMES as readonly string[]).includes(sec)) {
    const guess = closest(sec ?? '', SECTION_NAMES);
    const full = guess && name ? closest(`${guess}.${name}`, [...BY_KEY.keys()]) : undefined;
    const hint = full ? ` (did you mean ${full}?)` : guess ? ` (did you mean [${guess}]?)` : '';
    return new ConfigError(`${prefix}unknown section [${sec ?? ''}] in key ${key}${hint}`, { key });
  }
  const names = KEY_SPECS.filter((s) => s.section === sec).map((s) => s.name);
  const guess = closest(name, names) ?? closest(key, [...BY_KEY.keys()])?.split('.')[1];
  const hint = guess ? ` (did you mean ${sec}.${guess}?)` : '';
  return new ConfigError(`${prefix}unknown key ${key}${hint}`, { key });
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * Parse a text value (env var, CLI argument) into the key's type. Type errors
 * are reported here with the key, value and rule; range rules are the schema's.
 */
export function parseValueText(spec: KeySpec, text: string, source: string): ConfigValue {
  const fail = (rule: string): ConfigError =>
    new ConfigError(`${source ? `${source}: ` : ''}${spec.key} = ${JSON.stringify(text)}: ${rule}`, {
      key: spec.key,
      value: text,
    });
  const t = text.trim();
  switch (spec.kind) {
    case 'integer':
      if (!/^[-+]?\d+$/.test(t)) throw fail('must be an integer');
      return Number(t);
    case 'number': {
      const n = Number(t);
      if (t === '' || !Number.isFinite(n)) throw fail('must be a number');
      return n;
    }
    case 'boolean':
      if (TRUE.has(t.toLowerCase())) return true;
      if (FALSE.has(t.toLowerCase())) return false;
      throw fail('must be true or false');
    case 'string[]':
      if (t.startsWith('[')) {
        try {
          const v: unknown = JSON.parse(t);
          if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
        } catch {
          // fall through to the error below
        }
        throw fail('must be a JSON list of strings or a comma-separated list');
      }
      return t === ''
        ? []
        : t
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '');
    case 'string':
      return text;
  }
}

/** A value as TOML source text (floats keep a decimal point so the file reads as intended). */
export function formatTomlValue(spec: KeySpec, v: ConfigValue): string {
  if (Array.isArray(v)) return `[${v.map((s) => JSON.stringify(s)).join(', ')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' && spec.kind === 'number' && Number.isInteger(v)) return `${v}.0`;
  return String(v);
}
