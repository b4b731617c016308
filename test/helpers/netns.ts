/**
 * Network-namespace plumbing for tests that build their own test hosts
 * (`ip netns add`, veth pairs). Nothing here touches a real interface.
 */
import { execFileSync } from 'node:child_process';

/** Run `ip ARGS...`; throws with ip's stderr on failure. */
export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/**
 * Whether this machine lets us create namespaces: null when it does, else the
 * reason (ip's own words), which the tests print when they skip.
 */
export function probeNetns(name: string): string | null {
  try {
    ip('netns', 'add', name);
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    return stderr || (e instanceof Error ? e.message : String(e));
  }
  try {
    ip('netns', 'del', name);
  } catch {
    // Best effort: the probe namespace holds nothing.
  }
  return null;
}
