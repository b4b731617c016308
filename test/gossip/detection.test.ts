/**
 * Failure detection timing pieces (issue #16: a failure known everywhere within
 * memberlist's time): a probe's wait for an ack is not stretched by the energy
 * modes' longer probe period, a member that hears a suspicion probes the
 * suspect itself at once (the independent confirmation Lifeguard's timeout needs),
 * and such news is gossiped on memberlist's 200 ms rhythm whatever the interval.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { MemberStatus } from '../../src/gossip/messages.js';
import { GossipNode } from '../../src/gossip/node.js';
import type { GossipConfig } from '../../src/gossip/types.js';
import { GossipSim, sharedView } from '../../src/sim/gossip/driver.js';
import { hearUpdates, runTimers } from '../helpers/gossip-news.js';

function node(
  ids: string[],
  seed = 7,
  view = sharedView(ids),
  config: Partial<GossipConfig> = {},
): GossipNode {
  const n = new GossipNode({
    self: { id: ids[0]!, name: ids[0]!, host: ids[0]!, port: 0 },
    rng: createRng(seed),
    view,
    config,
  });
  n.tick(0);
  n.drain();
  return n;
}

describe('failure detection timing', () => {
  it('a stretched probe period (probeScale) does not stretch the wait for an ack', () => {
    const n = node(['x', 'y']);
    n.setParams({ probeScale: 4 });
    // Find the first probe of y (the period is 4 s now), then let it go unanswered.
    let started = -1;
    for (let i = 0; i < 100 && started < 0; i++) {
      const t = n.nextDeadline();
      n.tick(t);
      if (n.drain().some((o) => o.msg.type === 'ping' && o.to === 'y')) started = t;
    }
    expect(started).toBeGreaterThanOrEqual(0);
    runTimers(n, started + 1000);
    // Suspect one base period (1 s) after the ping, not four.
    expect(n.member('y')?.status).toBe(MemberStatus.Suspect);
    // And the next regular probe still waits for the stretched period.
    expect(n.nextDeadline()).toBeGreaterThan(started + 1000);
  });

  it('hearing a suspicion, a member probes the suspect at once (not in its round-robin turn)', () => {
    // Six members: every one of them probes (about six do in any swarm).
    const ids = ['x', ...Array.from({ length: 5 }, (_, i) => `m${i}`)];
    const n = node(ids);
    const now = 10;
    hearUpdates(n, 'm1', [{ kind: 'suspect', id: 'm3', incarnation: 0, from: 'm1' }], now);
    expect(n.member('m3')?.status).toBe(MemberStatus.Suspect);
    expect(n.nextDeadline()).toBe(now);
    n.tick(now);
    const pings = n.drain().filter((o) => o.msg.type === 'ping');
    expect(pings.map((o) => o.to)).toEqual(['m3']);
    // The buddy system: the ping tells m3 it is suspected, so a live m3 refutes at once.
    expect(pings[0]!.msg).toMatchObject({
      updates: expect.arrayContaining([{ kind: 'suspect', id: 'm3', incarnation: 0, from: 'x' }]),
    });
    // No busy loop: the next deadline lies ahead while that probe is in flight.
    expect(n.nextDeadline()).toBeGreaterThan(now);
    // A suspicion we raised ourselves needs no second probe of ours.
    n.receive(
      { host: 'm7', port: 0 },
      { type: 'ack', from: 'm7', seq: 999, target: 'm7', updates: [] },
      now + 1,
    );
    expect(runTimers(n, now + 5).filter((o) => o.msg.type === 'ping')).toEqual([]);
  });

  it('in a large swarm only a handful of members probe a suspect at once (no herd of pings)', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `m${i}`);
    const view = sharedView(ids);
    let urgent = 0;
    const observers = 300;
    for (let i = 0; i < observers; i++) {
      const n = node([ids[i + 1]!, ...ids], i + 1, view);
      hearUpdates(n, 'm999', [{ kind: 'suspect', id: 'm0', incarnation: 0, from: 'm999' }], 10);
      // The suspicion also goes out at once (urgent news), so look at the pings, not the deadline.
      n.tick(10);
      if (n.drain().some((o) => o.msg.type === 'ping' && o.to === 'm0')) urgent++;
    }
    // Expected 300 * 6 / 1000 = 1.8 of 300.
    expect(urgent).toBeLessThanOrEqual(10);
  });

  it('at the daemon 1 s gossip interval, a suspicion heard goes out within 200 ms, other news waits', () => {
    const ids = ['x', ...Array.from({ length: 9 }, (_, i) => `m${i}`)];
    const n = node(ids, 7, sharedView(ids), { gossipIntervalMs: 1000 });
    // A round just went (a metadata change of ours): the next regular one is 1 s away.
    n.updateMeta({ api: '127.0.0.1:1' }, 5);
    n.tick(5);
    n.drain();
    const gossipTo = (out: ReturnType<GossipNode['drain']>, kind: string): number =>
      out.filter(
        (o) => o.msg.type === 'gossip' && o.msg.updates.some((u: { kind: string }) => u.kind === kind),
      ).length;
    // Another member's metadata: plain news, it waits for the regular round.
    hearUpdates(
      n,
      'm1',
      [{ kind: 'alive', member: { ...n.member('m2')!, incarnation: 5, meta: { api: 'a:1' } } }],
      10,
    );
    expect(n.nextDeadline()).toBeGreaterThan(500);
    hearUpdates(n, 'm1', [{ kind: 'suspect', id: 'm3', incarnation: 0, from: 'm1' }], 20);
    const out = runTimers(n, 205);
    expect(gossipTo(out, 'suspect')).toBeGreaterThan(0);
  });

  it('crash to dead everywhere at the daemon 1 s gossip interval within memberlist time (simulated, 1 % loss)', () => {
    const known: number[] = [];
    for (let seed = 1; seed <= 9; seed++) {
      const sim = new GossipSim({
        seed,
        link: { latencyMs: 1, jitterMs: 1, loss: 0.01, duplicate: 0 },
        config: { gossipIntervalMs: 1000 },
      });
      const ids = sim.bootstrap(25);
      sim.run(20_000);
      sim.kill('n3');
      const t0 = sim.now;
      const others = ids.filter((i) => i !== 'n3');
      let k = Number.POSITIVE_INFINITY;
      for (let t = t0 + 50; t <= t0 + 30_000 && k === Number.POSITIVE_INFINITY; t += 50) {
        sim.run(t);
        if (others.every((v) => sim.node(v).member('n3')?.status === MemberStatus.Dead)) k = t - t0;
      }
      known.push(k);
    }
    known.sort((a, b) => a - b);
    // memberlist's LAN profile: 7.6 s on the bench machine. Rounds every 1 s for this news: 8.2 s.
    expect(known[4]).toBeLessThan(7600);
  });

  it("probing a crashed member costs the prober no health: the relays' nacks arrive before its probe ends", () => {
    // Lifeguard: relays that nack show our own links work, so a failed probe of a member that
    // really died must not stretch our probing. The relays nacked one probe timeout after the
    // ping-req, which left at the direct timeout: the nacks arrived just after the probe ended,
    // every prober of a dead member scored 3 and probed 4x slower for ~10 s (the next failure
    // was found later, and its confirmations came from 4 s probes).
    for (let seed = 1; seed <= 5; seed++) {
      const sim = new GossipSim({ seed, link: { latencyMs: 1, jitterMs: 1, loss: 0, duplicate: 0 } });
      const ids = sim.bootstrap(25);
      sim.run(20_000);
      // Each prober's health score when it starts its next probe after its probe of n3 failed.
      const failed = new Set<string>();
      const scoreAfter = new Map<string, number>();
      for (const id of ids)
        sim.with(id, (c) =>
          c.setTrace((t) => {
            if (t.kind === 'probe-failed' && t.target === 'n3') failed.add(id);
            else if (t.kind === 'probe' && failed.has(id) && !scoreAfter.has(id))
              scoreAfter.set(id, sim.node(id).stats().healthScore);
          }),
        );
      sim.kill('n3');
      sim.run(sim.now + 20_000);
      expect(scoreAfter.size).toBeGreaterThan(0);
      // No probe of a live member fails here (no loss): any score comes from probing n3.
      for (const [id, score] of scoreAfter) expect(score, `${id}, seed ${seed}`).toBe(0);
    }
  });

  it('a relay nacks at 0.8 of the probe timeout and still passes on an ack that comes later', () => {
    const n = node(['r', 'a', 't']);
    n.receive(
      { host: 'a', port: 0 },
      {
        type: 'ping-req',
        from: 'a',
        seq: 42,
        target: 't',
        targetHost: 't',
        targetPort: 0,
        wantNack: true,
        updates: [],
      },
      1000,
    );
    const ping = n.drain().find((o) => o.msg.type === 'ping' && o.host === 't');
    expect(ping).toBeDefined();
    const relaySeq = ping!.msg.type === 'ping' ? ping!.msg.seq : -1;
    // Nothing before 400 ms (RELAY_NACK_SHARE x 500 ms), the nack at 400 ms.
    expect(n.nextDeadline()).toBeLessThanOrEqual(1400);
    n.tick(1399);
    expect(n.drain().some((o) => o.msg.type === 'nack')).toBe(false);
    n.tick(1400);
    const nack = n.drain().find((o) => o.msg.type === 'nack');
    expect(nack?.host).toBe('a');
    expect(nack?.msg).toMatchObject({ seq: 42, target: 't' });
    // The target answers late but within the probe timeout: the requester still gets its ack.
    n.receive(
      { host: 't', port: 0 },
      { type: 'ack', from: 't', seq: relaySeq, target: 't', updates: [] },
      1450,
    );
    const ack = n.drain().find((o) => o.msg.type === 'ack');
    expect(ack?.host).toBe('a');
    expect(ack?.msg).toMatchObject({ seq: 42, target: 't' });
  });
});
