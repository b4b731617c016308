import type { Registrar } from '../context.js';
import { VERSION } from '../../version.js';

export const register: Registrar = (program, ctx) => {
  program
    .command('version')
    .description('print the version of iot-swarm')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      ctx.stdout.write(
        opts.json
          ? `${JSON.stringify({ version: VERSION, node: process.version })}\n`
          : `iot-swarm ${VERSION}\n`,
      );
    });
};
