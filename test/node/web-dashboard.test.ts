/**
 * The web dashboard's server side: the bounded power history, the static
 * files (size budget, headers, gzip), and the event stream over node:http
 * with the light fetch globals a daemon installs (snapshots built from the
 * node's own routes, tasks only where /v1/tasks answers, history sent once,
 * the stream cap, nothing built after the client left, streams ended by stop).
 */
import { request, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createApi, type ApiNode } from '../../src/api/app.js';
import { ASSETS, DashboardAssets } from '../../src/api/dashboard/assets.js';
import { dashboardRoutes } from '../../src/api/dashboard/routes.js';
import type { DashboardSnapshot } from '../../src/api/dashboard/stream.js';
import { PowerHistory } from '../../src/node/power-history.js';
import { useLightServer } from '../helpers/http.js';

describe('PowerHistory', () => {
  it('keeps one point per step for an hour per member, whatever the call rate, and forgets the silent', () => {
    const h = new PowerHistory({ windowMs: 3_600_000, stepMs: 30_000, maxMembers: 3 });
    const t0 = 1_000_000;
    // Three hours at one reading a second for five members: only three are kept, each bounded.
    for (let s = 0; s < 3 * 3600; s++) {
      const now = t0 + s * 1000;
      h.record(
        now,
        ['a', 'b', 'c', 'd', 'e'].map((id, i) => ({ id, name: id, watts: i + s / 10_000 })),
      );
    }
    const all = h.since(0);
    expect(all.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    for (const s of all) {
      expect(s.points.length).toBeLessThanOrEqual(h.maxPoints);
      expect(s.points.length).toBeGreaterThanOrEqual(120);
      const first = s.points[0]![0];
      const last = s.points.at(-1)![0];
      expect(last).toBe(t0 + (3 * 3600 - 1) * 1000);
      expect(last - first).toBeLessThanOrEqual(3_600_000);
    }
    expect(h.size()).toBeLessThanOrEqual(3 * h.maxPoints);
    // Only newer points are returned after a cursor.
    const cursor = all[0]!.points.at(-2)![0];
    expect(h.since(cursor).map((s) => s.points.length)).toEqual([1, 1, 1]);
    // A member that stops reporting (dead: no reading) is dropped once its hour has passed.
    const end = t0 + 3 * 3600 * 1000;
    h.record(end + 3_600_001, [{ id: 'a', name: 'a', watts: 1 }]);
    expect(h.since(0).map((s) => s.id)).toEqual(['a']);
    // No reading, no point: a member without a power figure is not charted at 0 W.
    h.record(end + 3_600_002, [{ id: 'z', name: 'z', watts: null }]);
    expect(h.since(0).map((s) => s.id)).toEqual(['a']);
  });

  it('returns what a plain list of points would hold, through its ring wrapping and growing', () => {
    // The reference: the rule on a plain array (first point of a step kept, the latest replaced,
    // the window and the point bound pruned from the oldest end).
    const opts = { windowMs: 60_000, stepMs: 1000, maxMembers: 4 };
    const h = new PowerHistory(opts);
    const ref = new Map<string, [number, number][]>();
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let now = 5_000;
    for (let k = 0; k < 3000; k++) {
      now += Math.floor(rnd() * 900);
      const id = ['a', 'b', 'c'][Math.floor(rnd() * 3)]!;
      const watts = Math.round(rnd() * 10_000) / 1000;
      h.record(now, [{ id, name: id, watts }]);
      const pts = ref.get(id) ?? [];
      ref.set(id, pts);
      if (pts.length >= 2 && now - pts.at(-2)![0] < opts.stepMs) pts.pop();
      pts.push([now, watts]);
      for (const [rid, r] of ref) {
        while (r.length > 0 && r[0]![0] < now - opts.windowMs) r.shift();
        if (r.length > h.maxPoints) r.splice(0, r.length - h.maxPoints);
        if (r.length === 0) ref.delete(rid);
      }
      if (k % 97 === 0 || k === 2999) {
        const got = Object.fromEntries(h.since(0).map((s) => [s.id, s.points]));
        expect(got).toEqual(Object.fromEntries([...ref].sort()));
      }
    }
    const cursor = now - 10_000;
    for (const s of h.since(cursor)) expect(s.points).toEqual(ref.get(s.id)!.filter((p) => p[0] > cursor));
  });
});

describe('dashboard files', () => {
  it('are under the 150 KB gzipped budget, served with a strict CSP, gzipped when asked', async () => {
    const assets = new DashboardAssets();
    let gz = 0;
    for (const path of Object.keys(ASSETS)) {
      const a = await assets.get(path);
      expect(a).not.toBeNull();
      gz += a!.gzip.byteLength;
      expect(gunzipSync(a!.gzip)).toEqual(Buffer.from(a!.raw));
    }
    expect(gz).toBeLessThan(150 * 1024);

    const app = createApi(fakeNode(), { routes: [dashboardRoutes({ assets })] });
    const page = await app.request('/', { headers: { 'accept-encoding': 'gzip, br' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-encoding')).toBe('gzip');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = gunzipSync(Buffer.from(await page.arrayBuffer())).toString();
    expect(html).toContain('<script type="module" src="/dashboard/app.js"></script>');
    // Nothing from another origin: no CDN.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const js = await app.request('/dashboard/app.js');
    expect(js.headers.get('content-encoding')).toBeNull();
    expect(await js.text()).toContain('/v1/dashboard/stream');
    expect((await app.request('/dashboard/../package.json')).status).toBe(404);
  });
});

function fakeNode(): ApiNode {
  return {
    id: 'n1',
    state: 'running',
    status: () =>
      ({ id: 'n1', name: 'alpha', role: 'leader', term: 3, leader: 'n1' }) as unknown as ReturnType<
        ApiNode['status']
      >,
    requestShutdown: () => {},
  };
}

/** Read server-sent events from a response until `n` arrived; resolves with them and the response. */
function readEvents(res: IncomingMessage, n: number): Promise<DashboardSnapshot[]> {
  return new Promise((resolve, reject) => {
    const out: DashboardSnapshot[] = [];
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buf += d;
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (/^event: snapshot$/m.test(block)) out.push(JSON.parse(data) as DashboardSnapshot);
        if (out.length === n) resolve(out);
      }
    });
    res.on('end', () =>
      out.length >= n ? resolve(out) : reject(new Error(`stream ended after ${out.length}`)),
    );
    res.on('error', reject);
  });
}

describe('GET /v1/dashboard/stream over node:http (light globals, as in a daemon)', () => {
  const srv = useLightServer();
  const serve = (app: Hono): Promise<number> => srv.serve(app);

  function connect(port: number, path: string): Promise<{ res: IncomingMessage; close: () => void }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream' } },
        (res) => resolve({ res, close: () => req.destroy() }),
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('pushes snapshots of the node routes, tasks only where they exist, and each history point once', async () => {
    let now = 10_000;
    let samples = 0;
    const history = new PowerHistory({ stepMs: 1 });
    const source = {
      sample: () => {
        samples++;
        now += 1000;
        history.record(now, [{ id: 'n1', name: 'alpha', watts: 1.5 }]);
      },
      since: (after: number) => history.since(after),
    };
    let withTasks = false;
    const app = createApi(fakeNode(), {
      routes: [
        (a) =>
          a.get('/v1/members', (c) =>
            c.json({ leader: 'n1', members: [{ id: 'n1', name: 'alpha', status: 'alive' }] }),
          ),
        (a) =>
          a.get('/v1/tasks', (c) =>
            withTasks ? c.json({ tasks: [{ id: 't1', node: 'n1' }] }) : c.notFound(),
          ),
        dashboardRoutes({ history: source, maxStreams: 1, clock: () => now }),
      ],
    });
    const port = await serve(app);

    const bad = await connect(port, '/v1/dashboard/stream?interval_ms=5');
    expect(bad.res.statusCode).toBe(400);
    bad.close();

    const { res, close } = await connect(port, '/v1/dashboard/stream?interval_ms=250');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const first = readEvents(res, 2);
    // The cap: a second stream while one is open is refused.
    const second = await connect(port, '/v1/dashboard/stream');
    expect(second.res.statusCode).toBe(503);
    second.close();
    const [a, b] = await first;
    expect(a!.status).toMatchObject({ name: 'alpha', term: 3 });
    expect(a!.members).toMatchObject({ leader: 'n1' });
    expect(a!.tasks).toBeNull();
    expect(a!.unavailable.tasks).toBe('not_found');
    expect(a!.energy).toBeNull();
    expect(a!.history).toEqual([{ id: 'n1', name: 'alpha', points: [[11_000, 1.5]] }]);
    // The second snapshot carries only the point recorded since.
    expect(b!.history).toEqual([{ id: 'n1', name: 'alpha', points: [[12_000, 1.5]] }]);

    withTasks = true;
    const [c] = await readEvents(res, 1);
    expect(c!.tasks).toEqual({ tasks: [{ id: 't1', node: 'n1' }] });

    // Nobody watching: the stream stops building snapshots and frees its slot.
    close();
    // Once the server saw the client go (a fixed 300 ms could end first on a loaded machine, and a
    // snapshot still due then would be counted against it), no snapshot is built any more.
    for (let i = 0; i < 500 && srv.open.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const after = samples;
    await new Promise((r) => setTimeout(r, 800));
    expect(samples).toBe(after);
    expect(srv.open.size).toBe(0);
    const again = await connect(port, '/v1/dashboard/stream?interval_ms=250');
    expect(again.res.statusCode).toBe(200);
    await readEvents(again.res, 1);
    // A stopping server ends its streams (ApiServer.stop does this before closing).
    const ended = new Promise<void>((r) => again.res.on('end', () => r()));
    for (const end of [...srv.open]) end();
    await ended;
  });
});
