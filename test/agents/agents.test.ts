/**
 * Real agent processes (the compiled `swarm agent`) on loopback, reaching each
 * other through pass-through proxies so a restarted agent may take a new port.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSwarm } from '../helpers/run-swarm.js';
import { Cluster, getJson, postJson, testDataRoot } from './helpers.js';

const root = testDataRoot('swarm-agents-test-');
const cluster = new Cluster(root, { AGENT_WAIT_MS: '200', AGENT_TIMEOUT_MS: '1000' });

async function waitDecided(urls: readonly string[], run: unknown): Promise<Record<string, unknown>[]> {
  let last: Record<string, unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    last = await Promise.all(urls.map(async (u) => (await getJson(`${u}/consensus`)).body));
    if (last.every((b) => b.reached === true && JSON.stringify(b.run) === JSON.stringify(run))) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  return last;
}

beforeAll(async () => {
  await cluster.start();
});

afterAll(async () => {
  await cluster.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('swarm agent (three processes)', () => {
  const urls = (): string[] => cluster.agents.map((a) => a.url);

  it('`swarm agent trigger` decides and all three agents agree', async () => {
    const r = await runSwarm(['agent', 'trigger', '--agents', urls().join(','), '--timeout', '15000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const reached = r.stdout.split('\n').filter((l) => l.includes(': reached value='));
    expect(reached).toHaveLength(3);
    const values = new Set(reached.map((l) => l.replace(/^.*: reached /, '')));
    expect(values.size).toBe(1);
    expect(r.stdout).toMatch(/consensus: value [123] in round \d+/);
    const json = await runSwarm(['agent', 'trigger', '--agents', urls().join(','), '--json', '--round', '4']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      agreed: boolean;
      answers: { round: number; value: number }[];
    };
    expect(parsed.agreed).toBe(true);
    expect(parsed.answers.every((a) => a.round >= 4 && a.value === parsed.answers[0]!.value)).toBe(true);
  });

  it('/consensus, /state and /new_round keep the shapes of the original demo', async () => {
    const run = await postJson(`${urls()[1]}/run`, { round: 2 });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'triggered', round: 2 });
    const answers = await waitDecided(urls(), run.body.run);
    for (const a of answers) {
      expect(a).toMatchObject({ reached: true, value: answers[0]!.value, round: answers[0]!.round });
      expect(a.attempts).toEqual(answers[0]!.attempts);
    }
    const c = await getJson(`${urls()[0]}/consensus`);
    expect(c.status).toBe(200);
    const st = await getJson(`${urls()[2]}/state`);
    expect(st.body).toMatchObject({
      agent_id: 'agent3',
      consensus_value: answers[0]!.value,
      consensus_round: answers[0]!.round,
    });
    for (const k of ['round', 'my_value', 'proposals', 'attempts']) expect(st.body).toHaveProperty(k);
    const again = await postJson(`${urls()[0]}/new_round`, { round: 99 });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ status: 'ignored', reason: 'already-decided' });
  });

  it('/run resets each peer before starting the round there, as the original did', async () => {
    for (const p of cluster.allProxies()) p.seen.length = 0;
    const run = await postJson(`${urls()[0]}/run`, { round: 1 });
    expect(run.status).toBe(200);
    await waitDecided(urls(), run.body.run);
    for (const j of [1, 2]) {
      const seen = cluster.proxies[0]![j]!.seen;
      expect(seen.indexOf('/reset')).toBeGreaterThanOrEqual(0);
      expect(seen.indexOf('/new_round')).toBeGreaterThan(seen.indexOf('/reset'));
      expect(seen).toContain('/proposal');
    }
  });

  it('/run after a decision starts a fresh run that decides again', async () => {
    const first = await postJson(`${urls()[0]}/run`, { round: 1 });
    const d1 = await waitDecided(urls(), first.body.run);
    expect(d1.every((a) => a.reached === true)).toBe(true);
    const second = await postJson(`${urls()[2]}/run`, { round: 1 });
    const r1 = first.body.run as { n: number };
    const r2 = second.body.run as { n: number };
    expect(r2.n).toBeGreaterThan(r1.n);
    // The trigger reset itself before answering: the old decision is gone there.
    const st = await getJson(`${urls()[2]}/state`);
    expect(st.body.run).toEqual(second.body.run);
    const d2 = await waitDecided(urls(), second.body.run);
    expect(d2.every((a) => a.reached === true && a.value === d2[0]!.value && a.round === d2[0]!.round)).toBe(
      true,
    );
  });

  it('rejects bad input with 400 JSON and changes nothing', async () => {
    const u = urls()[0]!;
    // Late messages of the last run may still be landing; start from a settled state.
    let before = (await getJson(`${u}/state`)).body;
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const now = (await getJson(`${u}/state`)).body;
      if (JSON.stringify(now) === JSON.stringify(before)) break;
      before = now;
    }
    const bad: [string, unknown, string?][] = [
      ['/proposal', { agent_id: 'x', value: 2 }],
      ['/proposal', { agent_id: 'x', value: 2.5, round: 3 }],
      ['/proposal', { agent_id: 'x', value: '2', round: 3 }],
      ['/proposal', { value: 2, round: 3 }],
      ['/proposal', { agent_id: 'x', value: 9, round: 3 }],
      ['/proposal', null, '{not json'],
      ['/new_round', { round: 'two' }],
      ['/new_round', null, ''],
      ['/final', { value: 1 }],
      ['/run', { round: 1.5 }],
      ['/run', null, '[[['],
      ['/reset', null, 'nope'],
      ['/paxos/prepare', { run: { n: 1, by: 'a' }, ballot: { round: 1 } }],
    ];
    for (const [path, body, raw] of bad) {
      const r = await postJson(`${u}${path}`, body, raw);
      expect(r.status, `${path} ${raw ?? JSON.stringify(body)}`).toBe(400);
      expect(typeof r.body.error).toBe('string');
    }
    expect((await getJson(`${u}/state`)).body).toEqual(before);
  });

  it('a bare /final from outside is not believed; a reset of one agent does not touch the others', async () => {
    const u = urls();
    const run = await postJson(`${u[0]}/run`, {});
    const d = await waitDecided(u, run.body.run);
    const wrong = ((d[0]!.value as number) % 3) + 1;
    const f = await postJson(`${u[1]}/final`, { value: wrong, round: d[0]!.round });
    expect(f.status).toBe(409);
    expect((await getJson(`${u[1]}/consensus`)).body.value).toBe(d[0]!.value);
    const reset = await postJson(`${u[1]}/reset`, {});
    expect(reset.body).toEqual({ status: 'reset' });
    expect((await getJson(`${u[1]}/consensus`)).status).toBe(202);
    expect((await getJson(`${u[0]}/consensus`)).body).toMatchObject({ reached: true, value: d[0]!.value });
  });

  it('an agent killed with SIGKILL after the decision reports it again after a restart', async () => {
    const run = await postJson(`${urls()[0]}/run`, { round: 1 });
    const d = await waitDecided(urls(), run.body.run);
    expect(d[1]!.reached).toBe(true);
    await cluster.crashRestart(1);
    const after = await getJson(`${cluster.agents[1]!.url}/consensus`);
    expect(after.status).toBe(200);
    expect(after.body).toEqual(d[1]);
    const st = await getJson(`${cluster.agents[1]!.url}/state`);
    expect(st.body).toMatchObject({ consensus_value: d[1]!.value, consensus_round: d[1]!.round });
  });
});
