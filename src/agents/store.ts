/**
 * The agent's state file. Written as temp file + fsync + rename + fsync of the
 * directory, so after a crash the file holds either the old or the new state,
 * never a torn mix, and a reply is only sent once its state is on disk.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { SwarmError } from '../common/errors.js';
import type { PersistentState } from './core.js';

const runSchema = z.object({ n: z.number().int().min(0), by: z.string() });
const ballotSchema = z.object({ round: z.number().int(), by: z.string() });
const decisionSchema = z.object({
  value: z.number().int(),
  round: z.number().int(),
  attempts: z.number().int(),
});

const stateSchema = z.object({
  version: z.literal(1),
  agent_id: z.string(),
  max_run_n: z.number().int().min(0),
  run: runSchema.nullable(),
  round: z.number().int().min(0),
  attempts: z.number().int().min(0),
  my_value: z.number().int().nullable(),
  proposals: z.record(z.string(), z.record(z.string(), z.number().int())),
  promised: ballotSchema.nullable(),
  accepted: z.object({ ballot: ballotSchema, decision: decisionSchema }).nullable(),
  decision: decisionSchema.nullable(),
  led_round: z.number().int().min(0),
  floor: runSchema.nullable(),
});

export const STATE_FILE = 'agent-state.json';

/** Default data directory: $XDG_STATE_HOME (or ~/.local/state)/swarm_orchestrator/agents/<id>. */
export function defaultDataDir(agentId: string, env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'swarm_orchestrator', 'agents', agentId);
}

export class StateStore {
  readonly dir: string;
  readonly path: string;
  private seq = 0;

  constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, STATE_FILE);
  }

  /** Reads the saved state; null when the agent never ran here. A corrupt or foreign file is an error, not a reset. */
  load(agentId: string): PersistentState | null {
    mkdirSync(this.dir, { recursive: true });
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new SwarmError('agent_state_corrupt', `agent state file ${this.path} is not valid JSON`, {
        cause: err,
      });
    }
    const r = stateSchema.safeParse(parsed);
    if (!r.success) {
      throw new SwarmError(
        'agent_state_corrupt',
        `agent state file ${this.path} is invalid: ${r.error.issues[0]?.message ?? ''}`,
      );
    }
    if (r.data.agent_id !== agentId) {
      throw new SwarmError(
        'agent_state_foreign',
        `agent state file ${this.path} belongs to ${r.data.agent_id}, not ${agentId}; use another data dir`,
        { exitCode: 2 },
      );
    }
    return r.data;
  }

  async save(state: PersistentState): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${this.seq++}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(state)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    // The rename itself must be durable, or a crash could bring back the old file.
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
