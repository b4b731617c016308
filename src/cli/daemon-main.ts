/**
 * Entry of a detached node daemon, spawned by `swarm node start` and `swarm
 * demo` (daemon.ts) as `daemon-main.js <data_dir>/config.resolved.json`. It
 * runs the node as `swarm node start --foreground` does without a terminal
 * (JSON logs on stderr, the same exit codes), but from the config its parent
 * already validated: no config schema, no zod, no command-line parser, so the
 * daemon is smaller (docs/operations.md, "Memory").
 */
import { reportFailure, UsageError } from '../common/errors.js';
import { readResolvedConfig } from './resolved-config.js';
import { exitSoonAfterStop, runNodeProcess } from './node-runtime.js';

async function main(args: readonly string[]): Promise<number> {
  const [path, ...extra] = args;
  if (path === undefined || extra.length > 0)
    throw new UsageError('usage: daemon-main.js <config.resolved.json> (started by `swarm node start`)');
  const code = await runNodeProcess(readResolvedConfig(path));
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
