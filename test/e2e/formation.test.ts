/**
 * Zero-config formation with real daemons (compiled binary) on loopback,
 * multicast off, join lists, DEFAULT [raft] settings (no bootstrap flag):
 * 3 and 5 nodes found one cluster whose first leader already has every
 * founder as a voter; a SIGKILL of that leader leaves a quorum that elects a
 * new one; a lone node leads itself; `--bootstrap 1` on a node whose id is the
 * largest forms. Prints the time from the last start to an agreed leader.
 * Needs `npm run build` (or `npx tsc -p tsconfig.build.json`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackToml } from '../helpers/config-toml.js';
import { freeUdpPorts } from '../helpers/free-ports.js';
import { getJson, until, type LeaderView } from '../helpers/kv-history.js';
import { DaemonRoot, runSwarm, type StartJson } from '../helpers/run-swarm.js';

const daemons = new DaemonRoot('swarm-formation-e2e-');
let root: string;
const env = (): NodeJS.ProcessEnv => daemons.env();

beforeAll(() => {
  root = daemons.init();
  // Default [raft] and [consensus]: nothing about bootstrap.
  writeFileSync(join(root, 'config.toml'), loopbackToml([]));
});

afterAll(() => daemons.cleanup());

async function start(
  dir: string,
  gossipPort: number,
  join_: string[],
  extra: string[] = [],
): Promise<StartJson> {
  return daemons.start({ dir, extra: ['--gossip-port', String(gossipPort), ...extra], join: join_ });
}

async function leaders(ns: StartJson[]): Promise<(LeaderView | null)[]> {
  return Promise.all(ns.map((n) => getJson<LeaderView>(`${n.api_url}/v1/leader`, 2000)));
}

/** Start n nodes at once, each joining all others; returns them and when the last start returned. */
async function startSwarm(tag: string, n: number): Promise<{ ns: StartJson[]; lastStart: number }> {
  const ports = await freeUdpPorts(n);
  const ns = await Promise.all(
    ports.map((p, i) =>
      start(
        join(root, `${tag}${i}`),
        p,
        ports.filter((q) => q !== p).map((q) => `127.0.0.1:${q}`),
      ),
    ),
  );
  return { ns, lastStart: performance.now() };
}

/**
 * Polls until every node names the same leader; asserts that the first leader
 * any node reported already had all `n` founders as voters.
 */
async function agreedLeader(ns: StartJson[], n: number | null): Promise<LeaderView> {
  let firstSeen: LeaderView | null = null;
  return until(
    `an agreed leader among ${ns.length}`,
    async () => {
      const ls = await leaders(ns);
      const lead = ls.find((l) => l?.role === 'leader') ?? null;
      if (lead && firstSeen === null && n !== null) {
        firstSeen = lead;
        expect(lead.voters).toHaveLength(n);
      }
      const id = ls[0]?.leader ?? null;
      if (id === null || !ls.every((l) => l?.leader === id)) return null;
      return ls.find((l) => l?.self === id) ?? null;
    },
    60_000,
  );
}

describe('zero-config formation of real daemons', () => {
  it('3 nodes: 3 voters from the first leader; SIGKILL of that leader right after -> a new leader', async () => {
    const { ns, lastStart } = await startSwarm('t', 3);
    const leader = await agreedLeader(ns, 3);
    const ms = performance.now() - lastStart;
    console.log(`formation: 3 loopback nodes, last start -> agreed leader: ${Math.round(ms)} ms`);
    expect(leader.voters).toHaveLength(3);
    const st = await Promise.all(
      ns.map((x) => getJson<{ cluster: string | null; waiting: string | null }>(`${x.api_url}/v1/status`)),
    );
    expect(new Set(st.map((s) => s?.cluster)).size).toBe(1);
    expect(st[0]?.cluster).toMatch(/^[0-9a-f]{16}$/);

    const victim = ns.find((x) => x.id === leader.self)!;
    process.kill(victim.pid, 'SIGKILL');
    const rest = ns.filter((x) => x !== victim);
    const t0 = performance.now();
    const next = await until(
      'a new leader after SIGKILL',
      async () => {
        const ls = await leaders(rest);
        const l = ls.find((x) => x?.role === 'leader' && x.self !== victim.id);
        return l && ls.every((x) => x?.leader === l.self) ? l : null;
      },
      30_000,
    );
    console.log(
      `formation: failover after SIGKILL of the first leader: ${Math.round(performance.now() - t0)} ms`,
    );
    expect(next.self).not.toBe(victim.id);
    for (const x of rest) process.kill(x.pid, 'SIGKILL');
  }, 120_000);

  it('5 nodes: 5 voters from the first leader', async () => {
    const { ns, lastStart } = await startSwarm('f', 5);
    const leader = await agreedLeader(ns, 5);
    console.log(
      `formation: 5 loopback nodes, last start -> agreed leader: ${Math.round(performance.now() - lastStart)} ms`,
    );
    expect(leader.voters).toHaveLength(5);
    for (const x of ns) process.kill(x.pid, 'SIGKILL');
  }, 120_000);

  it('a lone node leads itself; --bootstrap 1 on the largest id forms with a default peer', async () => {
    const [p] = await freeUdpPorts(1);
    const lone = await start(join(root, 'lone'), p!, []);
    await until(
      'the lone node leads',
      async () => (await getJson<LeaderView>(`${lone.api_url}/v1/leader`))?.role === 'leader',
      30_000,
    );
    process.kill(lone.pid, 'SIGKILL');

    const [pa, pb] = await freeUdpPorts(2);
    const big = join(root, 'big');
    const small = join(root, 'small');
    mkdirSync(big, { recursive: true });
    mkdirSync(small, { recursive: true });
    writeFileSync(join(big, 'node.id'), 'ffffffffffffffff\n');
    writeFileSync(join(small, 'node.id'), '0000000000000001\n');
    const ns = await Promise.all([
      start(big, pa!, [`127.0.0.1:${pb}`], ['--bootstrap', '1']),
      start(small, pb!, [`127.0.0.1:${pa}`]),
    ]);
    const leader = await agreedLeader(ns, 2);
    expect(leader.voters).toContain('ffffffffffffffff');
    for (const x of ns) process.kill(x.pid, 'SIGKILL');
  }, 120_000);

  it('two clusters formed apart (2 + 1) merge once they meet, with no acknowledged key lost', async () => {
    const [pa, pb, pc] = await freeUdpPorts(3);
    const a = await Promise.all([
      start(join(root, 'ma0'), pa!, [`127.0.0.1:${pb}`]),
      start(join(root, 'ma1'), pb!, [`127.0.0.1:${pa}`]),
    ]);
    const lone = join(root, 'mb0');
    let b = await start(lone, pc!, []);
    await agreedLeader(a, 2);
    await agreedLeader([b], 1);
    const putKv = async (api: string, key: string, value: unknown): Promise<number> =>
      (
        await fetch(`${api}/v1/kv/${key}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ value }),
          signal: AbortSignal.timeout(10_000),
        })
      ).status;
    expect(await putKv(a[0]!.api_url, 'shared', 'a')).toBe(200);
    expect(await putKv(a[1]!.api_url, 'only-a', 1)).toBe(200);
    expect(await putKv(b.api_url, 'shared', 'b')).toBe(200);
    for (let i = 0; i < 20; i++) expect(await putKv(b.api_url, `only-b-${i}`, i)).toBe(200);
    // The lone cluster's node restarts with a join list: the two clusters now see each other.
    const stop = await runSwarm(['--config', join(root, 'config.toml'), 'node', 'stop', '--data-dir', lone], {
      env: env(),
    });
    expect(stop.code).toBe(0);
    b = await start(lone, pc!, [`127.0.0.1:${pa}`]);
    type Merge = { state: string; conflictCount: number; put: number; exported: number; backup: string };
    const merge = await until(
      'the 1-voter cluster merged into the 2-voter one',
      async () => {
        const st = await getJson<{ merge: Merge | null }>(`${b.api_url}/v1/status`);
        return st?.merge?.state === 'done' ? st.merge : null;
      },
      60_000,
    );
    expect(merge).toMatchObject({ exported: 21, put: 20, conflictCount: 1 });
    const all = [...a, b];
    await agreedLeader(all, null);
    // The yielded node is promoted: 3 voters.
    await until(
      'three voters',
      async () => (await leaders(all)).some((l) => l?.role === 'leader' && l.voters.length === 3),
      30_000,
    );
    for (const x of all) {
      const get = async (k: string): Promise<unknown> =>
        (await getJson<{ value: unknown }>(`${x.api_url}/v1/kv/${k}`))?.value;
      expect(await get('shared')).toBe('a');
      expect(await get('only-a')).toBe(1);
      for (let i = 0; i < 20; i++) expect(await get(`only-b-${i}`)).toBe(i);
    }
    for (const x of all) process.kill(x.pid, 'SIGKILL');
  }, 180_000);
});
