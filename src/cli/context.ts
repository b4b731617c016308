/** What every command needs from the global options, resolved lazily. */
import type { Command } from 'commander';

export interface CliContext {
  /** Value of the global `--config FILE` option, if given. */
  configPath(): string | undefined;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export type Registrar = (program: Command, ctx: CliContext) => void;
