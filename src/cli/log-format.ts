/**
 * How `swarm logs` reads the node's JSON log lines (src/node/log.ts:
 * `{ts, level, component, msg, ...fields}`): parse, filter by level and
 * component, and render one readable line. Lines that are not such JSON
 * (a `swarm: ...` line the daemon wrote before its logger existed) are kept
 * as they are: they are usually the reason a node did not start.
 */
export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type Level = (typeof LEVELS)[number];

export interface LogRecord {
  ts: string;
  level: Level;
  component: string;
  msg: string;
  fields: Record<string, unknown>;
}

export interface LogFilter {
  /** Lowest level shown. */
  level?: Level;
  /**
   * A component name: `energy` matches `node.energy` and `node.energy.sensors`;
   * `raft` also matches messages that start with "raft " (logged under `node`).
   */
  component?: string;
}

export function isLevel(s: string): s is Level {
  return (LEVELS as readonly string[]).includes(s);
}

/** A log record, or null when the line is not one of the node's JSON lines. */
export function parseLogLine(line: string): LogRecord | null {
  if (!line.startsWith('{')) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { ts, level, component, msg, ...fields } = v as Record<string, unknown>;
  if (typeof ts !== 'string' || typeof level !== 'string' || !isLevel(level) || typeof msg !== 'string')
    return null;
  return { ts, level, component: typeof component === 'string' ? component : '', msg, fields };
}

export function componentMatches(component: string, wanted: string): boolean {
  if (component === wanted || component.startsWith(`${wanted}.`)) return true;
  // `energy` names the node's energy component wherever it sits in the dotted path.
  const parts = component.split('.');
  const want = wanted.split('.');
  for (let i = 0; i + want.length <= parts.length; i++)
    if (want.every((w, j) => parts[i + j] === w)) return true;
  return false;
}

/** The Raft component logs as `node` with messages that start with its name ("raft role ..."). */
function msgNames(msg: string, wanted: string): boolean {
  return msg === wanted || msg.startsWith(`${wanted} `);
}

/** Whether a line passes the filter: a non-JSON line passes a level filter but not a component one. */
export function passes(rec: LogRecord | null, f: LogFilter): boolean {
  if (rec === null) return f.component === undefined;
  if (f.level !== undefined && LEVELS.indexOf(rec.level) < LEVELS.indexOf(f.level)) return false;
  if (
    f.component !== undefined &&
    !componentMatches(rec.component, f.component) &&
    !msgNames(rec.msg, f.component)
  )
    return false;
  return true;
}

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

const COLORS: Record<Level, [string, string]> = {
  debug: ['\x1b[2m', '\x1b[22m'],
  info: ['', ''],
  warn: ['\x1b[33m', '\x1b[39m'],
  error: ['\x1b[31m', '\x1b[39m'],
};

/**
 * `2026-12-07 07:12:48.111Z  WARN  node.energy  energy sample failed  error="EIO: ..."`:
 * time (UTC, as logged), level, component, message, then the fields as key=value.
 */
export function formatRecord(rec: LogRecord, opts: { color?: boolean } = {}): string {
  const time = rec.ts.replace('T', ' ');
  const level = rec.level.toUpperCase().padEnd(5);
  const fields = Object.entries(rec.fields)
    .map(([k, v]) => `${k}=${fieldValue(v)}`)
    .join(' ');
  const text = `${time}  ${level}  ${rec.component}  ${rec.msg}${fields ? `  ${fields}` : ''}`;
  if (!opts.color) return text;
  const [on, off] = COLORS[rec.level];
  return `${on}${text}${off}`;
}
