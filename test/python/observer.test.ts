/**
 * swarm_lite.py (clients/python) under CPython against 3 real daemons on loopback (the compiled
 * binary: build first; multicast off, the observer joins through a seed address), issue #19:
 * - listed alive with class `minimal` by every node within 3 s of starting, its battery and power
 *   in `swarm swarm energy --json`, never a Raft voter (nor learner: it has no Raft address);
 * - marked dead after a SIGKILL, `left` (never `dead`) after `.leave()`; alive again after a sleep (SIGSTOP) that
 *   got it declared dead; reads and writes the KV through a node's API over raw HTTP/1.1;
 * - receives a swarm event sent from another node, exactly once, and originates one that every
 *   node delivers (needs branch `events`: skipped while `POST /v1/events` answers 404, i.e. before
 *   that branch is merged; checked by hand against that branch's build on 2026-12-07);
 * - with the swarm's key it joins; with a wrong key it is refused, and the node reports it in
 *   `/v1/status` `security.refused_peers`.
 * Timeouts are generous (a loaded machine); the 3 s listing bound is the requirement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembersResponse } from '../../src/api/members-types.js';
import { Observer, poll, TestSwarm, type Daemon } from './helpers.js';

function statusOf(m: MembersResponse, id: string): string | undefined {
  return m.members.find((x) => x.id === id)?.status;
}

async function everyNodeSees(
  nodes: readonly Daemon[],
  id: string,
  status: string,
  ms: number,
): Promise<void> {
  await Promise.all(
    nodes.map((n) =>
      // Polls the one record, so a failure's "last" shows what this node held of it (status,
      // incarnation) rather than the first 800 characters of the whole member list.
      poll(
        async () => (await n.client.members()).members.find((x) => x.id === id) ?? 'absent',
        (m) => m !== 'absent' && m.status === status,
        ms,
        `${n.name} lists ${id} ${status}`,
      ),
    ),
  );
}

/** 3 daemons of `swarm` up before the block's tests; its `observers` killed and the daemons stopped after. */
function startAround(swarm: TestSwarm, observers: Observer[], started: (nodes: Daemon[]) => void): void {
  beforeAll(async () => {
    started(await swarm.start(3));
  }, 120_000);
  afterAll(() => {
    for (const o of observers) o.kill();
    swarm.stop();
  });
}

describe('swarm_lite observer, 3 real daemons, no swarm key', () => {
  const swarm = new TestSwarm();
  const observers: Observer[] = [];
  let nodes: Daemon[];
  startAround(swarm, observers, (started) => (nodes = started));

  it('is listed alive as minimal by every node within 3 s, shows its energy, never votes; dead after SIGKILL', async () => {
    const t0 = Date.now();
    const obs = new Observer(`127.0.0.1:${nodes[1]!.port}`, 'esp-sensor', { battery: '87.5', power: '0.12' });
    observers.push(obs);
    const ready = await obs.waitFor('ready', 20_000);
    const id = ready.id as string;
    await everyNodeSees(nodes, id, 'alive', 10_000);
    const listedMs = Date.now() - t0;
    console.log(`observer listed alive by all 3 nodes ${listedMs} ms after its process was spawned`);
    expect(listedMs).toBeLessThan(3000);
    for (const n of nodes) {
      const m = (await n.client.members()).members.find((x) => x.id === id)!;
      expect(m.device_class).toBe('minimal');
      expect(m.name).toBe('esp-sensor');
      expect(m.addresses.raft).toBeNull();
    }

    const energy = await poll(
      async () => {
        const r = await swarm.swarm(['swarm', 'energy', '--json', '--data-dir', nodes[2]!.dataDir]);
        return JSON.parse(r.stdout) as {
          swarm: { members: { id: string; energy: { power_w: number; battery_percent: number } | null }[] };
        };
      },
      (e) => e.swarm.members.some((m) => m.id === id && m.energy !== null),
      10_000,
      'observer energy in swarm energy --json',
    );
    const mine = energy.swarm.members.find((m) => m.id === id)!;
    expect(mine.energy).toMatchObject({ power_w: 0.12, battery_percent: 87.5 });

    // The observer learns the members too (join push-pull, then piggybacked updates).
    for (const n of nodes) await obs.waitFor('member', 10_000, (l) => l.id === n.id && l.status === 'alive');

    // A few seconds for the autopilot to act: it must add no minimal member, as voter or learner.
    await new Promise((r) => setTimeout(r, 3000));
    for (const n of nodes) {
      const st = await n.client.status();
      expect(st.voters).not.toContain(id);
      expect(st.learners).not.toContain(id);
    }
    const leader = await nodes[0]!.client.leader();
    expect(leader.voters).not.toContain(id);

    obs.kill();
    await everyNodeSees(nodes, id, 'dead', 40_000);
  });

  it('a device that slept (SIGSTOP) until declared dead is alive again after it wakes', async () => {
    const obs = new Observer(`127.0.0.1:${nodes[2]!.port}`, 'esp-sleeper');
    observers.push(obs);
    const id = (await obs.waitFor('ready', 20_000)).id as string;
    await everyNodeSees(nodes, id, 'alive', 15_000);
    const before = (await nodes[0]!.client.members()).members.find((x) => x.id === id)!.incarnation;
    obs.proc.kill('SIGSTOP');
    try {
      await poll(
        () => nodes[0]!.client.members(),
        (m) => statusOf(m, id) === 'dead',
        30_000,
        'the sleeping observer declared dead',
      );
    } finally {
      obs.proc.kill('SIGCONT');
    }
    // Gossip to the dead tells it, and it refutes (or it rejoins after 15 s of silence): alive, higher incarnation.
    await everyNodeSees(nodes, id, 'alive', 30_000);
    const after = (await nodes[1]!.client.members()).members.find((x) => x.id === id)!.incarnation;
    expect(after).toBeGreaterThan(before);
  });

  it("reads and writes the replicated KV through a node's API (raw HTTP/1.1)", async () => {
    const obs = new Observer(`127.0.0.1:${nodes[1]!.port}`, 'esp-kv');
    observers.push(obs);
    await obs.waitFor('joined', 20_000);
    // The observer picks a live member advertising an API (all on 127.0.0.1 here).
    await poll(
      async () => obs.lines.filter((l) => l.kind === 'member').length,
      (n) => n >= 3,
      10_000,
      'observer holds the members with their API addresses',
    );
    // The KV needs the Raft cluster formed (a few seconds after the nodes started).
    await poll(
      () => nodes[0]!.client.leader(),
      (l) => l.leader !== null,
      30_000,
      'a Raft leader',
    );
    obs.send('kv_put sensors/esp-kv {"t":21.5}');
    const put = await obs.waitFor('kv_put', 15_000);
    expect(put.revision as number).toBeGreaterThan(0);
    const item = await nodes[2]!.client.kvGet('sensors/esp-kv');
    expect(item.value).toEqual({ t: 21.5 });
    expect(item.revision).toBe(put.revision);
    await nodes[0]!.client.kvPut('config/esp-kv', { interval_s: 30 });
    obs.send('kv_get config/esp-kv');
    expect((await obs.waitFor('kv_get', 15_000)).value).toEqual({ interval_s: 30 });
    obs.send('kv_get config/absent');
    expect((await obs.waitFor('kv_get', 15_000, (l) => l.value === null)).value).toBeNull();
  });

  it('is marked left by every node after leave(), and never dead', async () => {
    const obs = new Observer(`127.0.0.1:${nodes[0]!.port}`, 'esp-leaver');
    observers.push(obs);
    const id = (await obs.waitFor('ready', 20_000)).id as string;
    await everyNodeSees(nodes, id, 'alive', 15_000);
    obs.send('leave');
    await obs.waitFor('left', 10_000);
    // What a planned shutdown promises operators: every node lists it `left`, none ever `dead`.
    // The leave goes out once; a node it missed learns it when its own probe finds the observer
    // silent (docs/protocol.md "Leave"), a few probe periods under load: generous bound, strict
    // `dead` check (polled, so a brief one could slip by; test/sim/gossip/leave.test.ts is exact).
    const seen = new Map(nodes.map((n) => [n.name, new Set<string>()]));
    await Promise.all(
      nodes.map((n) =>
        poll(
          async () => {
            const st = statusOf(await n.client.members(), id) ?? 'absent';
            seen.get(n.name)!.add(st);
            return st;
          },
          (st) => st === 'left',
          45_000,
          `${n.name} lists ${id} left`,
        ),
      ),
    );
    for (const n of nodes) expect([...seen.get(n.name)!]).not.toContain('dead');
  });

  // Depends on branch `events` (POST /v1/events); skipped while the route does not exist.
  it('receives a swarm event sent from another node [needs branch events]', async (ctx) => {
    const obs = new Observer(`127.0.0.1:${nodes[0]!.port}`, 'esp-listener');
    observers.push(obs);
    const id = (await obs.waitFor('ready', 20_000)).id as string;
    // 30 s: a guard against a hang, not a speed bound (the first test holds the 3 s listing
    // requirement); one CI run on a loaded machine took over 15 s here.
    await everyNodeSees(nodes, id, 'alive', 30_000);
    const probe = await fetch(`${nodes[2]!.api_url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'water', payload: '{"ml":250}' }),
    });
    if (probe.status === 404) {
      ctx.skip();
      return;
    }
    expect(probe.status).toBeLessThan(300);
    const ev = await obs.waitFor('event', 15_000, (l) => l.name === 'water');
    expect(ev.payload).toBe('{"ml":250}');
    expect(ev.origin).toBe(nodes[2]!.id);
    // Delivered once, even though the hub's ihave names it again.
    await new Promise((r) => setTimeout(r, 1500));
    expect(obs.lines.filter((l) => l.kind === 'event' && l.name === 'water')).toHaveLength(1);

    // And it originates one (user-event to one member), which every node delivers.
    obs.send('emit button 1');
    await obs.waitFor('emitted', 5000);
    for (const n of nodes) {
      await poll(
        async () =>
          (await (await fetch(`${n.api_url}/v1/events/recent?name=button`)).json()) as {
            events: { id: string }[];
          },
        (r) => r.events.some((e) => e.id === `${id}:1`),
        15_000,
        `${n.name} delivered the observer's event`,
      );
    }
  });
});

describe('swarm_lite observer with a swarm key', () => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff)).toString('base64');
  const wrong = Buffer.alloc(32, 9).toString('base64');
  const swarm = new TestSwarm(key);
  const observers: Observer[] = [];
  let nodes: Daemon[];
  startAround(swarm, observers, (started) => (nodes = started));

  it('joins with the key (AES-256-GCM both ways)', async () => {
    const obs = new Observer(`127.0.0.1:${nodes[1]!.port}`, 'esp-keyed', {
      key,
      battery: '55',
      power: '0.2',
    });
    observers.push(obs);
    const id = (await obs.waitFor('ready', 20_000)).id as string;
    await everyNodeSees(nodes, id, 'alive', 10_000);
    await obs.waitFor('joined', 10_000);
    await poll(
      () => nodes[0]!.client.members(),
      (m) => m.members.find((x) => x.id === id)?.energy?.battery_percent === 55,
      10_000,
      'published battery seen through the encrypted channel',
    );
    for (const n of nodes) expect((await n.client.status()).security.refused_peers).toEqual([]);
  });

  it('with a wrong key is refused and reported in security.refused_peers', async () => {
    const obs = new Observer(`127.0.0.1:${nodes[2]!.port}`, 'esp-intruder', { key: wrong });
    observers.push(obs);
    const ready = await obs.waitFor('ready', 20_000);
    const addr = `127.0.0.1:${ready.port as number}`;
    const st = await poll(
      () => nodes[2]!.client.status(),
      (s) => s.security.refused_peers.some((p) => p.address === addr),
      15_000,
      'seed reports the observer as refused',
    );
    const refused = st.security.refused_peers.find((p) => p.address === addr)!;
    expect(refused.channel).toBe('gossip');
    expect(refused.cause).toBe('different_key');
    // Nothing answers it: it never joins and no node lists it.
    await new Promise((r) => setTimeout(r, 2000));
    expect(obs.lines.some((l) => l.kind === 'joined')).toBe(false);
    for (const n of nodes) expect(statusOf(await n.client.members(), ready.id as string)).toBeUndefined();
  });
});
