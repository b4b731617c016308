/**
 * Typed errors shared by every layer. Each carries a stable `code` for
 * programs, a one-line human message, optional context fields, and the
 * process exit code the CLI should use (0 ok, 1 runtime failure, 2 usage or config).
 */
export type ExitCode = 0 | 1 | 2;

export class SwarmError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly fields: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    opts: { exitCode?: ExitCode; fields?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = opts.exitCode ?? 1;
    this.fields = opts.fields ?? {};
  }
}

/** Bad configuration: names the key, the value and the rule. Exit 2. */
export class ConfigError extends SwarmError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('config_invalid', message, { exitCode: 2, fields });
  }
}

/** Bad command-line usage. Exit 2. */
export class UsageError extends SwarmError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('usage', message, { exitCode: 2, fields });
  }
}

/** A command that ends with a given exit code and, optionally, a message for stderr. */
export class CliExit extends SwarmError {
  constructor(exitCode: ExitCode, message = '') {
    super('exit', message, { exitCode });
  }
}

/**
 * How a command-line process reports a failure: `swarm: <message>` on stderr
 * (nothing for a SwarmError without a message) and the exit code to end with.
 */
export function reportFailure(err: unknown, stderr: { write(s: string): unknown }): ExitCode {
  if (err instanceof SwarmError) {
    if (err.message) stderr.write(`swarm: ${err.message}\n`);
    return err.exitCode;
  }
  stderr.write(`swarm: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}
