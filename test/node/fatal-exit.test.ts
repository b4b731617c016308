/**
 * A node stopped by a fatal failure (a full disk under the Raft log) must end
 * its process with exit 1 and one `swarm: ...` line (issue #14, item 8), so
 * systemd's Restart=on-failure restarts it; a requested stop stays 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeAfterStop } from '../../src/cli/node-runtime.js';
import { configSchema } from '../../src/config/schema.js';
import { SwarmNode } from '../../src/node/node.js';

const root = mkdtempSync(join(tmpdir(), 'fatal-exit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function node(): SwarmNode {
  return new SwarmNode(configSchema.parse({ node: { data_dir: join(root, String(Math.random())) } }));
}

describe('exit code after a stop', () => {
  it('is 0 after a requested stop, with nothing on stderr', () => {
    const n = node();
    n.requestShutdown('api');
    let err = '';
    expect(exitCodeAfterStop(n, { write: (s: string) => (err += s) })).toBe(0);
    expect(err).toBe('');
  });

  it('is 1 after a fatal failure, with one swarm: line naming it, even after an earlier requested stop', () => {
    for (const first of [null, 'SIGTERM']) {
      const n = node();
      const reasons: string[] = [];
      n.on('shutdown', (r) => reasons.push(r));
      if (first) n.requestShutdown(first);
      n.requestShutdown('raft storage failure', new Error('ENOSPC: no space left on device, write'));
      expect(n.failure).toEqual({
        reason: 'raft storage failure',
        message: 'ENOSPC: no space left on device, write',
      });
      expect(reasons).toHaveLength(1);
      let err = '';
      expect(exitCodeAfterStop(n, { write: (s: string) => (err += s) })).toBe(1);
      expect(err).toBe(
        'swarm: node stopped after a fatal failure: raft storage failure: ENOSPC: no space left on device, write\n',
      );
    }
  });
});
