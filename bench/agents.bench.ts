/**
 * REST consensus agents: three real `swarm agent` processes on loopback, talking
 * directly, state files on the default temporary disk (fsync included). Measures
 * the time from POST /run until every agent reports the decision of that run,
 * and how many attempts (rounds) a decision took. Needs `npm run build`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '../src/cli/ports.js';
import { killAgent, spawnAgent, type AgentProc } from '../test/agents/helpers.js';
import type { BenchReport } from './types.js';

const RUNS = Number(process.env.AGENTS_BENCH_RUNS ?? 100);
const WAIT_MS = 500;

async function json(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return (await res.json()) as Record<string, unknown>;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export default async function bench(): Promise<BenchReport> {
  const root = mkdtempSync(join(tmpdir(), 'swarm-agents-bench-'));
  const ports = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const procs: AgentProc[] = [];
  const times: number[] = [];
  const attempts: number[] = [];
  let undecided = 0;
  try {
    for (let i = 0; i < 3; i++) {
      procs.push(
        // Fixed ports: every agent's peer list must be known before it starts.
        await spawnAgent(
          `agent${i + 1}`,
          urls.filter((_, k) => k !== i),
          join(root, `agent${i + 1}`),
          {
            PORT: String(ports[i]),
          },
        ),
      );
    }
    for (let r = 0; r < RUNS + 3; r++) {
      const t0 = performance.now();
      const trig = await json(`${urls[r % 3]}/run`, { method: 'POST', body: JSON.stringify({ round: 1 }) });
      const run = JSON.stringify(trig.run);
      let done: Record<string, unknown>[] | null = null;
      for (let poll = 0; poll < 4000 && performance.now() - t0 < 20_000; poll++) {
        const answers = await Promise.all(urls.map((u) => json(`${u}/consensus`)));
        if (answers.every((a) => a.reached === true && JSON.stringify(a.run) === run)) {
          done = answers;
          break;
        }
        await new Promise((res) => setTimeout(res, 5));
      }
      // The first runs warm up connections and the JIT; they are not counted.
      if (r < 3) continue;
      if (done === null) {
        undecided++;
        continue;
      }
      times.push(performance.now() - t0);
      attempts.push(done[0]?.attempts as number);
    }
  } finally {
    await Promise.all(procs.map((p) => killAgent(p, 'SIGTERM')));
    await Promise.all(procs.map((p) => killAgent(p)));
    rmSync(root, { recursive: true, force: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  const round1 = (x: number): number => Math.round(x * 10) / 10;
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    name: 'agents',
    description:
      'Three `swarm agent` processes on loopback (wait window 500 ms, values 1..3, state fsynced on the tmp disk): ' +
      'time from POST /run until all three report the decision of that run, and attempts (rounds) per decision. ' +
      'With 3 agents and 3 values a round has a majority for some value with probability 7/9, so about 1.29 attempts are expected.',
    metrics: {
      runs: times.length,
      undecided_runs: undecided,
      median_ms: round1(quantile(sorted, 0.5)),
      p99_ms: round1(quantile(sorted, 0.99)),
      max_ms: round1(sorted[sorted.length - 1] ?? NaN),
      first_round_median_ms: round1(
        quantile(
          times.filter((_, i) => attempts[i] === 1).sort((a, b) => a - b),
          0.5,
        ),
      ),
      attempts_mean: Math.round(mean(attempts) * 100) / 100,
      attempts_max: Math.max(...attempts),
      decided_in_first_round_share:
        Math.round((attempts.filter((a) => a === 1).length / Math.max(1, attempts.length)) * 100) / 100,
    },
    goals: [
      { metric: 'undecided_runs', op: '<=', target: 0 },
      { metric: 'attempts_mean', op: '<=', target: 1.6 },
      { metric: 'first_round_median_ms', op: '<', target: 250 },
      { metric: 'median_ms', op: '<', target: 500 },
    ],
    details: { wait_ms: WAIT_MS, runs_requested: RUNS, times_ms: times.map(round1), attempts },
  };
}
