/**
 * The fast path of the hottest short-lived commands, `swarm kv get KEY` and
 * `swarm node status` (agents script them; issue #16 wants them within 1.6x
 * of `node -e 0`), and of `swarm node stop`, whose own start-up runs beside
 * the leader hand-over it asks for: the full program's 300-400 ms of CPU
 * doubled the median write latency through a survivor while it ran and
 * stretched the hand-over's write gap to 30-50 ms (docs/raft-runtime.md,
 * "Stop"). The full program costs commander, the command modules,
 * zod with the config schema and the response schemas, and fetch's HTTP
 * stack (undici): most of 500 ms on this machine, seconds on a Pi Zero. Here:
 * node built-ins, the config as last validated for the same inputs
 * (config-memo.ts), the data dir's lock and node.json, one HTTP/1.1
 * request over a node:net socket (get()); `npm run build` bundles it into one
 * CommonJS file (scripts/bundle-cli-fast.mjs).
 *
 * It answers only what it can answer exactly as the full program would: the
 * plain forms of the two commands (see parse()), a config remembered from a
 * full validation, a running node that publishes its API URL, and an answer
 * of the documented shape, or one of the failures whose one line it prints
 * with the same error classes (an error status with a JSON body, a refused
 * connection, a timeout). Anything else returns null before anything is written, and
 * bin/swarm.js runs the full program, which does it all again (the two
 * reading commands only read) and prints what it always printed. `node stop`
 * returns null only before its request leaves; from then on it finishes the
 * stop itself (stopNode).
 */
import { lazyBuiltin } from '../common/builtins.js';
import { reportFailure } from '../common/errors.js';
import { resolveConfigPath } from '../config/paths.js';
import { ApiRequestError, NodeUnreachableError, UnauthorizedError, errorBody } from '../client/errors.js';
import type { StatusResponse } from '../api/types.js';
import {
  awaitStopped,
  isAlive,
  readLock,
  readRuntime,
  STOP_WAIT_MS,
  type ProcessRef,
} from '../node/datadir.js';
import { VERSION } from '../version.js';
import type { SwarmConfig } from '../config/schema.js';
import type { StartOptions } from './config-access.js';
import { memoKey, readConfigBytes, recallConfig, startFlagsKey } from './config-memo.js';
import { formatStatus } from './status-format.js';

/** The client's default per-request timeout (client.ts). */
const TIMEOUT_MS = 5000;

interface Parsed {
  readonly command: 'kv get' | 'node status' | 'node stop';
  readonly config: string | undefined;
  readonly dataDir: string | undefined;
  readonly api: string | undefined;
  readonly json: boolean;
  readonly stale: boolean;
  readonly key: string;
}

/**
 * The plain forms only: `[-c|--config FILE] kv get KEY [--stale] [--json]
 * [--data-dir DIR] [--api URL]` and `[-c|--config FILE] node status
 * [--data-dir DIR]` and `[-c|--config FILE] node stop [--data-dir DIR]`, each
 * option at most once, no empty values, no `=`
 * forms. Anything else (help, a typo, an option the full program would
 * reject or read differently) is for the full program.
 */
export function parseFast(args: readonly string[]): Parsed | null {
  const words: string[] = [];
  const opts = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c' || a === '--config' || a === '--data-dir' || a === '--api') {
      const name = a === '-c' ? '--config' : a;
      const v = args[i + 1];
      // The global option is the program's: before the command words only.
      if (name === '--config' && words.length > 0) return null;
      if (v === undefined || v === '' || v.startsWith('-') || opts.has(name)) return null;
      opts.set(name, v);
      i++;
    } else if (a === '--json' || a === '--stale') {
      if (flags.has(a)) return null;
      flags.add(a);
    } else if (a.startsWith('-') || a === '') {
      return null;
    } else {
      words.push(a);
    }
  }
  const common = {
    config: opts.get('--config'),
    dataDir: opts.get('--data-dir'),
    api: opts.get('--api'),
    json: flags.has('--json'),
    stale: flags.has('--stale'),
  };
  if (words.length === 3 && words[0] === 'kv' && words[1] === 'get')
    return { command: 'kv get', key: words[2]!, ...common };
  if (words.length === 2 && words[0] === 'node' && (words[1] === 'status' || words[1] === 'stop')) {
    // `--json` prints the schema-checked object (defaults filled, unknown fields dropped): full program.
    if (common.api !== undefined || common.json || common.stale) return null;
    return { command: words[1] === 'stop' ? 'node stop' : 'node status', key: '', ...common };
  }
  return null;
}

interface Answer {
  status: number;
  body: string;
}

const START_VALUE_OPTIONS: Readonly<Record<string, keyof StartOptions>> = {
  '--name': 'name',
  '--data-dir': 'dataDir',
  '--join': 'join',
  '--gossip-port': 'gossipPort',
  '--api-port': 'apiPort',
  '--raft-port': 'raftPort',
};

/**
 * `[-c|--config FILE] node start --foreground [--name N] [--data-dir D]
 * [--join PEERS] [--gossip-port P] [--api-port P] [--raft-port P]
 * [--no-multicast] [--bootstrap [N]]`, each at most once, no empty values,
 * no `=` forms: the config file and the options as commander would parse them.
 */
export function parseFastStart(
  args: readonly string[],
): { config: string | undefined; opts: StartOptions } | null {
  const words: string[] = [];
  let config: string | undefined;
  const opts: StartOptions = {};
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    const isValue = next !== undefined && next !== '' && !next.startsWith('-');
    if (a === '-c' || a === '--config') {
      if (words.length > 0 || config !== undefined || !isValue) return null;
      config = next;
      i++;
      continue;
    }
    if (a.startsWith('-') && seen.has(a)) return null;
    seen.add(a);
    const key = START_VALUE_OPTIONS[a];
    if (key !== undefined) {
      if (!isValue) return null;
      (opts as Record<string, string>)[key] = next;
      i++;
    } else if (a === '--foreground') opts.foreground = true;
    else if (a === '--no-multicast') opts.multicast = false;
    else if (a === '--bootstrap') {
      if (isValue && words.length >= 2) {
        opts.bootstrap = next;
        i++;
      } else opts.bootstrap = true;
    } else if (a.startsWith('-') || a === '') return null;
    else words.push(a);
  }
  if (words.length !== 2 || words[0] !== 'node' || words[1] !== 'start' || opts.foreground !== true)
    return null;
  return { config, opts };
}

// Loaded on first use, not with this module: on the foreground path this process is a node, which
// has no use for it; and required, not imported: see scripts/bundle-cli-fast.mjs.
const netModule = lazyBuiltin<typeof import('node:net')>('node:net');

/**
 * One request; a failure the full program words the same way is thrown as its error, any other is null.
 *
 * HTTP/1.1 over a plain node:net socket rather than node:http: the client half of node:http (its
 * module, the agent, the request and the response parser) cost a cold process 5-6 ms on this
 * machine, against a daemon answer of 1-5 ms (bench/cli-start.bench.ts). `Connection: close`
 * makes the server end the answer with the connection; a body of Content-Length bytes, chunked,
 * or up to the close is read; a reply this does not read exactly (an interim 1xx, a malformed
 * head, a short body) is null: the full program's.
 */
async function get(
  baseUrl: string,
  path: string,
  token: string,
  post?: { body: string; timeoutMs: number },
): Promise<Answer | null> {
  let url: URL;
  try {
    url = new URL(`${baseUrl}${path}`);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' || url.username !== '' || url.password !== '') return null;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? 80 : Number(url.port);
  const body = post === undefined ? undefined : Buffer.from(post.body, 'utf8');
  let head =
    `${post ? 'POST' : 'GET'} ${url.pathname}${url.search} HTTP/1.1\r\n` +
    `Host: ${url.host}\r\nAccept: application/json\r\nConnection: close\r\n`;
  if (token) head += `Authorization: Bearer ${token}\r\n`;
  if (body) head += `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
  head += '\r\n';
  const timeoutMs = post?.timeoutMs ?? TIMEOUT_MS;
  const net = netModule();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (a: Answer | null, e?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(whole);
      sock.destroy();
      if (e) reject(e);
      else resolve(a);
    };
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    // Bounds the whole request, as the full client's AbortSignal does, so a daemon that trickles
    // bytes cannot hold the command (an idle timeout of the same length could never fire first).
    const whole = setTimeout(() => done(null, new NodeUnreachableError(baseUrl, 'timed out')), timeoutMs);
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED')
        done(null, new NodeUnreachableError(baseUrl, 'connection refused', err));
      else done(null);
    });
    sock.on('connect', () => {
      sock.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head);
    });
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      const a = parseResponse(Buffer.concat(chunks), false);
      if (a !== undefined) done(a);
    });
    sock.on('end', () => {
      const a = parseResponse(Buffer.concat(chunks), true);
      done(a === undefined ? null : a);
    });
    sock.on('close', () => done(null));
  });
}

/**
 * The answer in `buf` once it is complete (null: one this does not read), undefined while more
 * is to come; `ended`: the server closed the connection after `buf`.
 */
export function parseResponse(buf: Buffer, ended: boolean): Answer | null | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return ended ? null : undefined;
  const lines = buf.toString('latin1', 0, headEnd).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
  if (m === null) return null;
  const status = Number(m[1]);
  if (status < 200) return null;
  let length: number | undefined;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value))) return null;
      length = Number(value);
    } else if (name === 'transfer-encoding') {
      if (value.toLowerCase() !== 'chunked') return null;
      chunked = true;
    }
  }
  let rest = buf.subarray(headEnd + 4);
  if (chunked) {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol < 0) return ended ? null : undefined;
      const size = /^([0-9a-fA-F]+)(?:;.*)?$/.exec(rest.toString('latin1', 0, eol));
      if (size === null) return null;
      const n = parseInt(size[1]!, 16);
      if (n === 0) return { status, body: Buffer.concat(parts).toString('utf8') };
      if (rest.length < eol + 2 + n + 2) return ended ? null : undefined;
      // Each chunk's data ends in CRLF; anything else is a stream this does not read exactly.
      if (rest[eol + 2 + n] !== 13 || rest[eol + 3 + n] !== 10) return null;
      parts.push(rest.subarray(eol + 2, eol + 2 + n));
      rest = rest.subarray(eol + 2 + n + 2);
    }
  }
  if (length !== undefined) {
    if (rest.length < length) return ended ? null : undefined;
    return { status, body: rest.toString('utf8', 0, length) };
  }
  return ended ? { status, body: rest.toString('utf8') } : undefined;
}

/** The client's timeout for the shutdown request (stopDaemon). */
const SHUTDOWN_TIMEOUT_MS = 3000;

/**
 * `node stop` of a running node that publishes its API: ask it to stop over
 * the API, and wait until the process has exited, as stopDaemon does. Once
 * the request may have left, this path owns the outcome (handing back to the
 * full program could find the node already gone and report "no node running"
 * for a stop that worked): a node that did not accept it (refused connection,
 * a timeout, an error status, another answer) gets SIGTERM, stopDaemon's
 * fallback, which a node that did accept treats as the same request
 * (SwarmNode.requestShutdown).
 */
async function stopNode(
  baseUrl: string,
  token: string,
  ref: ProcessRef,
  name: string,
  out: { write(s: string): unknown },
): Promise<number> {
  let accepted = false;
  try {
    const a = await get(baseUrl, '/v1/shutdown', token, {
      body: '{"reason":"cli"}',
      timeoutMs: SHUTDOWN_TIMEOUT_MS,
    });
    if (a !== null && a.status >= 200 && a.status <= 299) {
      const json = JSON.parse(a.body) as unknown;
      accepted = isObj(json) && json.status === 'stopping' && typeof json.id === 'string';
    }
  } catch {
    // not accepted: the signal below
  }
  if (!accepted && isAlive(ref)) {
    try {
      process.kill(ref.pid, 'SIGTERM');
    } catch {
      // exited meanwhile
    }
  }
  await awaitStopped(ref, STOP_WAIT_MS, STOP_POLL_MS);
  out.write(`Stopped node ${name || '(unnamed)'} (PID ${ref.pid})\n`);
  return 0;
}

/** How often `node stop` looks whether the process has exited. */
const STOP_POLL_MS = 20;

/**
 * The JSON of a 2xx answer; the client's errors for a 4xx or 5xx with a JSON
 * body (thrown); undefined for anything else (a body that is not JSON, a
 * redirect fetch would follow): the full program's.
 */
function answerJson(a: Answer): unknown {
  let json: unknown;
  try {
    json = JSON.parse(a.body) as unknown;
  } catch {
    return undefined;
  }
  if (a.status >= 300 && a.status < 400) return undefined;
  if (a.status < 200 || a.status > 299) {
    const e = errorBody(json);
    const message = e ? e.message : `HTTP ${a.status}`;
    if (a.status === 401) throw new UnauthorizedError(message);
    throw new ApiRequestError(a.status, e ? e.code : `http_${a.status}`, message);
  }
  return json;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const strOrNull = (v: unknown): boolean => v === null || typeof v === 'string';

/** The fields formatStatus prints, with the types the status schema gives them. */
function printableStatus(v: unknown): v is StatusResponse {
  if (!isObj(v)) return false;
  const { addresses: ad, security: sec } = v;
  return (
    ['id', 'name', 'device_class', 'role', 'version', 'data_dir'].every((k) => typeof v[k] === 'string') &&
    ['term', 'uptime_s', 'pid'].every((k) => typeof v[k] === 'number') &&
    strOrNull(v.leader) &&
    (v.waiting === undefined || strOrNull(v.waiting)) &&
    (v.cluster === undefined || strOrNull(v.cluster)) &&
    isObj(ad) &&
    strOrNull(ad.api) &&
    strOrNull(ad.gossip) &&
    strOrNull(ad.raft) &&
    isObj(sec) &&
    typeof sec.gossip_encrypted === 'boolean' &&
    (sec.note === undefined || typeof sec.note === 'string')
  );
}

/**
 * Run `argv` (process.argv) on the fast path: the exit code, or null when the
 * full program must run (nothing has been written then).
 */
export async function fastMain(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: { write(s: string): unknown } = process.stdout,
  err: { write(s: string): unknown } = process.stderr,
): Promise<number | null> {
  const cwd = process.cwd();
  const start = parseFastStart(argv.slice(2));
  // On a terminal the foreground node draws its dashboard: the full program's.
  if (start !== null && process.stdout.isTTY !== true) {
    const configPath = resolveConfigPath({ flag: start.config, env, cwd }).path;
    const key = memoKey(
      { configPath, dataDirFlag: undefined, env, cwd, version: VERSION, extra: startFlagsKey(start.opts) },
      readConfigBytes(configPath),
    );
    const config = recallConfig(env, key)?.config;
    if (config === undefined) return null;
    // What the full program's `node start --foreground` runs, from the config it validated last time.
    // From here on this process is the node: a failure is reported, never handed to the full program.
    try {
      const bundled = (await import('./foreground-bundle.js')).runBundledNode(config as SwarmConfig);
      if (bundled !== null) return await bundled;
      const { exitSoonAfterStop, runNodeProcess } = await import('./node-runtime.js');
      const code = await runNodeProcess(config as SwarmConfig);
      exitSoonAfterStop();
      return code;
    } catch (e) {
      return reportFailure(e, err);
    }
  }
  const p = parseFast(argv.slice(2));
  if (p === null) return null;
  const configPath = resolveConfigPath({ flag: p.config, env, cwd }).path;
  // `kv get --api URL` reads the config without the --data-dir override (commands/kv.ts).
  const dataDirFlag = p.api !== undefined ? undefined : p.dataDir;
  const key = memoKey({ configPath, dataDirFlag, env, cwd, version: VERSION }, readConfigBytes(configPath));
  const memo = recallConfig(env, key);
  if (memo === null) return null;
  let baseUrl: string;
  if (p.api !== undefined) {
    baseUrl = p.api;
  } else {
    const lock = readLock(memo.dataDir);
    if (lock === null || !isAlive(lock)) return null;
    const rt = readRuntime(memo.dataDir);
    if (rt === null || rt.pid !== lock.pid || !rt.api_url) return null;
    baseUrl = rt.api_url;
    if (p.command === 'node stop') {
      try {
        return await stopNode(baseUrl.replace(/\/+$/, ''), memo.token, lock, rt.name, out);
      } catch (e) {
        return reportFailure(e, err);
      }
    }
  }
  baseUrl = baseUrl.replace(/\/+$/, '');
  const path =
    p.command === 'kv get'
      ? `/v1/kv/${encodeURIComponent(p.key)}${p.stale ? '?consistency=stale' : ''}`
      : '/v1/status';
  try {
    const a = await get(baseUrl, path, memo.token);
    if (a === null) return null;
    const json = answerJson(a);
    if (json === undefined) return null;
    if (p.command === 'node status') {
      if (!printableStatus(json)) return null;
      // The schema's defaults for fields older nodes do not send.
      out.write(formatStatus({ ...json, waiting: json.waiting ?? null, cluster: json.cluster ?? null }));
      return 0;
    }
    if (
      !isObj(json) ||
      typeof json.key !== 'string' ||
      typeof json.revision !== 'number' ||
      !('value' in json)
    )
      return null;
    // The schema's order (key, value, revision), unknown fields dropped, as the client returns it.
    const r = { key: json.key, value: json.value, revision: json.revision };
    const text = p.json ? JSON.stringify(r) : typeof r.value === 'string' ? r.value : JSON.stringify(r.value);
    out.write(text.endsWith('\n') ? text : `${text}\n`);
    return 0;
  } catch (e) {
    return reportFailure(e, err);
  }
}
