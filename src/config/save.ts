/**
 * Writing config files: atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory) so a crash or a rejected value never leaves a
 * half-written or invalid file behind. `setConfigKey` edits the one line it
 * changes so the comments of the template survive.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConfigError } from '../common/errors.js';
import { writeFileAtomic } from '../common/atomic-write.js';
import { formatTomlValue, keySpec, parseValueText, unknownKeyError, type ConfigValue } from './keys.js';
import { parseToml, readConfigFile, validateRaw } from './load.js';

export { writeFileAtomic };

const SECTION_RE = /^\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$/;
const ANY_TABLE_RE = /^\s*\[/;

/** Replace or insert `name = value` inside `[section]` of a TOML text, keeping everything else. */
export function editTomlLine(text: string, section: string, name: string, valueText: string): string {
  const lines = text.split('\n');
  const line = `${name} = ${valueText}`;
  const keyRe = new RegExp(`^\\s*${name}\\s*=`);
  let start = -1;
  for (let i = 0; i < lines.length; i++) {
    const m = SECTION_RE.exec(lines[i] ?? '');
    if (m && m[1] === section) {
      start = i;
      break;
    }
  }
  if (start < 0) {
    const sep = text === '' || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
    return `${text}${sep}[${section}]\n${line}\n`;
  }
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    if (ANY_TABLE_RE.test(lines[i] ?? '')) {
      end = i;
      break;
    }
  }
  for (let i = start + 1; i < end; i++) {
    if (keyRe.test(lines[i] ?? '')) {
      lines[i] = line;
      return lines.join('\n');
    }
  }
  let at = end;
  while (at > start + 1 && (lines[at - 1] ?? '').trim() === '') at--;
  lines.splice(at, 0, line);
  return lines.join('\n');
}

export interface SetResult {
  readonly key: string;
  readonly value: ConfigValue;
  readonly created: boolean;
}

/**
 * `config set KEY VALUE`: parse the value for the key's type, validate the
 * whole file with the change, then write atomically. Any error leaves the file
 * untouched. Env overrides are not applied: only what is persisted is checked.
 */
export function setConfigKey(path: string, key: string, valueText: string): SetResult {
  const spec = keySpec(key);
  if (!spec) throw unknownKeyError(key, '');
  const value = parseValueText(spec, valueText, '');
  const { doc, text } = readConfigFile(path);
  const next = structuredClone(doc) as Record<string, Record<string, unknown>>;
  (next[spec.section] ??= {})[spec.name] = value;
  // The key being set is the one to blame when it breaks a rule with another key (no file prefix:
  // the message is about the value just typed).
  const sources = new Map<string, string>([[key, '']]);
  validateRaw(next, sources);

  let out = editTomlLine(text ?? '', spec.section, spec.name, formatTomlValue(spec, value));
  // A line edit cannot handle every TOML layout (dotted keys, multi-line arrays);
  // if it did not produce exactly the intended document, say so rather than guess.
  const reparsed = parseToml(out, path) as Record<string, Record<string, unknown>>;
  if (!isDeepStrictEqual(reparsed[spec.section]?.[spec.name], value)) {
    throw new ConfigError(
      `${path}: cannot update ${key} in place (unusual TOML layout); edit the file by hand`,
      {
        key,
      },
    );
  }
  if (!out.endsWith('\n')) out += '\n';
  writeFileAtomic(path, out);
  return { key, value, created: text === null };
}
