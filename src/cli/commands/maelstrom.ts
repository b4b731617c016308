/**
 * `swarm maelstrom <workload>`: run a core as a Maelstrom node on
 * stdin/stdout. Subcommands come from src/maelstrom/workloads.ts so that new
 * workloads need no change here. Stdout carries protocol messages only;
 * diagnostics go to stderr, as Maelstrom requires.
 */
import type { Registrar } from '../context.js';
import { workloads } from '../../maelstrom/workloads.js';

export const register: Registrar = (program, ctx) => {
  const group = program
    .command('maelstrom')
    .description('run a core as a Jepsen Maelstrom node (JSON lines on stdin/stdout)');
  for (const w of workloads) {
    const cmd = group.command(w.name).description(w.description);
    for (const o of w.options ?? []) cmd.option(o.flags, o.description, o.defaultValue);
    cmd.action(async (opts: Record<string, string | boolean | undefined>) => {
      await w.run({ input: process.stdin, output: ctx.stdout, log: ctx.stderr }, opts);
    });
  }
};
