/**
 * Entry of a detached node daemon, spawned by `swarm node start` and `swarm
 * demo` (daemon.ts) as `daemon-main.js <data_dir>/config.resolved.json`. It
 * runs the node as `swarm node start --foreground` does without a terminal
 * (JSON logs on stderr, the same exit codes), but from the config its parent
 * already validated: no config schema, no zod, no command-line parser, so the
 * daemon is smaller (docs/operations.md, "Memory").
 */
import { writeFileSync } from 'node:fs';
import type * as NodeV8 from 'node:v8';
import { lazyBuiltin } from '../common/builtins.js';
import { reportFailure, UsageError } from '../common/errors.js';
import { noteLauncherFlags } from '../node/compiler-tiering.js';
import { readResolvedConfig } from './resolved-config.js';
import { exitSoonAfterStop, runNodeProcess } from './node-runtime.js';

/**
 * Env var naming a file to which a daemon writes, once stopped, the Node
 * built-in modules it loaded over its life (one per line, `process.moduleLoadList`'s
 * "NativeModule" entries): how test/node/idle-builtins.test.ts keeps an idle
 * daemon from loading what it does not need (docs/operations.md, "Memory").
 */
const LOADED_BUILTINS_ENV = 'SWARM_DEBUG_LOADED_BUILTINS';

function writeLoadedBuiltins(file: string): void {
  const list = (process as unknown as { moduleLoadList?: readonly string[] }).moduleLoadList ?? [];
  const names = list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  writeFileSync(file, names.join('\n') + '\n');
}

/**
 * Env var: when set, the daemon writes V8's `--trace-gc` lines to its stdout (node.log), after a
 * `GCANCHOR <ms>` line giving the wall-clock time of their 0 (the lines count from the process's
 * start): how bench/raft-handover-timeline.ts puts the daemons' collector pauses on a hand-over's
 * timeline. node:v8 is loaded only then.
 */
const TRACE_GC_ENV = 'SWARM_DEBUG_TRACE_GC';

async function main(args: readonly string[]): Promise<number> {
  const [path, ...extra] = args;
  if (path === undefined || extra.length > 0)
    throw new UsageError('usage: daemon-main.js <config.resolved.json> (started by `swarm node start`)');
  if (process.env[TRACE_GC_ENV]) {
    // Through require, not import(): a bundled daemon never loads the ES module loader (idle-builtins test).
    lazyBuiltin<typeof NodeV8>('node:v8')().setFlagsFromString('--trace-gc');
    process.stdout.write(`GCANCHOR ${Date.now() - performance.now()}\n`);
  }
  // V8's upper compilers are off from our command line (the launcher's): the node turns them on.
  noteLauncherFlags();
  const code = await runNodeProcess(readResolvedConfig(path));
  const loadedFile = process.env[LOADED_BUILTINS_ENV];
  if (loadedFile) writeLoadedBuiltins(loadedFile);
  exitSoonAfterStop();
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportFailure(err, process.stderr);
  },
);
