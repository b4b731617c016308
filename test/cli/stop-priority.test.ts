/** `swarm node stop` yields the CPU to the node it stops (bin/swarm.js lowers its own priority). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SWARM_BIN } from '../helpers/run-swarm.js';

const root = mkdtempSync(join(tmpdir(), 'swarm-prio-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The CLI's scheduling priority at exit, read by a preloaded hook. */
function priorityAtExit(args: string[], name: string): number {
  const out = join(root, name);
  const hook = `data:text/javascript,${encodeURIComponent(
    `import { writeFileSync } from 'node:fs'; import { getPriority } from 'node:os';
     process.on('exit', () => writeFileSync(${JSON.stringify(out)}, String(getPriority())));`,
  )}`;
  spawnSync(process.execPath, [SWARM_BIN, ...args], {
    env: {
      ...process.env,
      SWARM_CONFIG: '',
      XDG_CONFIG_HOME: join(root, 'xdg'),
      NODE_OPTIONS: `--import=${hook}`,
    },
    stdio: 'ignore',
    timeout: 30_000,
  });
  return Number(readFileSync(out, 'utf8'));
}

describe('CLI scheduling priority', () => {
  it("node stop runs at nice 10 (or its parent's, if lower still); other commands keep the parent's", () => {
    const base = getPriority();
    const empty = join(root, 'no-node');
    expect(priorityAtExit(['node', 'stop', '--data-dir', empty], 'stop')).toBe(Math.max(base, 10));
    expect(priorityAtExit(['version'], 'version')).toBe(base);
  });
});
