/**
 * Structured logger: one JSON object per line, {ts, level, component, msg, ...fields}.
 * In the foreground the sink is stderr; as a daemon stderr is node.log, so the
 * same lines land in the file without a second code path.
 */
import { isoUtc } from '../common/utc-time.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger for a sub-component sharing the sink and level. */
  child(component: string): Logger;
}

export interface LogSink {
  write(line: string): unknown;
}

function serialize(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function createLogger(opts: {
  sink: LogSink;
  level?: LogLevel;
  component?: string;
  clock?: () => number;
}): Logger {
  const min = RANK[opts.level ?? 'info'];
  const clock = opts.clock ?? Date.now;
  const make = (component: string): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (RANK[level] < min) return;
      const rec: Record<string, unknown> = { ts: isoUtc(clock()), level, component, msg };
      if (fields) for (const [k, v] of Object.entries(fields)) if (!(k in rec)) rec[k] = serialize(v);
      try {
        opts.sink.write(`${JSON.stringify(rec)}\n`);
      } catch {
        // a log line must never take the node down (e.g. EPIPE on a closed stderr)
      }
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (c) => make(component ? `${component}.${c}` : c),
    };
  };
  return make(opts.component ?? 'node');
}

/** A logger that drops everything (tests, library use without logs). */
export const nullLogger: Logger = createLogger({ sink: { write: () => undefined }, level: 'error' });
