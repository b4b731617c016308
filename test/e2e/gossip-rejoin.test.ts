/**
 * Real daemons on loopback (the compiled binary: build first), multicast off,
 * join lists only (issue #13 parts 4 and 5):
 * - a SIGKILLed member restarted with the same data dir is alive again in
 *   every member's /v1/members with a higher incarnation; so is the first
 *   member, which has no join list of its own (it rejoins through the peers
 *   it remembers in its data dir). The measured times are printed.
 * - nodes that cannot authenticate each other's packets say so: each lists
 *   the other in /v1/status security.refused_peers with the likely cause
 *   (different key; key on one side only), in Prometheus, and in `swarm swarm status`.
 * Timeouts are generous (a loaded machine); timing goals are in bench/gossip-rejoin-live.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembersResponse } from '../../src/api/members-types.js';
import type { StatusResponse } from '../../src/api/types.js';
import { SwarmClient } from '../../src/client/client.js';
import { freeUdpPorts } from '../helpers/free-ports.js';
import { isolatedEnv, runSwarm, type StartedDaemon } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

type Started = StartedDaemon;

let root: string;
const pids = new Set<number>();

function env(key: string): NodeJS.ProcessEnv {
  return isolatedEnv(root, {
    SWARM_SECURITY__SWARM_KEY: key,
  });
}

async function start(name: string, port: number, joinPorts: readonly number[], key = ''): Promise<Started> {
  const dataDir = join(root, name);
  const args = ['--config', join(root, 'config.toml'), 'node', 'start', '--json', '--name', name];
  args.push('--data-dir', dataDir, '--no-multicast', '--gossip-port', String(port));
  if (joinPorts.length > 0) args.push('--join', joinPorts.map((p) => `127.0.0.1:${p}`).join(','));
  const r = await runSwarm(args, { env: env(key) });
  const pidMatch = /"pid":(\d+)/.exec(r.stdout);
  if (pidMatch) pids.add(Number(pidMatch[1]));
  expect(r.stderr).toMatch(/^(removed stale pidfile and lock of dead PID \d+\n)?$/);
  expect(r.code).toBe(0);
  const info = JSON.parse(r.stdout) as { pid: number; id: string; api_url: string };
  pids.add(info.pid);
  return {
    name,
    ...info,
    dataDir,
    port,
    client: new SwarmClient({ baseUrl: info.api_url, timeoutMs: 3000 }),
  };
}

async function stop(n: Started, key = ''): Promise<void> {
  const r = await runSwarm(['--config', join(root, 'config.toml'), 'node', 'stop', '--data-dir', n.dataDir], {
    env: env(key),
  });
  expect(r.code).toBe(0);
  pids.delete(n.pid);
}

async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  for (let i = 0; i < 2000 && Date.now() < end; i++) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // a daemon busy starting: try again
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${ms} ms: ${what}; last: ${JSON.stringify(last)?.slice(0, 600)}`);
}

function member(m: MembersResponse, id: string): MembersResponse['members'][number] | undefined {
  return m.members.find((x) => x.id === id);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'swarm-rejoin-e2e-'));
  writeFileSync(
    join(root, 'config.toml'),
    '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n',
  );
});

afterAll(() => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('rejoin and refused peers, real daemons on loopback', () => {
  it('a SIGKILLed member restarted from its data dir is alive again everywhere', async () => {
    const ports = await freeUdpPorts(5);
    const nodes: Started[] = [await start('j0', ports[0]!, [])];
    for (let i = 1; i < 5; i++) nodes.push(await start(`j${i}`, ports[i]!, [ports[0]!]));
    for (const n of nodes) {
      await poll(
        () => n.client.members(),
        (m) => m.members.filter((x) => x.status === 'alive').length === 5,
        30_000,
        `${n.name} sees 5 alive`,
      );
    }
    // Past the first save of the remembered peers (5 s after start), so j0 can find them again.
    await new Promise((r) => setTimeout(r, 6000));

    // j2 (joins through j0), then j0 (no join list: the others name it).
    for (const vi of [2, 0]) {
      const victim = nodes[vi]!;
      const others = nodes.filter((n) => n !== victim);
      const old = member(await others[0]!.client.members(), victim.id)!.incarnation;
      process.kill(victim.pid, 'SIGKILL');
      pids.delete(victim.pid);
      for (const n of others) {
        await poll(
          () => n.client.members(),
          (m) => member(m, victim.id)?.status === 'dead',
          60_000,
          `${n.name} marks ${victim.name} dead`,
        );
      }
      const t0 = Date.now();
      const back = await start(victim.name, victim.port, vi === 0 ? [] : [ports[0]!]);
      const ready = Date.now();
      expect(back.id).toBe(victim.id);
      nodes[vi] = back;
      for (const n of others) {
        await poll(
          () => n.client.members(),
          (m) => member(m, victim.id)?.status === 'alive' && member(m, victim.id)!.incarnation > old,
          20_000,
          `${n.name} sees ${victim.name} alive again`,
        );
      }
      const done = Date.now();
      console.log(
        `restart of ${victim.name}${vi === 0 ? ' (no join list)' : ''}: alive in all ${others.length} views ` +
          `${done - t0} ms after the start command, ${done - ready} ms after the daemon was ready`,
      );
    }
    for (const n of nodes) await stop(n);
  });

  it('nodes with different swarm keys, or a key on one side only, list each other as refused with the cause', async () => {
    const gen = async (): Promise<string> => (await runSwarm(['keygen'], { env: env('') })).stdout.trim();
    const k1 = await gen();
    const k2 = await gen();
    const [pa, pb, pc] = (await freeUdpPorts(3)) as [number, number, number];
    // Each names the others, so packets flow both ways although none is ever admitted.
    const a = await start('ka', pa, [pb, pc], k1);
    const b = await start('kb', pb, [pa], k2);
    const c = await start('kc', pc, [pa], '');
    const refused = (n: Started, port: number, cause: string): Promise<StatusResponse> =>
      poll(
        () => n.client.status(),
        (s) =>
          s.security.refused_peers.some(
            (p) =>
              p.address === `127.0.0.1:${port}` && p.channel === 'gossip' && p.cause === cause && p.count > 0,
          ),
        30_000,
        `${n.name} refuses 127.0.0.1:${port} (${cause})`,
      );
    const sa = await refused(a, pb, 'different_key');
    await refused(a, pc, 'peer_has_no_key');
    await refused(b, pa, 'different_key');
    await refused(c, pa, 'peer_has_key');
    expect(sa.security.refused_peers.find((p) => p.address === `127.0.0.1:${pb}`)!.hint).toContain(
      'different swarm key?',
    );
    // Nobody was admitted.
    for (const n of [a, b, c]) expect((await n.client.members()).members).toHaveLength(1);

    const metrics = await (await fetch(`${a.api_url}/metrics`)).text();
    expect(metrics).toMatch(/swarm_packets_refused_total\{reason="different_key"\} [1-9]/);
    expect(metrics).toMatch(/swarm_packets_refused_total\{reason="peer_has_no_key"\} [1-9]/);

    const txt = await runSwarm(
      ['--config', join(root, 'config.toml'), 'swarm', 'status', '--data-dir', a.dataDir],
      { env: env(k1) },
    );
    expect(txt.code).toBe(0);
    expect(txt.stdout).toMatch(
      new RegExp(`WARNING refused:\\s+127\\.0\\.0\\.1:${pb} \\(gossip.*different swarm key\\?`),
    );
    expect(txt.stdout).toContain('security.swarm_key unset there');

    // One warning line per source and cause, although packets kept coming (rate limit: 1 per minute).
    const log = readFileSync(join(a.dataDir, 'node.log'), 'utf8').split('\n');
    const warnings = log.filter((l) => l.includes(`refused gossip packets from 127.0.0.1:${pb}`));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('different swarm key?');
    expect(log.filter((l) => l.includes(`refused gossip packets from 127.0.0.1:${pc}`))).toHaveLength(1);

    await stop(a, k1);
    await stop(b, k2);
    await stop(c, '');
  });
});
