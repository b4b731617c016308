/**
 * Runs the real `swarm` binary (compiled JS, as users run it) as a subprocess.
 * Tests depend on `npm run build` having run; `npm test` does that first.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const SWARM_BIN = fileURLToPath(new URL('../../bin/swarm.js', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runSwarm(
  args: readonly string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    input?: string;
    timeoutMs?: number;
    cwd?: string;
    /** Run inside this network namespace (`ip netns exec`); a daemon it starts stays there. */
    netns?: string;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const argv = [SWARM_BIN, ...args];
    const [cmd, cmdArgs] =
      opts.netns === undefined
        ? [process.execPath, argv]
        : ['ip', ['netns', 'exec', opts.netns, process.execPath, ...argv]];
    const child = spawn(cmd, cmdArgs, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
