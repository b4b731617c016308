/** `swarm keygen`: a new random swarm key (32 bytes, base64) for `security.swarm_key`. */
import { randomBytes } from 'node:crypto';
import type { Registrar } from '../context.js';

export function generateSwarmKey(): string {
  return randomBytes(32).toString('base64');
}

export const register: Registrar = (program, ctx) => {
  program
    .command('keygen')
    .description('print a new base64 swarm key (set it with `swarm config set security.swarm_key KEY`)')
    .action(() => {
      ctx.stdout.write(`${generateSwarmKey()}\n`);
    });
};
