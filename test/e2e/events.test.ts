/**
 * Swarm events in real daemons (the compiled binary; `npx tsc -p
 * tsconfig.build.json` first): five nodes on loopback (join list, multicast
 * off, every port 0). An SSE stream is open at every node; 100 events sent
 * from all five nodes are each delivered exactly once at every node; bad
 * input answers 4xx JSON; the CLI's `event send` and `event watch --json`
 * work end to end; a reconnecting stream resumes from its cursor.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient, type EventWatchItem } from '../../src/client/client.js';
import type { EventJson } from '../../src/api/routes/events-types.js';
import { runSwarm, startNode, watchSwarm } from '../helpers/run-swarm.js';
import { alive } from '../node/proc.js';

interface Node {
  pid: number;
  id: string;
  api: string;
  client: SwarmClient;
}

let root: string;
const pids = new Set<number>();
const nodes: Node[] = [];

function env(): NodeJS.ProcessEnv {
  return {
    HOME: root,
    XDG_CONFIG_HOME: join(root, 'xdg'),
    SWARM_CONFIG: '',
    SWARM_NETWORK__MULTICAST_ENABLED: 'false',
  };
}

async function until<T>(what: string, ms: number, f: () => Promise<T | null>): Promise<T> {
  const end = Date.now() + ms;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    const v = await f();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** A stream at one node, collecting what the client yields until aborted. */
function watch(
  c: SwarmClient,
  opts: { name?: string; since?: string } = {},
): {
  items: EventWatchItem[];
  ready: Promise<void>;
  stop: () => void;
  done: Promise<void>;
} {
  const ac = new AbortController();
  const items: EventWatchItem[] = [];
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const done = (async () => {
    for await (const it of c.watchEvents({ ...opts, signal: ac.signal, retryMs: 200 })) {
      items.push(it);
      if (it.type === 'ready') onReady();
    }
  })();
  return { items, ready, stop: () => ac.abort(), done };
}

function eventsOf(items: readonly EventWatchItem[], name: string): EventJson[] {
  return items.flatMap((i) => (i.type === 'event' && i.event.name === name ? [i.event] : []));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'swarm-events-e2e-'));
  const config = join(root, 'config.toml');
  writeFileSync(
    config,
    '[network]\ngossip_port = 0\nbind_address = "127.0.0.1"\nmulticast_enabled = false\n\n[api]\nport = 0\n\n[raft]\nport = 0\n',
  );
  let seed: string | null = null;
  for (let i = 1; i <= 5; i++) {
    const info = await startNode({
      config,
      dir: join(root, `e${i}`),
      extra: ['--name', `e${i}`, '--no-multicast'],
      ...(seed !== null ? { join: [seed] } : {}),
      env: env(),
      pids,
      timeoutMs: 60_000,
    });
    const client = new SwarmClient({ baseUrl: info.api_url, timeoutMs: 10_000 });
    if (seed === null) seed = (await client.status()).addresses.gossip;
    nodes.push({ pid: info.pid, id: info.id, api: info.api_url, client });
  }
  for (const n of nodes)
    await until('five alive members', 30_000, async () => {
      const m = await n.client.members();
      return m.members.filter((x) => x.status === 'alive').length === 5 ? m : null;
    });
}, 180_000);

afterAll(() => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('swarm events in five real daemons', () => {
  it('every node streams each of 100 events, sent from all nodes, exactly once', async () => {
    const streams = nodes.map((n) => watch(n.client, { name: 'burst' }));
    await Promise.all(streams.map((s) => s.ready));
    const sent: string[] = [];
    for (let i = 0; i < 100; i++) {
      const from = nodes[i % nodes.length]!;
      const r = await from.client.sendEvent('burst', JSON.stringify({ i }));
      expect(r.origin).toBe(from.id);
      sent.push(r.id);
    }
    expect(new Set(sent).size).toBe(100);
    for (const [k, s] of streams.entries())
      await until(`node e${k + 1} streams all 100`, 60_000, async () =>
        eventsOf(s.items, 'burst').length >= 100 ? true : null,
      );
    // Late duplicates (repair, anti-entropy) would show up within a few gossip periods.
    await new Promise((r) => setTimeout(r, 3000));
    for (const s of streams) {
      s.stop();
      await s.done;
      const got = eventsOf(s.items, 'burst');
      expect(got.map((e) => e.id).sort()).toEqual([...sent].sort());
      // Payload and origin survive the trip.
      const byId = new Map(got.map((e) => [e.id, e]));
      for (const [i, id] of sent.entries()) {
        expect(JSON.parse(byId.get(id)!.payload)).toEqual({ i });
        expect(byId.get(id)!.origin_name).toBe(`e${(i % 5) + 1}`);
      }
    }
    // The ring view agrees: each node delivered each event once.
    for (const n of nodes) {
      const r = await n.client.recentEvents({ name: 'burst' });
      expect(r.events.map((e) => e.id).sort()).toEqual([...sent].sort());
    }
  }, 180_000);

  it('a stream filtered by name, and a reconnect from a cursor replays what came after it', async () => {
    const [a, b] = [nodes[0]!, nodes[3]!];
    const s = watch(b.client, { name: 'only-this' });
    await s.ready;
    await a.client.sendEvent('other', 'x');
    const first = await a.client.sendEvent('only-this', 'one');
    await until('first event streamed', 30_000, async () =>
      eventsOf(s.items, 'only-this').length ? 1 : null,
    );
    s.stop();
    await s.done;
    const cursor = eventsOf(s.items, 'only-this')[0]!.cursor;
    expect(eventsOf(s.items, 'other')).toEqual([]);
    const second = await a.client.sendEvent('only-this', 'two');
    await until('second delivered at b', 30_000, async () => {
      const r = await b.client.recentEvents({ name: 'only-this' });
      return r.events.some((e) => e.id === second.id) ? true : null;
    });
    const again = watch(b.client, { name: 'only-this', since: cursor });
    await again.ready;
    again.stop();
    await again.done;
    expect(eventsOf(again.items, 'only-this').map((e) => e.id)).toEqual([second.id]);
    expect(first.id).not.toBe(second.id);
  }, 120_000);

  it('bad input answers 4xx JSON and originates nothing', async () => {
    const api = nodes[1]!.api;
    const before = (await nodes[1]!.client.recentEvents()).events.length;
    const post = async (body: string): Promise<{ status: number; code: string }> => {
      const r = await fetch(`${api}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const j = (await r.json()) as { error: { code: string } };
      return { status: r.status, code: j.error.code };
    };
    expect(await post('{"payload":"x"}')).toEqual({ status: 400, code: 'bad_request' });
    expect(await post('{"name":"","payload":"x"}')).toEqual({ status: 400, code: 'bad_request' });
    expect(await post('{"name":"has space"}')).toEqual({ status: 400, code: 'bad_request' });
    expect(await post('{"name":"_reserved"}')).toEqual({ status: 400, code: 'bad_request' });
    expect(await post(JSON.stringify({ name: 'n'.repeat(65) }))).toEqual({
      status: 400,
      code: 'bad_request',
    });
    expect(await post('{"name":"ok","payload":5}')).toEqual({ status: 400, code: 'bad_request' });
    expect(await post('{"name":"ok","payload":"a","payload_base64":"YQ=="}')).toEqual({
      status: 400,
      code: 'bad_request',
    });
    expect(await post('{"name":"ok","payload_base64":"not base64!"}')).toEqual({
      status: 400,
      code: 'bad_request',
    });
    expect(await post('{"name":"ok","extra":1}')).toEqual({ status: 400, code: 'bad_request' });
    expect(await post('{"name":')).toEqual({ status: 400, code: 'bad_json' });
    expect(await post(JSON.stringify({ name: 'big', payload: 'a'.repeat(1025) }))).toEqual({
      status: 413,
      code: 'too_large',
    });
    // Multi-byte characters count as bytes: 342 x 3 bytes = 1,026.
    expect(await post(JSON.stringify({ name: 'big', payload: '€'.repeat(342) }))).toEqual({
      status: 413,
      code: 'too_large',
    });
    const r = await fetch(`${api}/v1/events?since=garbage`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    // Exactly 1,024 bytes is accepted.
    const ok = await nodes[1]!.client.sendEvent('edge', 'a'.repeat(1024));
    expect(ok.bytes).toBe(1024);
    // What this node originated since: the accepted event only. (An event of the earlier tests
    // still spreading from another node may arrive meanwhile; it is not this node's.)
    const after = (await nodes[1]!.client.recentEvents()).events;
    const originated = after.slice(before).filter((e) => e.origin === nodes[1]!.id);
    expect(originated.map((e) => e.name)).toEqual(['edge']);
  }, 60_000);

  it('the CLI: event watch --json prints one line per event; event send reaches it from another node', async () => {
    const w = watchSwarm(['event', 'watch', 'cli-test', '--json', '--api', nodes[4]!.api], env(), 120_000);
    const watcher = w.child;
    pids.add(watcher.pid!);
    try {
      // The watcher is connected once a send shows up; repeat the send until it does (bounded).
      const sent: string[] = [];
      await until('the watcher prints an event', 60_000, async () => {
        const r = await runSwarm(['event', 'send', 'cli-test', '{"n":1}', '--api', nodes[0]!.api, '--json'], {
          env: env(),
        });
        expect(r.code).toBe(0);
        sent.push((JSON.parse(r.stdout) as { id: string }).id);
        await new Promise((res) => setTimeout(res, 1000));
        return w.out().includes('\n') ? true : null;
      });
      const first = JSON.parse(w.out().split('\n')[0]!) as EventJson;
      expect(first.name).toBe('cli-test');
      expect(first.payload).toBe('{"n":1}');
      expect(sent).toContain(first.id);
    } finally {
      watcher.kill('SIGINT');
    }
    expect(await w.exited).toBe(0);
    expect(w.err()).toBe('');
    pids.delete(watcher.pid!);
  }, 120_000);
});
