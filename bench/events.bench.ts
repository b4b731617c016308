/**
 * Swarm event dissemination in 25 real daemons (issue #17 "event
 * dissemination time to all of 25 nodes").
 *
 * 25 daemons on the host's loopback (127.0.0.1 only, multicast off, every
 * node's join list = the others, ports in a block unlikely to be in use). The
 * benchmark holds one SSE stream (`GET /v1/events`) open at every node and
 * sends events with `POST /v1/events` from rotating nodes; an event's
 * dissemination time is from just before its POST until the last of the 25
 * streams delivered it, all on this process's clock. Two phases:
 * - isolated: events one at a time, 300 ms apart (the latency of one event);
 * - load: events at 20/s from rotating origins (batching at work).
 * Cost: the daemons' own gossip counters (`/v1/members` counters, UDP payload
 * bytes and packets sent) over the load phase, minus an idle window of the
 * same length just before it, per event and per node. Every stream must see
 * every event exactly once (counted as duplicates / missing otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DemoNode } from '../src/cli/commands/demo.js';
import { daemonArgs } from '../src/cli/daemon.js';
import { SwarmClient, type EventWatchItem } from '../src/client/client.js';
import { stopChild, swarmNodeConfig } from './local-swarm.js';
import type { BenchReport } from './types.js';

const NODES = Number(process.env.SWARM_EVENTS_NODES ?? 25);
const ISOLATED = Number(process.env.SWARM_EVENTS_ISOLATED ?? 50);
const LOAD = Number(process.env.SWARM_EVENTS_LOAD ?? 200);
const LOAD_PER_S = Number(process.env.SWARM_EVENTS_RATE ?? 20);
const PAYLOAD_BYTES = 64;
const GOSSIP_BASE = 27_000;
const API_BASE = 28_000;
const RAFT_BASE = 29_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const r1 = (x: number): number => Math.round(x * 10) / 10;
function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

interface BenchNode extends DemoNode {
  child?: ChildProcess;
  client: SwarmClient;
}

async function waitMembers(nodes: readonly BenchNode[], deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    try {
      const views = await Promise.all(nodes.map((n) => n.client.members()));
      if (views.every((v) => v.members.filter((m) => m.status === 'alive').length === nodes.length))
        return true;
    } catch {
      // a node still starting
    }
    await sleep(500);
  }
  return false;
}

interface Counters {
  packets: number;
  bytes: number;
}

async function gossipOut(nodes: readonly BenchNode[]): Promise<Counters> {
  const views = await Promise.all(nodes.map((n) => n.client.members()));
  return views.reduce(
    (acc, v) => ({ packets: acc.packets + v.counters.packets_out, bytes: acc.bytes + v.counters.bytes_out }),
    { packets: 0, bytes: 0 },
  );
}

export default async function bench(): Promise<BenchReport> {
  const root = mkdtempSync(join(tmpdir(), 'swarm-bench-events-'));
  const config = join(root, 'config.toml');
  writeFileSync(
    config,
    '[network]\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nbind_address = "127.0.0.1"\n',
  );
  const nodes: BenchNode[] = Array.from({ length: NODES }, (_, i) => ({
    name: `ev-${i + 1}`,
    dataDir: join(root, `ev-${i + 1}`),
    gossipPort: GOSSIP_BASE + i,
    apiPort: API_BASE + i,
    raftPort: RAFT_BASE + i,
    client: new SwarmClient({ baseUrl: `http://127.0.0.1:${API_BASE + i}`, timeoutMs: 10_000 }),
  }));
  const env = { ...process.env, SWARM_CONFIG: '' };
  const ac = new AbortController();
  /** Per event id: receipt times at each node (index = node), and how many times each node delivered it. */
  const seen = new Map<string, { at: number[]; count: number[] }>();
  const sentAt = new Map<string, number>();
  const streams: Promise<void>[] = [];
  let formedS = Number.NaN;
  const phases: Record<string, { lat: number[]; missing: number; duplicates: number; seconds: number }> = {};
  let idle: Counters = { packets: 0, bytes: 0 };
  let load: Counters = { packets: 0, bytes: 0 };
  try {
    const t0 = performance.now();
    for (const n of nodes) {
      const child = spawn(process.execPath, daemonArgs(swarmNodeConfig(n, nodes, config, env), env), {
        stdio: 'ignore',
        env,
      });
      n.child = child;
    }
    if (!(await waitMembers(nodes, 180_000)))
      throw new Error('the 25 daemons did not all see each other alive');
    formedS = (performance.now() - t0) / 1000;
    await sleep(5000);

    let ready = 0;
    for (const [i, n] of nodes.entries()) {
      streams.push(
        (async () => {
          for await (const it of n.client.watchEvents({ name: 'bench', signal: ac.signal })) {
            onItem(i, it);
          }
        })().catch(() => undefined),
      );
    }
    function onItem(i: number, it: EventWatchItem): void {
      if (it.type === 'ready') ready++;
      if (it.type !== 'event') return;
      const now = performance.now();
      let s = seen.get(it.event.id);
      if (s === undefined) {
        s = { at: new Array<number>(NODES).fill(Number.NaN), count: new Array<number>(NODES).fill(0) };
        seen.set(it.event.id, s);
      }
      s.count[i]!++;
      if (Number.isNaN(s.at[i]!)) s.at[i] = now;
    }
    for (let i = 0; i < 300 && ready < NODES; i++) await sleep(100);
    if (ready < NODES) throw new Error(`only ${ready} of ${NODES} streams opened`);

    const payload = 'x'.repeat(PAYLOAD_BYTES);
    const send = async (k: number): Promise<string> => {
      const n = nodes[(k * 7) % NODES]!;
      const t = performance.now();
      const r = await n.client.sendEvent('bench', payload);
      sentAt.set(r.id, t);
      return r.id;
    };
    const settle = async (ids: readonly string[], name: string, seconds: number): Promise<void> => {
      const end = Date.now() + 30_000;
      const complete = (id: string): boolean => seen.get(id)?.count.every((c) => c >= 1) ?? false;
      while (Date.now() < end && !ids.every(complete)) await sleep(100);
      // Late duplicates would come from repair or anti-entropy within a few gossip periods.
      await sleep(2000);
      const lat: number[] = [];
      let missing = 0;
      let duplicates = 0;
      for (const id of ids) {
        const s = seen.get(id);
        for (let i = 0; i < NODES; i++) {
          const c = s?.count[i] ?? 0;
          if (c === 0) missing++;
          if (c > 1) duplicates += c - 1;
        }
        if (s && s.count.every((c) => c >= 1)) lat.push(Math.max(...s.at) - sentAt.get(id)!);
      }
      phases[name] = { lat, missing, duplicates, seconds };
    };

    // Isolated events.
    const isolated: string[] = [];
    const tIso = performance.now();
    for (let k = 0; k < ISOLATED; k++) {
      isolated.push(await send(k));
      await sleep(300);
    }
    await settle(isolated, 'isolated', (performance.now() - tIso) / 1000);

    // Idle window of the load phase's length, then the load phase, for the traffic cost.
    const loadS = LOAD / LOAD_PER_S;
    const i0 = await gossipOut(nodes);
    await sleep(loadS * 1000);
    const i1 = await gossipOut(nodes);
    idle = { packets: i1.packets - i0.packets, bytes: i1.bytes - i0.bytes };
    const loaded: Promise<string>[] = [];
    const tLoad = performance.now();
    const l0 = await gossipOut(nodes);
    for (let k = 0; k < LOAD; k++) {
      const due = tLoad + (k * 1000) / LOAD_PER_S;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      loaded.push(send(ISOLATED + k));
    }
    const loadIds = await Promise.all(loaded);
    const l1 = await gossipOut(nodes);
    load = { packets: l1.packets - l0.packets, bytes: l1.bytes - l0.bytes };
    // The counters window is the send window (loadS plus the tail of the last POSTs): scale idle to it.
    const loadWindowS = (performance.now() - tLoad) / 1000;
    idle = { packets: (idle.packets * loadWindowS) / loadS, bytes: (idle.bytes * loadWindowS) / loadS };
    await settle(loadIds, 'load', loadWindowS);
  } finally {
    ac.abort();
    await Promise.all(nodes.map((n) => (n.child ? stopChild(n.child) : undefined)));
    await Promise.race([Promise.all(streams), sleep(2000)]);
    rmSync(root, { recursive: true, force: true });
  }
  const iso = phases.isolated!;
  const ld = phases.load!;
  const extraPackets = load.packets - idle.packets;
  const extraBytes = load.bytes - idle.bytes;
  return {
    name: 'events',
    description: `Swarm event dissemination in ${NODES} real daemons on loopback: POST /v1/events at one node until the last of ${NODES} SSE streams delivered it; ${ISOLATED} isolated events (300 ms apart), then ${LOAD} at ${LOAD_PER_S}/s from rotating origins; gossip packets and bytes per event from the daemons' counters (load minus idle).`,
    metrics: {
      nodes: NODES,
      formed_s: r1(formedS),
      machine_load_1m: r1(loadavg()[0] ?? 0),
      isolated_median_ms: r1(pct(iso.lat, 50)),
      isolated_p99_ms: r1(pct(iso.lat, 99)),
      isolated_max_ms: r1(Math.max(...iso.lat)),
      isolated_missing: iso.missing,
      isolated_duplicates: iso.duplicates,
      load_median_ms: r1(pct(ld.lat, 50)),
      load_p99_ms: r1(pct(ld.lat, 99)),
      load_max_ms: r1(Math.max(...ld.lat)),
      load_missing: ld.missing,
      load_duplicates: ld.duplicates,
      load_packets_per_event: r1(extraPackets / LOAD),
      load_packets_per_event_per_node: r1(extraPackets / LOAD / NODES),
      load_bytes_per_event_per_node: r1(extraBytes / LOAD / NODES),
      idle_packets_per_s_per_node: r1(idle.packets / ld.seconds / NODES),
    },
    goals: [
      { metric: 'isolated_missing', op: '<=', target: 0 },
      { metric: 'isolated_duplicates', op: '<=', target: 0 },
      { metric: 'load_missing', op: '<=', target: 0 },
      { metric: 'load_duplicates', op: '<=', target: 0 },
    ],
    details: {
      payload_bytes: PAYLOAD_BYTES,
      load_per_s: LOAD_PER_S,
      isolated_latencies_ms: iso.lat.map(r1),
      load_latencies_ms: ld.lat.map(r1),
      counters: { idle, load },
      note: 'Times include the POST (HTTP to one node) and the SSE write and read at each node, all on one machine whose 2 cores also run the 25 daemons and this process (see machine_load_1m). Packets and bytes: UDP payload sent by all gossip sockets, from /v1/members counters, load window minus an idle window scaled to the same length.',
    },
  };
}
