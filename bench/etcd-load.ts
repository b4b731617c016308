/**
 * The client side of the raft-kv benchmark, shared by both systems it compares
 * (our daemons and etcd): one keep-alive HTTP agent, the closed-loop load of
 * N clients (writes or reads), the failover probe and the write-gap watcher. Each system only says how one
 * write is spelled (`WriteFn`), so any difference in the figures comes from
 * the servers, not from two load generators.
 */
import { Agent, request } from 'node:http';

/** One request (a write, or a read for the read load): URL, method and JSON body ('' for none). */
export interface Write {
  url: string;
  method: 'PUT' | 'POST' | 'GET';
  body: string;
}

/** How client `client` spells its `seq`-th request. */
export type WriteFn = (client: number, seq: number) => Write;

export interface LoadResult {
  writes: number;
  lat: number[];
  errors: number;
}

export const CLIENTS = 16;
export const VALUE = 'x'.repeat(64);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** The load's clients (up to 64 per host) and the status polls never queue inside the agent. */
export const agent = new Agent({ keepAlive: true, maxSockets: 128 });

/**
 * One HTTP call, on the keep-alive agent unless `via` is false (a connection of its own, so a request
 * the server holds cannot queue the next ones behind it); resolves with the status (0 on a network
 * error or a timeout).
 */
export function call(
  url: string,
  method: string,
  body?: string,
  timeoutMs = 5000,
  via: Agent | false = agent,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method,
        agent: via,
        headers: body ? { 'content-type': 'application/json' } : {},
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', () => resolve({ status: 0, text: '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.end(body);
  });
}

/** Sends one write; resolves with the status (0 on a network error or a timeout). */
export const send = (w: Write, timeoutMs?: number): Promise<{ status: number; text: string }> =>
  call(w.url, w.method, w.body, timeoutMs);

/** `clients` closed-loop clients, each with one request in flight, for `seconds`. */
export async function load(write: WriteFn, seconds: number, clients = CLIENTS): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  let seq = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < end) {
        const t = performance.now();
        const r = await send(write(c, ++seq));
        if (r.status === 200) lat.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  return { writes: lat.length, lat, errors };
}

/** writes/s (or reads/s), p50 and p99 of a load run, under `prefix`. */
export function loadMetrics(
  prefix: string,
  r: LoadResult,
  seconds: number,
  unit: 'writes' | 'reads' = 'writes',
): Record<string, number> {
  return {
    [`${prefix}${unit}_per_s`]: round(r.writes / seconds, 0),
    [`${prefix}p50_ms`]: round(pct(r.lat, 50)),
    [`${prefix}p99_ms`]: round(pct(r.lat, 99)),
  };
}

/** Closes the agent's idle keep-alive sockets, so the process can exit. */
export function closeAgents(): void {
  agent.destroy();
}

/** A member's id and the leader it currently follows (null: none known), as its API reports them. */
export type View = { self: string; leader: string | null } | null;

/**
 * Milliseconds from `t0` (the SIGKILL of leader `old`) until a write through
 * a survivor is acknowledged: poll the survivor's view every 5 ms until it
 * names another leader, then write through it (retrying 2 ms apart). Both
 * systems hold writes sent earlier, differently: etcd keeps a proposal
 * forwarded to the dead leader until its 7 s request timeout (a client
 * retrying writes would measure that timeout), ours keeps every write until
 * a successor is known and then relays them all at once (a new write every
 * 10 ms piles up ~200; 200 concurrent writes through a follower got their
 * first answer 60..150 ms later than one write, measured here). Asking for
 * the leader first costs both the same: one status call. Bounded by `limitMs`.
 */
export async function firstAck(
  view: () => Promise<View>,
  old: string,
  write: (i: number) => Write,
  t0: number,
  limitMs = 30_000,
): Promise<number> {
  const late = (): boolean => performance.now() - t0 > limitMs;
  for (;;) {
    if (late()) throw new Error(`no new leader seen within ${limitMs} ms`);
    const v = await view();
    if (v?.leader && v.leader !== old) break;
    await sleep(5);
  }
  for (let i = 0; ; i++) {
    if (late()) throw new Error(`no write acknowledged within ${limitMs} ms`);
    if ((await send(write(i), 3000)).status === 200) return performance.now() - t0;
    await sleep(2);
  }
}

/**
 * Longest gap between acknowledged writes of one client writing continuously
 * with `write` (5 s timeout per write) while `disrupt` runs, measured from
 * 500 ms before it until the first write acknowledged at least 1 s after it
 * returns: a write still in flight then (held, or lost and waiting for its
 * timeout) counts in full. Also how many writes failed in that window, and
 * the first few (status and the start of the body; 0 is a timeout or a
 * network error).
 */
export async function writeGap(
  write: (i: number) => Write,
  disrupt: () => Promise<void>,
): Promise<{ gapMs: number; failed: number; firstFailures: string[]; gapEndMs: number; gapEndWall: number }> {
  let measuring = false;
  let stopAt = Number.POSITIVE_INFINITY;
  let last = 0;
  let gap = 0;
  // Where the largest gap ended, ms after the disruption began, and on the wall clock (to line it up
  // with other processes' records, as bench/raft-handover-timeline.ts's probe).
  let disruptAt = 0;
  let gapEnd = 0;
  let failed = 0;
  const firstFailures: string[] = [];
  const writer = (async () => {
    for (let i = 1; ; i++) {
      const r = await send(write(i));
      const ok = r.status === 200;
      const now = performance.now();
      if (measuring && now - last > gap) {
        gap = now - last;
        gapEnd = now;
      }
      if (ok) last = now;
      else if (measuring) {
        failed++;
        if (firstFailures.length < 5) firstFailures.push(`${r.status} ${r.text.slice(0, 160)}`.trim());
      }
      if (ok && now >= stopAt) return;
      if (now >= stopAt + 10_000) return;
      if (!ok) await sleep(2);
    }
  })();
  try {
    await sleep(500);
    last = performance.now();
    measuring = true;
    disruptAt = performance.now();
    await disrupt();
    await sleep(1000);
  } finally {
    stopAt = performance.now();
    await writer;
  }
  return {
    gapMs: gap,
    failed,
    firstFailures,
    gapEndMs: gapEnd - disruptAt,
    gapEndWall: performance.timeOrigin + gapEnd,
  };
}
