/**
 * Gossip in real daemons (the compiled binary, `npm run build` first): five
 * nodes on loopback find each other through a join list, a SIGKILLed node goes
 * suspect then dead on the others, a graceful `node stop` shows as left; with a
 * swarm key, nodes sharing it form a swarm that reports "encrypted" and a node
 * with another key is never admitted. Multicast is off; every port is 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembersResponse } from '../../src/api/members-types.js';
import { SwarmClient } from '../../src/client/client.js';
import { SWARM_BIN, runSwarm } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

interface Started {
  pid: number;
  id: string;
  name: string;
  api_url: string;
  dataDir: string;
  client: SwarmClient;
  gossip: string;
}

let root: string;
const pids = new Set<number>();

function env(key = ''): NodeJS.ProcessEnv {
  return {
    HOME: root,
    XDG_CONFIG_HOME: join(root, 'xdg'),
    SWARM_CONFIG: '',
    SWARM_NETWORK__MULTICAST_ENABLED: 'false',
    SWARM_SECURITY__SWARM_KEY: key,
  };
}

async function start(
  name: string,
  joinList: readonly string[],
  key = '',
  extra: readonly string[] = [],
): Promise<Started> {
  const dataDir = join(root, name);
  const args = ['--config', join(root, 'config.toml'), 'node', 'start', '--json', '--name', name, ...extra];
  args.push('--data-dir', dataDir, '--no-multicast');
  if (joinList.length > 0) args.push('--join', joinList.join(','));
  const r = await runSwarm(args, { env: env(key) });
  // Track the daemon before any assertion can fail, so afterAll still kills it.
  const pidMatch = /"pid":(\d+)/.exec(r.stdout);
  if (pidMatch) pids.add(Number(pidMatch[1]));
  // A restart after SIGKILL says it removed the dead PID's lock; nothing else may be printed.
  expect(r.stderr).toMatch(/^(removed stale pidfile and lock of dead PID \d+\n)?$/);
  expect(r.code).toBe(0);
  const info = JSON.parse(r.stdout) as Omit<Started, 'client' | 'dataDir' | 'gossip'>;
  pids.add(info.pid);
  const client = new SwarmClient({ baseUrl: info.api_url, timeoutMs: 3000 });
  const st = await client.status();
  expect(st.addresses.gossip).toMatch(/^127\.0\.0\.1:\d+$/);
  return { ...info, dataDir, client, gossip: st.addresses.gossip! };
}

async function stop(n: Started, key = ''): Promise<void> {
  const r = await runSwarm(['--config', join(root, 'config.toml'), 'node', 'stop', '--data-dir', n.dataDir], {
    env: env(key),
  });
  expect(r.code).toBe(0);
  pids.delete(n.pid);
}

/** Poll until `ok` holds for the members view (bounded in time and count). */
async function waitMembers(
  n: Started,
  ok: (m: MembersResponse) => boolean,
  ms: number,
): Promise<MembersResponse> {
  const end = Date.now() + ms;
  let last: MembersResponse | null = null;
  for (let i = 0; i < 1000 && Date.now() < end; i++) {
    last = await n.client.members();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  const seen = last?.members.map((x) => `${x.name}:${x.status}`).join(' ') ?? 'nothing';
  throw new Error(`${n.name}: condition not met within ${ms} ms; last view: ${seen}`);
}

function statusOf(m: MembersResponse, id: string): string | undefined {
  return m.members.find((x) => x.id === id)?.status;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-gossip-e2e-'));
  writeFileSync(
    join(root, 'config.toml'),
    '[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n',
  );
});

afterAll(() => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('gossip in real daemons on loopback', () => {
  it('five nodes join through a join list; SIGKILL -> suspect -> dead; node stop -> left', async () => {
    const first = await start('g1', []);
    const rest: Started[] = [];
    // Each node knows only the first one (and the one before it): discovery does the rest.
    for (let i = 2; i <= 5; i++) {
      const seeds = [first.gossip, ...(rest.length > 0 ? [rest[rest.length - 1]!.gossip] : [])];
      rest.push(await start(`g${i}`, seeds));
    }
    const all = [first, ...rest];
    const ids = all.map((n) => n.id).sort();
    for (const n of all) {
      const m = await waitMembers(
        n,
        // The API address is advertised once the API listens, an update after the join itself.
        (v) => v.members.filter((x) => x.status === 'alive' && x.addresses.api !== null).length === 5,
        15_000,
      );
      expect(m.members.map((x) => x.id).sort()).toEqual(ids);
      expect(m.self).toBe(n.id);
      expect(m.encrypted).toBe(false);
      // Each member advertises its API address, so the swarm view is navigable from any node.
      for (const x of m.members)
        expect(x.addresses.api).toBe(all.find((a) => a.id === x.id)!.api_url.slice(7));
    }

    const victim = rest[1]!;
    process.kill(victim.pid, 'SIGKILL');
    pids.delete(victim.pid);
    const survivors = all.filter((n) => n !== victim);
    // Suspect first (SWIM), then dead once the suspicion timeout runs out (Lifeguard: <= ~17 s at N=5).
    const sawSuspect = await Promise.all(
      survivors.map(async (n) => {
        let suspect = false;
        await waitMembers(
          n,
          (v) => {
            const s = statusOf(v, victim.id);
            if (s === 'suspect') suspect = true;
            return s === 'dead';
          },
          40_000,
        );
        return suspect;
      }),
    );
    // Polling every 200 ms may miss a short suspicion on one node, never on all of them.
    expect(sawSuspect.some((s) => s)).toBe(true);

    const leaver = rest[2]!;
    await stop(leaver);
    const others = survivors.filter((n) => n !== leaver);
    for (const n of others) await waitMembers(n, (v) => statusOf(v, leaver.id) === 'left', 5000);

    // The text view lists the members and says the gossip is unencrypted.
    const txt = await runSwarm(
      ['--config', join(root, 'config.toml'), 'swarm', 'status', '--data-dir', first.dataDir],
      { env: env() },
    );
    expect(txt.code).toBe(0);
    expect(txt.stdout).toContain('gossip unencrypted');
    for (const n of all) expect(txt.stdout).toContain(n.id);
    const js = await runSwarm(
      ['--config', join(root, 'config.toml'), 'swarm', 'status', '--json', '--data-dir', first.dataDir],
      { env: env() },
    );
    expect(js.code).toBe(0);
    const parsed = JSON.parse(js.stdout) as MembersResponse & { status: { id: string } };
    expect(parsed.status.id).toBe(first.id);
    expect(statusOf(parsed, leaver.id)).toBe('left');
    expect(statusOf(parsed, victim.id)).toBe('dead');

    // Prometheus: the gossip registry is merged into /metrics.
    const metrics = await (await fetch(`${first.api_url}/metrics`)).text();
    expect(metrics).toContain('swarm_gossip_members{status="dead"} 1');
    expect(metrics).toContain('swarm_gossip_members{status="left"} 1');
    expect(metrics).toContain('swarm_gossip_encrypted 0');

    // The killed node restarts from its data dir on its gossip port (as with the default
    // fixed port): same id and an incarnation above its previous life's, so the others take
    // it back as alive long before they forget the dead record.
    const deadInc = parsed.members.find((x) => x.id === victim.id)!.incarnation;
    const oldPort = victim.gossip.split(':')[1]!;
    const back = await start(victim.name, [first.gossip], '', ['--gossip-port', oldPort]);
    expect(back.id).toBe(victim.id);
    expect(back.gossip).toBe(victim.gossip);
    for (const n of others) {
      const v = await waitMembers(n, (m) => statusOf(m, victim.id) === 'alive', 10_000);
      expect(v.members.find((x) => x.id === victim.id)!.incarnation).toBeGreaterThan(deadInc);
    }
    others.push(back);

    for (const n of others) await stop(n);
  });

  it('a swarm key: same key forms an encrypted swarm, another key is not admitted', async () => {
    const gen = await runSwarm(['keygen'], { env: env() });
    const key = gen.stdout.trim();
    const other = (await runSwarm(['keygen'], { env: env() })).stdout.trim();
    expect(key).not.toBe(other);

    const a = await start('k1', [], key);
    const b = await start('k2', [a.gossip], key);
    const c = await start('k3', [a.gossip], key);
    const intruder = await start('x1', [a.gossip, b.gossip], other);
    const trio = [a, b, c];
    for (const n of trio) {
      const m = await waitMembers(
        n,
        (v) => v.members.filter((x) => x.status === 'alive').length === 3,
        15_000,
      );
      expect(m.encrypted).toBe(true);
      expect((await n.client.status()).security.gossip_encrypted).toBe(true);
    }
    // Give the intruder's join retries time to arrive (first retry 1 s, then 2 s, 4 s).
    await waitMembers(a, (v) => v.counters.dropped_unauthenticated > 0, 10_000);
    await new Promise((r) => setTimeout(r, 3000));
    for (const n of trio) {
      const m = await n.client.members();
      expect(m.members.map((x) => x.id)).not.toContain(intruder.id);
    }
    const im = await intruder.client.members();
    expect(im.members.map((x) => x.id)).toEqual([intruder.id]);

    const txt = await runSwarm(
      ['--config', join(root, 'config.toml'), 'swarm', 'status', '--data-dir', a.dataDir],
      { env: env(key) },
    );
    expect(txt.stdout).toContain('gossip encrypted');

    // --watch refreshes until Ctrl+C, then exits 0.
    const watch = spawn(
      process.execPath,
      [SWARM_BIN, '--config', join(root, 'config.toml'), 'swarm', 'status', '--watch', '0.2', '--json'],
      {
        env: { ...process.env, ...env(key), SWARM_NODE__DATA_DIR: a.dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => watch.on('close', (code) => resolve(code)));
    const killer = setTimeout(() => watch.kill('SIGKILL'), 15_000);
    for (let i = 0; i < 100 && (out.match(/"self":/g) ?? []).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    watch.kill('SIGINT');
    expect(await exited).toBe(0);
    clearTimeout(killer);
    expect((out.match(/"self":/g) ?? []).length).toBeGreaterThanOrEqual(2);

    await stop(intruder, other);
    for (const n of trio) await stop(n, key);

    const none = await runSwarm(
      ['--config', join(root, 'config.toml'), 'swarm', 'status', '--data-dir', a.dataDir],
      { env: env(key) },
    );
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No node is running');
  });
});
