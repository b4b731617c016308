/**
 * `swarm completion bash|zsh|fish`: the shell's completion script, generated
 * from the whole program (every command group is loaded for it, once, when
 * the script is generated; not when the shell completes).
 */
import { Argument } from 'commander';
import type { Registrar } from '../context.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

export const register: Registrar = (program, ctx) => {
  program
    .command('completion')
    .description('print the shell completion script (bash: source <(swarm completion bash))')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .action(async (shell: (typeof SHELLS)[number]) => {
      const [{ GROUPS }, { buildProgram }, { completionScript }] = await Promise.all([
        import('./index.js'),
        import('../program.js'),
        import('../completion.js'),
      ]);
      const groups = await Promise.all([...GROUPS.values()].map((load) => load()));
      ctx.stdout.write(completionScript(shell, buildProgram(ctx, groups)));
    });
};
