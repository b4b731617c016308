/**
 * Safety under a hostile network, with real agent processes: every link goes
 * through a seeded fault-injecting proxy (short delays mostly, some of up to
 * 1.5 s, reordering, duplicates, lost requests and lost answers), runs follow
 * each other while late messages of earlier runs are still in flight, and now
 * and then an agent is killed with SIGKILL mid-run and restarted. No run may
 * ever show two different decisions, whoever reports them.
 *
 * Two independent groups of three share the runs, so the wall time is spent
 * waiting on one group's network while the other computes.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { Cluster, getJson, postJson, testDataRoot, type Faults } from './helpers.js';

const RUNS = Number(process.env.AGENTS_FAULT_RUNS ?? 200);
const SEED = Number(process.env.AGENTS_FAULT_SEED ?? 20261121);
const GROUPS = 2;
const FAULTS: Faults = {
  dropRate: 0.05,
  dropReplyRate: 0.03,
  dupRate: 0.08,
  longRate: 0.015,
  shortDelayMs: 15,
  longDelayMs: 1500,
};

const root = testDataRoot('swarm-agents-faults-');
const clusters = Array.from(
  { length: GROUPS },
  (_, g) => new Cluster(`${root}/g${g}`, { AGENT_WAIT_MS: '150', AGENT_TIMEOUT_MS: '400' }),
);

beforeAll(async () => {
  await Promise.all(clusters.map((c) => c.start()));
});

afterAll(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
  rmSync(root, { recursive: true, force: true });
});

type Answer = {
  reached?: boolean;
  value?: number;
  round?: number;
  attempts?: number;
  run?: { n: number; by: string };
};

interface GroupResult {
  violations: string[];
  decidedRuns: number;
  distinctDecisions: number;
  restarts: number;
}

async function drive(cluster: Cluster, seed: number, runs: number): Promise<GroupResult> {
  const rng = createRng(seed);
  const decided = new Map<string, string>();
  const violations: string[] = [];
  let decidedRuns = 0;
  let restarts = 0;
  const note = (who: string, a: Answer): void => {
    if (a.reached !== true || !a.run) return;
    const k = `${a.run.n}:${a.run.by}`;
    const v = `${a.value}/${a.round}/${a.attempts}`;
    const prev = decided.get(k);
    if (prev === undefined) decided.set(k, v);
    else if (prev !== v) violations.push(`run ${k}: ${prev} vs ${v} (${who})`);
  };
  for (let r = 0; r < runs; r++) {
    cluster.allProxies().forEach((p, i) => p.reseed(seed * 31 + r * 7 + i, FAULTS));
    const i = r % 3;
    const trig = await postJson(`${cluster.agents[i]!.url}/run`, { round: 1 + (r % 3) });
    if (trig.status !== 200) violations.push(`run ${r}: /run answered ${trig.status}`);
    const run = trig.body.run as { n: number; by: string };
    if (r % 40 === 20) {
      // Crash one agent in the middle of the run; its promises and decision must survive.
      await new Promise((res) => setTimeout(res, rng.int(0, 60)));
      await cluster.crashRestart(rng.int(0, 2));
      restarts++;
    }
    for (let poll = 0; poll < 150; poll++) {
      const answers = await Promise.all(
        cluster.agents.map(async (a) => ({
          who: a.id,
          body: (await getJson(`${a.url}/consensus`)).body as Answer,
        })),
      );
      for (const a of answers) note(a.who, a.body);
      // One agent that decided is enough to move on: the others' answers are still checked at the
      // next polls, and every decision made anywhere crosses a proxy as a /final anyway.
      const done = answers.filter(
        (a) =>
          a.body.reached === true &&
          a.body.run !== undefined &&
          (a.body.run.n > run.n || (a.body.run.n === run.n && a.body.run.by >= run.by)),
      ).length;
      if (done >= 1) {
        decidedRuns++;
        break;
      }
      await new Promise((res) => setTimeout(res, 30));
    }
  }
  // What crossed the wire must agree too: every /final and every decision sent back as an answer.
  for (const p of cluster.allProxies()) {
    for (const f of p.finals) {
      const [n, by] = f.run.split(':');
      note('wire', { reached: true, ...f, run: { n: Number(n), by: by as string } });
    }
  }
  return { violations, decidedRuns, distinctDecisions: decided.size, restarts };
}

describe('agents behind fault-injecting proxies', () => {
  it(`never show two decisions for one run over ${RUNS} seeded runs`, async () => {
    const per = Math.ceil(RUNS / GROUPS);
    const results = await Promise.all(clusters.map((c, g) => drive(c, SEED + g * 1_000_003, per)));
    expect(results.flatMap((r) => r.violations)).toEqual([]);
    expect(results.reduce((a, r) => a + r.restarts, 0)).toBe(GROUPS * Math.floor((per + 19) / 40));
    const all = clusters.flatMap((c) => c.allProxies());
    const sum = (k: 'drops' | 'dups' | 'longDelays' | 'replyDrops'): number =>
      all.reduce((a, p) => a + p.injected[k], 0);
    expect(sum('drops')).toBeGreaterThan(0);
    expect(sum('dups')).toBeGreaterThan(0);
    expect(sum('longDelays')).toBeGreaterThan(0);
    expect(sum('replyDrops')).toBeGreaterThan(0);
    // Liveness is not the point here, but a protocol that never decides would pass the check above.
    const decidedRuns = results.reduce((a, r) => a + r.decidedRuns, 0);
    expect(decidedRuns).toBeGreaterThanOrEqual(Math.floor(GROUPS * per * 0.9));
    expect(results.reduce((a, r) => a + r.distinctDecisions, 0)).toBeGreaterThanOrEqual(
      Math.floor(GROUPS * per * 0.9),
    );
  }, 240_000);
});
