/**
 * The agent runtime: drives AgentCore with the wall clock, the state file and
 * HTTP. Every core call runs under one lock together with its fsync, so
 * replies and messages always leave after the state they depend on is durable.
 * Calls to peers have timeouts and are aborted on stop: nothing waits forever.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomInt } from 'node:crypto';
import { getRequestListener } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { SwarmError } from '../common/errors.js';
import { createRng } from '../common/rng.js';
import { AgentCore, type Output, type PersistentState, type StepStatus } from './core.js';
import { StateStore } from './store.js';
import type { AgentSettings } from './settings.js';
import type { AgentMessage } from './types.js';
import {
  acceptBody,
  finalBody,
  newRoundBody,
  prepareBody,
  proposalBody,
  replyEnvelope,
  resetBody,
  runBody,
  toRequest,
} from './wire.js';

export interface AgentNodeOptions extends AgentSettings {
  /** One line per notable event (start, decision); default: silent. */
  log?: (line: string) => void;
}

type Json = Record<string, unknown>;

export class AgentNode {
  private readonly opts: AgentNodeOptions;
  private readonly store: StateStore;
  private core: AgentCore | null = null;
  private server: Server | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private queue: {
    fn: (core: AgentCore) => Output;
    resolve: (o: Output) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private flushing = false;
  /** The state as last written to disk: what /consensus may report. */
  private durable: PersistentState | null = null;
  private readonly stopping = new AbortController();
  private peers: string[];
  private boundPort = 0;

  constructor(opts: AgentNodeOptions) {
    this.opts = opts;
    this.peers = [...opts.peers];
    this.store = new StateStore(opts.dataDir);
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    // A wildcard address is not somewhere to send requests to; its loopback is.
    const host =
      this.opts.host === '0.0.0.0' ? '127.0.0.1' : this.opts.host === '::' ? '::1' : this.opts.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  /** For groups whose ports are only known once every member listens (port 0). */
  setPeers(peers: readonly string[]): void {
    if (peers.length !== this.opts.peers.length) {
      throw new SwarmError('agent_peers', 'the number of peers is fixed at start: it defines the majority');
    }
    this.peers = [...peers];
  }

  async start(): Promise<void> {
    const state = this.store.load(this.opts.id);
    this.durable = state;
    this.core = new AgentCore(
      {
        id: this.opts.id,
        peerCount: this.opts.peers.length,
        minValue: this.opts.minValue,
        maxValue: this.opts.maxValue,
        waitMs: this.opts.waitMs,
        rng: createRng(randomInt(0, 2 ** 32)),
      },
      state,
      performance.now(),
    );
    const server = createServer(getRequestListener(this.app().fetch));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new SwarmError(
            'agent_listen',
            `cannot listen on ${this.opts.host}:${this.opts.port}: ${err.code ?? err.message}`,
            {
              cause: err,
            },
          ),
        );
      };
      server.once('error', onError);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
    const tickMs = Math.max(5, Math.min(50, Math.floor(this.opts.waitMs / 4)));
    this.ticker = setInterval(() => {
      void this.exec((c) => c.tick(performance.now())).then(
        (out) => this.fanOut(out.send),
        () => undefined,
      );
    }, tickMs);
    const d = this.core.decision;
    this.log(
      `agent ${this.opts.id} listening on ${this.url} (peers: ${this.peers.join(', ') || 'none'})` +
        (d ? `; decided value ${d.value} in round ${d.round}` : ''),
    );
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.stopping.abort();
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    // Let a write in progress finish so the file is never left half-renamed by us.
    for (let i = 0; i < 100 && this.flushing; i++) await new Promise((r) => setTimeout(r, 10));
  }

  // ---- core under the lock ------------------------------------------------------------------

  /**
   * Runs `fn` on the core and resolves once its state is durable. Steps that
   * arrive while a write is in progress are applied together and share the
   * next fsync (group commit): under load one write serves many messages.
   */
  private exec(fn: (core: AgentCore) => Output): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      this.queue.push({ fn, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.queue.length);
        const core = this.core;
        const done: { out: Output; job: (typeof batch)[number] }[] = [];
        let persist = false;
        const before = core?.decision ?? null;
        for (const job of batch) {
          if (core === null) {
            job.reject(new SwarmError('agent_not_started', 'agent not started'));
            continue;
          }
          try {
            const out = job.fn(core);
            persist ||= out.persist;
            done.push({ out, job });
          } catch (err) {
            job.reject(err);
          }
        }
        try {
          if (persist && core !== null) {
            const snap = core.snapshot();
            await this.store.save(snap);
            this.durable = snap;
          }
        } catch (err) {
          // Nothing of this batch may leave: its state is not on disk.
          for (const d of done) d.job.reject(err);
          continue;
        }
        const d = core?.decision ?? null;
        if (before === null && d !== null) {
          this.log(
            `agent ${this.opts.id} decided value ${d.value} in round ${d.round} (attempts ${d.attempts})`,
          );
        }
        for (const x of done) x.job.resolve(x.out);
      }
    } finally {
      this.flushing = false;
    }
  }

  // ---- peers --------------------------------------------------------------------------------

  /**
   * Sends to every peer, all in parallel except that a peer hears /reset before
   * /new_round, as the original /run did. Every message carries its run, so no
   * other order matters.
   */
  private fanOut(msgs: readonly AgentMessage[]): Promise<void> {
    if (msgs.length === 0 || this.stopping.signal.aborted) return Promise.resolve();
    const resets = msgs.filter((m) => m.type === 'reset');
    const rest = msgs.filter((m) => m.type !== 'reset');
    return Promise.all(
      this.peers.map(async (peer) => {
        const ordered = async (): Promise<void> => {
          for (const m of resets) await this.sendTo(peer, m);
          await Promise.all(rest.filter((m) => m.type === 'new_round').map((m) => this.sendTo(peer, m)));
        };
        await Promise.all([
          ordered(),
          ...rest.filter((m) => m.type !== 'new_round').map((m) => this.sendTo(peer, m)),
        ]);
      }),
    ).then(() => undefined);
  }

  private async sendTo(peer: string, msg: AgentMessage): Promise<void> {
    const req = toRequest(msg);
    if (req === null || this.stopping.signal.aborted) return;
    let body: unknown;
    try {
      const res = await fetch(`${peer}${req.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(req.body),
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
      });
      body = await res.json();
    } catch {
      // Lost, late or refused: the round timer retries, so a failed call needs no special path.
      return;
    }
    const env = replyEnvelope.safeParse(body);
    if (!env.success || !env.data.replies) return;
    for (const reply of env.data.replies) {
      try {
        const out = await this.exec((c) => c.step(reply, performance.now()));
        void this.fanOut(out.send);
      } catch {
        return;
      }
    }
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private app(): Hono {
    const app = new Hono();
    const now = (): number => performance.now();

    app.post('/run', async (c) => {
      const body = await parse(c, runBody, true);
      if (body instanceof Response) return body;
      const round = body.round ?? 1;
      const out = await this.exec((core) => core.trigger(round, now()));
      // The original answered once every peer had been told; so does this, bounded by the call timeout.
      await this.fanOut(out.send);
      return c.json({ status: 'triggered', round, run: this.core?.run ?? null });
    });

    app.post('/reset', async (c) => {
      const body = await parse(c, resetBody, true);
      if (body instanceof Response) return body;
      const run = body.run;
      const out = await this.exec((core) =>
        run ? core.step({ type: 'reset', run }, now()) : core.localReset(),
      );
      return this.answer(c, out, { status: 'reset' });
    });

    app.post('/new_round', async (c) => {
      const body = await parse(c, newRoundBody, false);
      if (body instanceof Response) return body;
      const run = body.run;
      const out = await this.exec((core) =>
        run
          ? core.step({ type: 'new_round', run, round: body.round }, now())
          : core.newRound(body.round, now()),
      );
      return this.answer(c, out, { status: 'started', round: body.round });
    });

    app.post('/proposal', async (c) => {
      const body = await parse(c, proposalBody, false);
      if (body instanceof Response) return body;
      if (body.value < this.opts.minValue || body.value > this.opts.maxValue) {
        return c.json(
          { error: 'invalid_body', message: `value must be in ${this.opts.minValue}..${this.opts.maxValue}` },
          400,
        );
      }
      const run = body.run;
      const out = await this.exec((core) =>
        run
          ? core.step(
              { type: 'proposal', run, agent_id: body.agent_id, value: body.value, round: body.round },
              now(),
            )
          : core.externalProposal(body.agent_id, body.value, body.round, now()),
      );
      return this.answer(c, out, { status: 'received' });
    });

    app.post('/final', async (c) => {
      const body = await parse(c, finalBody, false);
      if (body instanceof Response) return body;
      const run = body.run;
      const attempts = body.attempts ?? 0;
      const out = await this.exec((core) =>
        run
          ? core.step(
              { type: 'final', run, decision: { value: body.value, round: body.round, attempts } },
              now(),
            )
          : core.externalFinal(body.value, body.round),
      );
      return this.answer(c, out, { status: 'final', value: body.value, round: body.round });
    });

    app.post('/paxos/prepare', async (c) => {
      const body = await parse(c, prepareBody, false);
      if (body instanceof Response) return body;
      const out = await this.exec((core) => core.step({ type: 'prepare', ...body }, now()));
      return this.answer(c, out, { status: 'ok' });
    });

    app.post('/paxos/accept', async (c) => {
      const body = await parse(c, acceptBody, false);
      if (body instanceof Response) return body;
      const out = await this.exec((core) => core.step({ type: 'accept', ...body }, now()));
      return this.answer(c, out, { status: 'ok' });
    });

    app.get('/consensus', (c) => {
      const v = (this.core as AgentCore).consensus(this.durable);
      if (v.reached)
        return c.json(
          { reached: true, value: v.value, round: v.round, attempts: v.attempts, run: v.run },
          200,
        );
      return c.json({ reached: false, round: v.round, run: v.run }, 202);
    });

    app.get('/state', (c) => c.json((this.core as AgentCore).stateView(this.durable)));

    app.notFound((c) =>
      c.json({ error: 'not_found', message: `no route ${c.req.method} ${c.req.path}` }, 404),
    );
    app.onError((err, c) => c.json({ error: 'internal', message: err.message }, 500));
    return app;
  }

  /** Sends what the step produced, then maps its status onto the original's answers. */
  private answer(c: Context, out: Output, ok: Json): Response {
    void this.fanOut(out.send);
    const replies = out.reply.length > 0 ? { replies: out.reply } : {};
    const status: StepStatus = out.status;
    switch (status) {
      case 'ok':
        return c.json({ ...ok, ...replies });
      case 'already-decided':
      case 'unverified':
      case 'conflict':
        return c.json({ status: 'ignored', reason: status, ...replies }, 409);
      default:
        return c.json({ status: 'ignored', reason: status, ...replies });
    }
  }
}

/** JSON body validated by `schema`; a Response (400) when it is not JSON or does not fit. */
async function parse<T>(c: Context, schema: z.ZodType<T>, allowEmpty: boolean): Promise<T | Response> {
  const text = await c.req.text();
  let raw: unknown = {};
  if (text.trim().length > 0 || !allowEmpty) {
    try {
      raw = JSON.parse(text);
    } catch {
      return c.json({ error: 'invalid_json', message: 'body must be a JSON object' }, 400);
    }
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return c.json(
      { error: 'invalid_body', message: `${where}${issue?.message ?? 'invalid'}`, issues: r.error.issues },
      400,
    );
  }
  return r.data;
}
