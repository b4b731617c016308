/**
 * Entry of a detached node daemon (spawned by `swarm node start`): the same
 * program as `swarm`, with only the `node` command group loaded, so the daemon
 * is ready sooner and holds less memory. Argument handling is identical.
 */
import { register as node } from './commands/node.js';
import { runProgram } from './program.js';

runProgram(process.argv, process.env, [node]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`swarm: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
