/**
 * The demo's trigger script as a function: POST /run to the first agent, then
 * poll /consensus on every agent until all report the decision of that run or
 * the deadline passes. Every call has a timeout; the whole wait is bounded.
 */
import { compareRun, type RunId } from './types.js';

export interface AgentAnswer {
  url: string;
  /** HTTP status of the last /consensus answer; null when the agent could not be reached. */
  status: number | null;
  reached: boolean;
  value: number | null;
  round: number | null;
  attempts: number | null;
  run: RunId | null;
  error?: string;
}

export interface TriggerResult {
  triggered: boolean;
  run: RunId | null;
  round: number;
  answers: AgentAnswer[];
  /** Every agent decided this run, on the same value and round. */
  agreed: boolean;
  elapsedMs: number;
  error?: string;
}

export interface TriggerOptions {
  agents: readonly string[];
  round?: number;
  /** Give up waiting for the decision after this long. */
  deadlineMs?: number;
  pollMs?: number;
  requestTimeoutMs?: number;
}

async function callJson(
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json()) as unknown;
  return {
    status: res.status,
    body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {},
  };
}

function asRun(v: unknown): RunId | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  return typeof r.n === 'number' && typeof r.by === 'string' ? { n: r.n, by: r.by } : null;
}

function numOrNull(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}

export async function readConsensus(url: string, timeoutMs = 2000): Promise<AgentAnswer> {
  try {
    const { status, body } = await callJson(`${url}/consensus`, { method: 'GET' }, timeoutMs);
    return {
      url,
      status,
      reached: body.reached === true,
      value: numOrNull(body.value),
      round: numOrNull(body.round),
      attempts: numOrNull(body.attempts),
      run: asRun(body.run),
    };
  } catch (err) {
    return {
      url,
      status: null,
      reached: false,
      value: null,
      round: null,
      attempts: null,
      run: null,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

/** True when every answer reports the decision of `run` (or of a later run, if run is unknown) with one value and round. */
export function allAgree(answers: readonly AgentAnswer[], run: RunId | null): boolean {
  if (answers.length === 0) return false;
  const first = answers[0] as AgentAnswer;
  return answers.every(
    (a) =>
      a.reached &&
      a.value === first.value &&
      a.round === first.round &&
      (run === null || compareRun(a.run, run) === 0) &&
      compareRun(a.run, first.run) === 0,
  );
}

export async function triggerRun(opts: TriggerOptions): Promise<TriggerResult> {
  const t0 = performance.now();
  const round = opts.round ?? 1;
  const timeout = opts.requestTimeoutMs ?? 5000;
  const deadline = t0 + (opts.deadlineMs ?? 30_000);
  const first = opts.agents[0];
  /** The run never started: say why, with whatever each agent reports now. */
  const notTriggered = async (error: string): Promise<TriggerResult> => ({
    triggered: false,
    run: null,
    round,
    answers: await Promise.all(opts.agents.map((a) => readConsensus(a, timeout))),
    agreed: false,
    elapsedMs: performance.now() - t0,
    error,
  });
  if (first === undefined) return notTriggered('no agents given');
  let run: RunId | null = null;
  try {
    const { status, body } = await callJson(
      `${first}/run`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ round }) },
      timeout,
    );
    if (status !== 200 || body.status !== 'triggered') {
      return await notTriggered(`POST ${first}/run answered ${status}: ${JSON.stringify(body)}`);
    }
    run = asRun(body.run);
  } catch (err) {
    return await notTriggered(err instanceof Error ? err.message : String(err));
  }
  const pollMs = opts.pollMs ?? 100;
  let answers: AgentAnswer[] = [];
  for (let i = 0; i < 100_000; i++) {
    answers = await Promise.all(opts.agents.map((a) => readConsensus(a, timeout)));
    const settled = answers.every((a) => a.reached && (run === null || compareRun(a.run, run) >= 0));
    if (settled || performance.now() + pollMs >= deadline) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return {
    triggered: true,
    run,
    round,
    answers,
    agreed: allAgree(answers, run),
    elapsedMs: performance.now() - t0,
  };
}

/** Human-readable lines, one per agent, then the verdict. */
export function formatTrigger(r: TriggerResult): string[] {
  const lines: string[] = [];
  if (r.triggered) lines.push(`triggered round ${r.round}${r.run ? ` (run ${r.run.n}:${r.run.by})` : ''}`);
  else lines.push(`trigger failed: ${r.error ?? 'unknown error'}`);
  for (const a of r.answers) {
    if (a.status === null) lines.push(`${a.url}: unreachable (${a.error ?? 'error'})`);
    else if (a.reached)
      lines.push(`${a.url}: reached value=${a.value} round=${a.round} attempts=${a.attempts}`);
    else lines.push(`${a.url}: not reached (round ${a.round ?? '?'})`);
  }
  const f = r.answers[0];
  lines.push(
    r.agreed && f ? `consensus: value ${f.value} in round ${f.round}` : 'no consensus among all agents',
  );
  return lines;
}
