/**
 * `swarm logs`: the node's log (node.log in its data dir, JSON lines) as
 * readable lines, filtered by level and component; `--follow` keeps printing
 * what the node appends (and starts over when the file is truncated or
 * replaced); `--file -` reads stdin, e.g. `journalctl -u iot-swarm -o cat | swarm logs --file -`.
 */
import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import type { CliContext, Registrar } from '../context.js';

interface LogsOptions {
  follow?: boolean;
  level?: string;
  component?: string;
  lines?: string;
  file?: string;
  dataDir?: string;
  json?: boolean;
}

/** How often `--follow` looks for new lines: quick enough to feel live, idle otherwise. */
const FOLLOW_POLL_MS = 250;
/** Bytes read at once while following: a burst of lines never needs more memory than this. */
const CHUNK = 256 * 1024;

async function run(ctx: CliContext, opts: LogsOptions): Promise<void> {
  const [fmt, fs, { join, resolve }, { createInterface }] = await Promise.all([
    import('../log-format.js'),
    import('node:fs'),
    import('node:path'),
    import('node:readline'),
  ]);
  if (opts.level !== undefined && !fmt.isLevel(opts.level))
    throw new UsageError(
      `--level must be one of ${fmt.LEVELS.join(', ')} (got ${JSON.stringify(opts.level)})`,
    );
  let lines: number | null = null;
  if (opts.lines !== undefined) {
    lines = Number(opts.lines);
    if (!Number.isInteger(lines) || lines < 0)
      throw new UsageError(`--lines must be a whole number (got ${opts.lines})`);
  }
  const filter = {
    ...(opts.level !== undefined ? { level: opts.level as (typeof fmt.LEVELS)[number] } : {}),
    ...(opts.component !== undefined ? { component: opts.component } : {}),
  };
  const out = ctx.stdout as NodeJS.WriteStream;
  const color = out.isTTY === true && !ctx.env.NO_COLOR;
  const render = (line: string): string | null => {
    if (line === '') return null;
    const rec = fmt.parseLogLine(line);
    if (!fmt.passes(rec, filter)) return null;
    if (opts.json) return rec === null ? null : line;
    return rec === null ? line : fmt.formatRecord(rec, { color });
  };

  let path: string;
  if (opts.file === '-') path = '-';
  else if (opts.file !== undefined) path = resolve(opts.file);
  else {
    let dataDir = opts.dataDir === undefined ? undefined : resolve(opts.dataDir);
    if (dataDir === undefined) {
      const { loadCliConfig } = await import('../config-access.js');
      dataDir = loadCliConfig(ctx).config.node.data_dir;
    }
    path = join(dataDir, 'node.log');
  }
  if (path !== '-' && !fs.existsSync(path))
    throw new UsageError(
      `no log at ${path}: no node has run with this data dir (--data-dir DIR, or --file FILE)`,
    );

  // The existing lines: streamed, keeping only the last `lines` when asked.
  const input = path === '-' ? process.stdin : fs.createReadStream(path);
  const tail: string[] = [];
  const rl = createInterface({ input, crlfDelay: Infinity });
  let offset = 0;
  for await (const line of rl) {
    offset += Buffer.byteLength(line) + 1;
    const shown = render(line);
    if (shown === null) continue;
    if (lines === null) out.write(`${shown}\n`);
    else {
      tail.push(shown);
      if (tail.length > lines) tail.shift();
    }
  }
  for (const s of tail) out.write(`${s}\n`);
  if (!opts.follow || path === '-') return;

  // Follow: read what is appended from where the first pass ended.
  if (path !== '-') offset = Math.min(offset, fs.statSync(path).size);
  let ino = fs.statSync(path).ino;
  let partial = '';
  const buf = Buffer.alloc(CHUNK);
  await new Promise<void>((done) => {
    const stop = (): void => {
      clearInterval(timer);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const timer = setInterval(() => {
      let st: import('node:fs').Stats;
      try {
        st = fs.statSync(path);
      } catch {
        return; // being replaced: look again next time
      }
      // Truncated or replaced (log rotation): start over at its beginning.
      if (st.ino !== ino || st.size < offset) {
        ino = st.ino;
        offset = 0;
        partial = '';
      }
      if (st.size === offset) return;
      const fd = fs.openSync(path, 'r');
      try {
        while (offset < st.size) {
          const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, st.size - offset), offset);
          if (n <= 0) break;
          offset += n;
          const parts = (partial + buf.toString('utf8', 0, n)).split('\n');
          partial = parts.pop() ?? '';
          for (const line of parts) {
            const shown = render(line);
            if (shown !== null) out.write(`${shown}\n`);
          }
        }
      } finally {
        fs.closeSync(fd);
      }
    }, FOLLOW_POLL_MS);
  });
}

export const register: Registrar = (program, ctx) => {
  const cmd: Command = program
    .command('logs')
    .description("show the node's log (node.log in its data dir) as readable lines")
    .option('-f, --follow', 'keep printing lines as the node writes them (Ctrl+C stops)')
    .option('--level <level>', 'lowest level shown: debug, info, warn, error')
    .option('--component <name>', 'only this component, e.g. energy, raft, gossip (matches node.energy...)')
    .option('-n, --lines <n>', 'only the last N matching lines (then follow, with --follow)')
    .option('--file <file>', 'read this file instead, or - for stdin (journalctl -u iot-swarm -o cat)')
    .option('--data-dir <dir>', 'data dir of the node (default: node.data_dir)')
    .option('--json', 'print the matching lines as the JSON the node wrote');
  cmd.action((opts: LogsOptions) => run(ctx, opts));
};
