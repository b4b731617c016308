/**
 * What the CLI's fast path (fast.ts) needs from the config, remembered from
 * a full validation: the node's data dir and the API token, keyed by
 * everything loadConfig's answer for them depends on (the config file's path
 * and bytes, every SWARM_* variable, the --data-dir flag, the working
 * directory, the CLI's version and the build of its config modules). Validating the config takes zod and the
 * schema (about 90 ms of CPU on x86, seconds on a Pi Zero); a remembered
 * answer for the same inputs is the same answer, so `swarm kv get` and
 * `swarm node status` skip it from their second run on, and so does a
 * restarted `swarm node start --foreground` (what a service manager runs),
 * which keeps the whole config here. A config that fails
 * validation is never remembered: its error comes from the full path, as before.
 *
 * The memo holds the API token, so it lives where the user's private runtime
 * files live ($XDG_RUNTIME_DIR, else $XDG_CACHE_HOME or ~/.cache), in a
 * directory only the user can enter, in a file only the user can read, and
 * keeps the last MAX_ENTRIES answers. No imports beyond node built-ins: the
 * fast path loads it before anything else.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { StartOptions } from './config-access.js';

const MAX_ENTRIES = 16;
const MEMO_FILE = 'cli-config.json';

export interface ConfigMemo {
  /** node.data_dir, absolute. */
  readonly dataDir: string;
  /** security.api_token ('' for none). */
  readonly token: string;
  /** The whole effective config, for `node start --foreground` (the node runs from it). */
  readonly config?: unknown;
}

/** The inputs of one config load, as both paths see them. */
export interface MemoInputs {
  /** The resolved config file path (resolveConfigPath). */
  readonly configPath: string;
  /** --data-dir as given, or undefined. */
  readonly dataDirFlag: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly version: string;
  /** The command and its other flags, normalized, when they change the answer (`node start`). */
  readonly extra?: string;
}

/** The config file's bytes, or null when there is none (or it cannot be read: the full path reports that). */
export function readConfigBytes(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

/**
 * Size and mtime of the modules that decide what a config means (schema,
 * loader): a rebuild that changes them (a new key, a new default) is a miss
 * even where the version string stayed the same, as between two builds of
 * one development version.
 */
function buildStamp(): string {
  return ['../config/schema.js', '../config/load.js']
    .map((rel) => {
      try {
        const st = statSync(new URL(rel, import.meta.url));
        return `${st.size}:${st.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join(',');
}

export function memoKey(i: MemoInputs, bytes: Buffer | null): string {
  const h = createHash('sha256');
  const part = (s: string): void => {
    h.update(String(s.length));
    h.update(':');
    h.update(s);
  };
  part(i.version);
  part(buildStamp());
  part(i.extra ?? '');
  part(i.cwd);
  part(i.configPath);
  part(i.dataDirFlag === undefined ? '\0' : resolve(i.cwd, i.dataDirFlag));
  for (const k of Object.keys(i.env).sort()) {
    if (k.startsWith('SWARM_')) {
      part(k);
      part(i.env[k] ?? '');
    }
  }
  if (bytes === null) part('\0missing');
  else {
    part('file');
    h.update(bytes);
  }
  return h.digest('hex');
}

/** The user's private directory for the memo; null when none can be named. */
export function memoDir(env: NodeJS.ProcessEnv): string | null {
  // The XDG spec: relative values are invalid and ignored.
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime)) return join(runtime, 'swarm_orchestrator');
  const cache = env.XDG_CACHE_HOME;
  if (cache && isAbsolute(cache)) return join(cache, 'swarm_orchestrator');
  let home = env.HOME;
  if (!home) {
    try {
      home = homedir();
    } catch {
      return null;
    }
  }
  return home ? join(home, '.cache', 'swarm_orchestrator') : null;
}

type MemoFile = Record<string, { d: string; t: string; c?: unknown; at: number }>;

function readMemoFile(dir: string): MemoFile {
  try {
    const v = JSON.parse(readFileSync(join(dir, MEMO_FILE), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as MemoFile) : {};
  } catch {
    return {};
  }
}

export function recallConfig(env: NodeJS.ProcessEnv, key: string): ConfigMemo | null {
  const dir = memoDir(env);
  if (dir === null) return null;
  const e = readMemoFile(dir)[key];
  if (!e || typeof e.d !== 'string' || typeof e.t !== 'string' || !isAbsolute(e.d)) return null;
  return e.c === undefined ? { dataDir: e.d, token: e.t } : { dataDir: e.d, token: e.t, config: e.c };
}

/**
 * Remember a validated answer. Best effort: a memo that cannot be written
 * only means the next run validates again.
 */
export function rememberConfig(env: NodeJS.ProcessEnv, key: string, memo: ConfigMemo): void {
  const dir = memoDir(env);
  if (dir === null) return;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const all = readMemoFile(dir);
    const old = all[key];
    const c = memo.config === undefined ? undefined : JSON.stringify(memo.config);
    if (old && old.d === memo.dataDir && old.t === memo.token && JSON.stringify(old.c) === c) return;
    all[key] = {
      d: memo.dataDir,
      t: memo.token,
      ...(memo.config !== undefined ? { c: memo.config } : {}),
      at: Date.now(),
    };
    const keep = Object.entries(all)
      .sort((a, b) => b[1].at - a[1].at)
      .slice(0, MAX_ENTRIES);
    const tmp = join(dir, `${MEMO_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(keep)), { mode: 0o600 });
    renameSync(tmp, join(dir, MEMO_FILE));
  } catch {
    // not writable here: no memo
  }
}

/**
 * The flags of `node start` that shape its config, normalized, so the fast
 * path (from argv) and commander (from its parsed options) name them alike.
 */
export function startFlagsKey(o: StartOptions): string {
  return JSON.stringify([
    'node start',
    o.name ?? null,
    o.dataDir ?? null,
    o.join ?? null,
    o.gossipPort ?? null,
    o.apiPort ?? null,
    o.raftPort ?? null,
    o.multicast === false,
    o.bootstrap ?? null,
  ]);
}
