/**
 * The daemon's swarm-event layer without sockets: the replay ring and its
 * cursors, the marks file that keeps a restarted node from delivering twice,
 * the API's body rules, and the SSE route's replay through a real
 * node:http server (the adapter's streaming hook).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { createApi } from '../../src/api/app.js';
import { eventJson, eventsRoutes, parseSendBody } from '../../src/api/routes/events.js';
import { createServer, type Http1Server as Server } from '../../src/api/http1/server.js';
import { requestListener } from '../../src/api/server.js';
import { SwarmClient, type EventWatchItem } from '../../src/client/client.js';
import type { EventMark, UserEvent } from '../../src/gossip/messages.js';
import { Plumtree } from '../../src/gossip/plumtree.js';
import { readMarks, SwarmEvents, type EventBus } from '../../src/node/swarm-events.js';
import type { SwarmNode } from '../../src/node/node.js';

/** A gossip stand-in: a broadcast is delivered locally at once, as the core does. */
class FakeBus implements EventBus {
  seq = 0;
  primed: EventMark[] = [];
  marks: EventMark[] = [];
  private readonly ls = new Set<(e: UserEvent) => void>();
  broadcastEvent(name: string, payload: Uint8Array): UserEvent {
    const e = { origin: 'self', seq: ++this.seq, name, payload };
    this.deliver(e);
    return e;
  }
  deliver(e: UserEvent): void {
    for (const l of this.ls) l(e);
  }
  onUserEvent(l: (e: UserEvent) => void): () => void {
    this.ls.add(l);
    return () => this.ls.delete(l);
  }
  primeEventMarks(m: readonly EventMark[]): void {
    this.primed.push(...m);
  }
  eventMarks(): EventMark[] {
    return this.marks;
  }
}

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeNode(dataDir: string): SwarmNode {
  return { dataDir, id: 'self' } as unknown as SwarmNode;
}

async function started(ringSize = 4): Promise<{ bus: FakeBus; ev: SwarmEvents; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-events-'));
  dirs.push(dir);
  const bus = new FakeBus();
  const ev = new SwarmEvents(bus, { ringSize, bootMs: 1_000_000 });
  await ev.start(fakeNode(dir));
  return { bus, ev, dir };
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('SwarmEvents ring and cursors', () => {
  it('replays what came after a cursor, and counts what the ring no longer holds', async () => {
    const { bus, ev } = await started(4);
    for (let i = 1; i <= 6; i++) bus.deliver({ origin: 'o', seq: i, name: 'n', payload: bytes(String(i)) });
    expect(ev.lastCursor).toBe(`${ev.boot}-6`);
    // Ring of 4 holds deliveries 3..6.
    expect(ev.replay(4).events.map((d) => d.index)).toEqual([5, 6]);
    expect(ev.replay(4).missed).toBe(0);
    expect(ev.replay(0).events.map((d) => d.index)).toEqual([3, 4, 5, 6]);
    expect(ev.replay(0).missed).toBe(2);
    expect(ev.replay(1).missed).toBe(1);
    expect(ev.replay(6)).toEqual({ events: [], missed: 0 });
  });

  it('parses only its own cursors', async () => {
    const { ev } = await started();
    expect(ev.parseCursor(`${ev.boot}-12`)).toEqual({ kind: 'ok', after: 12 });
    expect(ev.parseCursor('zzz-12')).toEqual({ kind: 'other_boot' });
    expect(ev.parseCursor('12')).toEqual({ kind: 'bad' });
    expect(ev.parseCursor(`${ev.boot}-1e9`)).toEqual({ kind: 'bad' });
  });

  it('refuses bad names and payloads over 1 KiB before they reach gossip', async () => {
    const { bus, ev } = await started();
    expect(() => ev.send('_sys', bytes('x'))).toThrow(/event name/);
    expect(() => ev.send('ok', new Uint8Array(1025))).toThrow(/1025 bytes exceeds 1024/);
    expect(bus.seq).toBe(0);
    ev.send('ok', new Uint8Array(1024));
    expect(bus.seq).toBe(1);
  });

  it('a failing subscriber does not keep the others from an event', async () => {
    const { bus, ev } = await started();
    const got: number[] = [];
    ev.subscribe(() => {
      throw new Error('closed stream');
    });
    ev.subscribe((d) => got.push(d.event.seq));
    bus.deliver({ origin: 'o', seq: 1, name: 'n', payload: bytes('') });
    expect(got).toEqual([1]);
  });
});

describe('the marks file', () => {
  it('is written at stop and primes the next life', async () => {
    const { bus, ev, dir } = await started();
    bus.marks = [
      { origin: 'a', seq: 7 },
      { origin: 'self', seq: 3 },
    ];
    bus.deliver({ origin: 'a', seq: 7, name: 'n', payload: bytes('') });
    await ev.stop();
    expect(readMarks(dir)).toEqual(bus.marks);
    const bus2 = new FakeBus();
    await new SwarmEvents(bus2).start(fakeNode(dir));
    expect(bus2.primed).toEqual(bus.marks);
  });

  it('reads garbage as nothing, and skips bad pairs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-events-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'event-marks.json'), 'not json');
    expect(readMarks(dir)).toEqual([]);
    writeFileSync(
      join(dir, 'event-marks.json'),
      JSON.stringify({ marks: [['a', 2], ['b', -1], [3, 4], ['c', 2 ** 40], ['d'], ['e', 1]] }),
    );
    expect(readMarks(dir)).toEqual([
      { origin: 'a', seq: 2 },
      { origin: 'e', seq: 1 },
    ]);
  });
});

describe('POST /v1/events body rules', () => {
  it('accepts text and base64 payloads, counting bytes', () => {
    expect(parseSendBody({ name: 'a.b:c/d-e_f' }).payload.byteLength).toBe(0);
    expect(parseSendBody({ name: 'x', payload: '€' }).payload.byteLength).toBe(3);
    expect([...parseSendBody({ name: 'x', payload_base64: 'AAEC' }).payload]).toEqual([0, 1, 2]);
  });

  it.each([
    [{}, 400],
    [[], 400],
    [{ name: 5 }, 400],
    [{ name: '' }, 400],
    [{ name: 'a b' }, 400],
    [{ name: '_x' }, 400],
    [{ name: 'é' }, 400],
    [{ name: 'x'.repeat(65) }, 400],
    [{ name: 'x', payload: {} }, 400],
    [{ name: 'x', payload: 'a', payload_base64: 'YQ==' }, 400],
    [{ name: 'x', payload_base64: 'YQ' }, 400],
    [{ name: 'x', more: 1 }, 400],
    [{ name: 'x', payload: 'a'.repeat(1025) }, 413],
    [{ name: 'x', payload_base64: Buffer.alloc(1025).toString('base64') }, 413],
  ])('%j -> %i', (body, status) => {
    expect(() => parseSendBody(body)).toThrow(expect.objectContaining({ status }) as Error);
  });

  it('answers through the app as JSON (400, 413, 202)', async () => {
    const { ev } = await started();
    const app = createApi(
      { id: 'self', state: 'running', status: () => ({}) as never, requestShutdown: () => {} },
      {
        routes: [eventsRoutes(ev)],
      },
    );
    const post = (body: string): Promise<Response> =>
      Promise.resolve(app.request('/v1/events', { method: 'POST', body }));
    expect((await post('{"name":"_x"}')).status).toBe(400);
    expect((await post(JSON.stringify({ name: 'x', payload: 'a'.repeat(2000) }))).status).toBe(413);
    const ok = await post('{"name":"x","payload":"hi"}');
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ id: 'self:1', origin: 'self', seq: 1, name: 'x', bytes: 2 });
    const stream = await app.request('/v1/events');
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
  });

  it('shows non-UTF-8 payloads as base64 too', () => {
    const j = eventJson(
      {
        index: 1,
        cursor: 'b-1',
        event: { origin: 'o', seq: 1, name: 'n', payload: new Uint8Array([0xff, 0x00]) },
        receivedAtMs: 0,
      },
      () => null,
    );
    expect(j.payload_base64).toBe('/wA=');
  });
});

describe('GET /v1/events over the node:http adapter', () => {
  it('streams live events, replays after a cursor, and reports what the ring lost', async () => {
    const { bus, ev } = await started(4);
    const app = new Hono();
    eventsRoutes(ev)(app, {} as never);
    const server = createServer(requestListener(app.fetch));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new SwarmClient({ baseUrl: url });

    const collect = async (
      opts: { since?: string; name?: string },
      stopAfter: number,
    ): Promise<EventWatchItem[]> => {
      const ac = new AbortController();
      const items: EventWatchItem[] = [];
      for await (const it of client.watchEvents({ ...opts, signal: ac.signal })) {
        items.push(it);
        if (it.type === 'ready')
          for (let i = 0; i < stopAfter; i++)
            bus.deliver({ origin: 'o', seq: 100 + i, name: 'live', payload: bytes('') });
        if (items.filter((x) => x.type === 'event').length >= stopAfter + (opts.since ? 1 : 0)) ac.abort();
        if (stopAfter === 0 && it.type === 'ready') ac.abort();
      }
      return items;
    };

    const live = await collect({ name: 'live' }, 2);
    expect(live.filter((x) => x.type === 'event').map((x) => (x.type === 'event' ? x.event.seq : 0))).toEqual(
      [100, 101],
    );
    // 6 more deliveries overflow the ring of 4: a cursor from before them reports the loss.
    const cursor = ev.lastCursor;
    for (let i = 1; i <= 6; i++) bus.deliver({ origin: 'o', seq: i, name: 'n', payload: bytes('') });
    const replay = await collect({ since: cursor }, 0);
    expect(replay[0]).toEqual({ type: 'lost', missed: 2, restarted: false });
    expect(
      replay.filter((x) => x.type === 'event').map((x) => (x.type === 'event' ? x.event.seq : 0)),
    ).toEqual([3, 4, 5, 6]);
    const restarted = await collect({ since: 'abc-3' }, 0);
    expect(restarted[0]).toEqual({ type: 'lost', missed: null, restarted: true });
  });

  it('writes the documented wire format: id, then event, then data (docs/api.md)', async () => {
    const { bus, ev } = await started(4);
    bus.deliver({ origin: 'o', seq: 1, name: 'n', payload: bytes('hi') });
    const app = new Hono();
    eventsRoutes(ev)(app, {} as never);
    const server = createServer(requestListener(app.fetch));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const ac = new AbortController();
    // A cursor of an earlier life: `lost` (event, no id), the replayed event (id, no event), `ready` (both).
    const res = await fetch(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events?since=abc-3`,
      {
        signal: ac.signal,
      },
    );
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: ready')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    ac.abort();
    const c = `${ev.boot}-1`;
    const event = JSON.stringify(eventJson(ev.replay(0).events[0]!, () => null));
    expect(text).toBe(
      'retry: 2000\n\n' +
        'event: lost\ndata: {"missed":null,"restarted":true}\n\n' +
        `id: ${c}\ndata: ${event}\n\n` +
        `id: ${c}\nevent: ready\ndata: {"cursor":"${c}"}\n\n`,
    );
  });
});

describe('Plumtree.prime', () => {
  it('counts everything up to the mark as seen, so anti-entropy does not bring it back', () => {
    const delivered: string[] = [];
    const t = new Plumtree(
      {
        selfId: 's',
        send: () => {},
        randomLive: () => [],
        isLive: () => true,
        liveIds: () => [],
        canRelay: () => true,
        deliver: (e) => delivered.push(`${e.origin}:${e.seq}`),
      },
      {
        lazyPeers: 0,
        eventBatchMs: 10,
        lazyIntervalMs: 10,
        graftTimeoutMs: 10,
        messageCacheSize: 10,
        eventStoreSize: 10,
      },
    );
    t.prime('a', 3);
    const ev = (seq: number): UserEvent => ({ origin: 'a', seq, name: 'n', payload: new Uint8Array() });
    t.onRepair([ev(2), ev(3), ev(4)], 0);
    expect(delivered).toEqual(['a:4']);
    expect(t.highWater('a')).toBe(4);
  });
});
