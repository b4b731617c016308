/**
 * `swarm demo agents`: the local stand-in for the demo's docker compose file.
 * Starts N agents in this process on loopback ports basePort.., triggers one
 * run, prints every agent's answer, stops the agents and removes their state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../common/errors.js';
import { formatTrigger, triggerRun, type TriggerResult } from './client.js';
import { AgentNode } from './node.js';
import { DEFAULTS } from './settings.js';

export interface AgentsDemoOptions {
  count?: number;
  /** First port; agents take basePort, basePort+1, ... 0 lets the OS choose every port. */
  basePort?: number;
  round?: number;
  stdout: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  host?: string;
  waitMs?: number;
  /** Give up on the decision after this long. */
  deadlineMs?: number;
  json?: boolean;
}

/** Exit code: 0 when every agent decided the same value and round, else 1. */
export async function runAgentsDemo(o: AgentsDemoOptions): Promise<number> {
  const count = o.count ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 64)
    throw new UsageError('--count must be an integer in 1..64');
  const basePort = o.basePort ?? 5001;
  if (!Number.isInteger(basePort) || basePort < 0 || basePort + count - 1 > 65535) {
    throw new UsageError('--base-port must leave room for every agent below 65536');
  }
  const host = o.host ?? '127.0.0.1';
  const root = mkdtempSync(join(tmpdir(), 'swarm-agents-demo-'));
  const ids = Array.from({ length: count }, (_, i) => `agent${i + 1}`);
  const url = (port: number): string => `http://${host}:${port}`;
  let ready = false;
  const nodes = ids.map(
    (id, i) =>
      new AgentNode({
        id,
        host,
        port: basePort === 0 ? 0 : basePort + i,
        // Placeholders until every port is known; only their number matters now.
        peers: ids.filter((x) => x !== id).map((_, k) => url(k)),
        dataDir: join(root, id),
        minValue: DEFAULTS.minValue,
        maxValue: DEFAULTS.maxValue,
        waitMs: o.waitMs ?? DEFAULTS.waitMs,
        timeoutMs: DEFAULTS.timeoutMs,
        // Start-up lines would name placeholder peers; the demo prints its own once ports are known.
        log: (line) => {
          if (ready) o.stderr?.write(`${line}\n`);
        },
      }),
  );
  let result: TriggerResult | null = null;
  try {
    for (const n of nodes) await n.start();
    const urls = nodes.map((n) => n.url);
    nodes.forEach((n, i) => n.setPeers(urls.filter((_, k) => k !== i)));
    ready = true;
    nodes.forEach((n, i) => o.stderr?.write(`agent ${ids[i]} listening on ${n.url}\n`));
    result = await triggerRun({ agents: urls, round: o.round ?? 1, deadlineMs: o.deadlineMs ?? 30_000 });
    if (o.json) o.stdout.write(`${JSON.stringify(result)}\n`);
    else o.stdout.write(`${formatTrigger(result).join('\n')}\n`);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(root, { recursive: true, force: true });
  }
  return result.agreed ? 0 : 1;
}
