/**
 * The HTTP path of a KV write alone (issue #16, helper put): the API server
 * (http1 + requestListener + the KV routes) in a child process over a Raft
 * stand-in that commits at once, driven by the raft-kv bench's client code
 * (etcd-load.ts) with CLIENTS closed-loop clients for SECS s after 2 s of
 * warm-up. MODES (default `hono,direct`) alternate ROUNDS times: `hono`
 * routes every request through hono, `direct` lets the KV routes answer PUT
 * and GET /v1/kv/<key> first (app.ts DirectRoute), as a daemon without an API
 * token does. Printed: requests/s and the server's CPU per request (utime +
 * stime from /proc), which is what the change saves per write on a leader.
 * `npx tsx bench/api-kv-path.ts`; under the bench lock when comparing with others' runs.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { call, closeAgents, VALUE } from './etcd-load.js';

const CLIENTS = Number(process.env.CLIENTS ?? 16);
const SECS = Number(process.env.SECS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MODES = (process.env.MODES ?? 'hono,direct').split(',');

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: HeapNode[];
}

async function server(mode: string): Promise<void> {
  const { createApi } = await import('../src/api/app.js');
  const { kvRoutes } = await import('../src/api/routes/kv.js');
  const { createServer } = await import('../src/api/http1/server.js');
  const { requestListener } = await import('../src/api/server.js');
  const { installLightFetchGlobals } = await import('../src/api/light-fetch.js');
  installLightFetchGlobals();
  let revision = 0;
  const raft = {
    requestTimeoutMs: 1000,
    peers: new Map(),
    forward: {
      write: () => Promise.resolve({ kind: 'put', revision: ++revision }),
      linearize: () => Promise.resolve(),
    },
    get: (key: string) => Promise.resolve({ key, value: VALUE, revision }),
  };
  const routes = [kvRoutes(raft as never)];
  const node = { id: 'n1', state: 'running', status: () => ({}) as never, requestShutdown: () => {} };
  const app = createApi(node, { routes });
  const direct = mode === 'direct' ? routes.flatMap((r) => (r.direct ? [r.direct] : [])) : [];
  const s = createServer(requestListener(app.fetch, { direct }));
  s.keepAliveTimeout = 5000;
  s.listen(0, '127.0.0.1', () => process.send!((s.address() as AddressInfo).port));
  // HEAP=1: V8's sampling heap profiler over the measured window (collected objects included),
  // bytes per request by allocation site; then a clean exit, so that --cpu-prof (PROF_DIR) writes.
  const { Session } = await import('node:inspector');
  const session = new Session();
  const post = (m: string, p?: object): Promise<unknown> =>
    new Promise((res, rej) => session.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))));
  process.on('message', (m: { cmd: string; n?: number }) => {
    void (async () => {
      if (m.cmd === 'heap-start') {
        session.connect();
        await post('HeapProfiler.enable');
        await post('HeapProfiler.startSampling', {
          samplingInterval: 256,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        process.send!('ok');
      } else if (m.cmd === 'heap-stop') {
        const r = (await post('HeapProfiler.stopSampling')) as { profile: { head: HeapNode } };
        const sites = new Map<string, number>();
        const walk = (n: HeapNode): void => {
          const bytes = n.selfSize;
          if (bytes > 0) {
            const f = n.callFrame;
            const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}:${f.columnNumber}`;
            sites.set(k, (sites.get(k) ?? 0) + bytes);
          }
          for (const c of n.children) walk(c);
        };
        walk(r.profile.head);
        const total = [...sites.values()].reduce((a, b) => a + b, 0);
        const top = [...sites.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
        console.log(
          `  allocated ${(total / m.n! / 1024).toFixed(2)} KB per request; by site (bytes/request):`,
        );
        for (const [k, v] of top) console.log(`    ${(v / m.n!).toFixed(0).padStart(6)} ${k}`);
        process.send!('ok');
      } else process.exit(0);
    })();
  });
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
}

async function measure(mode: string): Promise<void> {
  const prof = process.env.PROF_DIR;
  const child = fork(fileURLToPath(import.meta.url), ['server', mode], {
    stdio: 'inherit',
    execArgv: [
      ...process.execArgv,
      ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}/${mode}`, '--cpu-prof-interval=200'] : []),
    ],
  });
  try {
    const port = await new Promise<number>((r) => child.once('message', (m) => r(m as number)));
    const body = JSON.stringify({ value: VALUE });
    let seq = 0;
    const run = async (secs: number): Promise<number> => {
      const end = performance.now() + secs * 1000;
      let n = 0;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (performance.now() < end) {
            const r = await call(`http://127.0.0.1:${port}/v1/kv/bench-${++seq % 1000}`, 'PUT', body);
            if (r.status === 200) n++;
          }
        }),
      );
      return n;
    };
    const heap = process.env.HEAP === '1';
    const ask = (m: object): Promise<void> =>
      new Promise((r) => {
        child.once('message', () => r());
        child.send(m);
      });
    await run(2);
    if (heap) await ask({ cmd: 'heap-start' });
    const c0 = cpuMs(child.pid!);
    const n = await run(SECS);
    const c1 = cpuMs(child.pid!);
    console.log(
      `${mode.padEnd(6)} ${CLIENTS} clients: ${(n / SECS).toFixed(0)} req/s, server CPU ${(((c1 - c0) * 1000) / n).toFixed(1)} us/req`,
    );
    if (heap) await ask({ cmd: 'heap-stop', n });
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ cmd: 'exit' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    child.kill();
  }
}

if (process.argv[2] === 'server') await server(process.argv[3] ?? 'hono');
else {
  try {
    for (let r = 0; r < ROUNDS; r++) for (const m of MODES) await measure(m);
  } finally {
    closeAgents();
  }
}
