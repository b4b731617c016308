/**
 * TasksComponent over an in-memory KV and fake membership (no sockets): the
 * leader's scheduler places on this node, the supervisor runs a real process
 * group; cut from the leader past [tasks] lease_ms the node stops its tasks
 * itself, and starts them again when contact returns; a graceful stop drains
 * (the leader places a replacement elsewhere) and reports `stopped`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Http1Server as Server } from '../../src/api/http1/server.js';
import { requestListener } from '../../src/api/server.js';
import type { TaskStatusResponse } from '../../src/api/routes/tasks-types.js';
import { SwarmClient, type TaskLogFollowItem } from '../../src/client/client.js';
import { defaultConfig } from '../../src/config/schema.js';
import type { MemberRecord } from '../../src/gossip/messages.js';
import { nullLogger } from '../../src/node/log.js';
import type { SwarmNode } from '../../src/node/node.js';
import type { WriteOp, WriteOutcome } from '../../src/node/raft-forward.js';
import { TasksComponent, type TasksMembers, type TasksRaft } from '../../src/node/tasks-component.js';
import { WatchHub } from '../../src/node/watch-hub.js';
import { KvStateMachine, encodeCommand } from '../../src/raft/kv.js';
import { EntryType } from '../../src/raft/types.js';
import { allocKey, specKey } from '../../src/tasks/model.js';
import { parseTaskSpec } from '../../src/tasks/spec.js';
import { memberRecord } from '../helpers/member-record.js';
import { groupAlive } from './proc.js';

async function until<T>(what: string, f: () => T | null | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

class FakeRaft implements TasksRaft {
  readonly kv = new KvStateMachine();
  /** Fed by the state machine's event sink, as KvApplier feeds the node's hub. */
  readonly watch = new WatchHub();
  contactAge = 0;
  private index = 0;
  private readonly listeners = new Set<() => void>();
  constructor() {
    this.kv.setEventSink((ev) => this.watch.event(ev));
  }
  readonly requestTimeoutMs = 1000;
  readonly forward = {
    linearize: async (): Promise<void> => {},
    write: async (op: WriteOp): Promise<WriteOutcome> => {
      const cmd =
        op.op === 'delete'
          ? { op: 'delete' as const, key: op.key }
          : op.prevRevision === undefined
            ? { op: 'put' as const, key: op.key, value: op.value }
            : { op: 'cas_rev' as const, key: op.key, value: op.value, expectedRevision: op.prevRevision };
      const entry = { index: ++this.index, term: 1, type: EntryType.Normal, data: encodeCommand(cmd) };
      const r = this.kv.apply(entry);
      // As the Ready loop does after each applied batch: watchers (the API's streams) read on.
      this.watch.wakeAll();
      for (const l of this.listeners) l();
      if (!r.ok) return { kind: 'mismatch', current: r.current?.modRevision ?? 0 };
      return op.op === 'delete'
        ? { kind: 'delete', deleted: true, revision: r.revision }
        : { kind: 'put', revision: r.revision };
    },
  };
  localKv(): KvStateMachine {
    return this.kv;
  }
  afterApply(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  leaderContactAgeMs(): number {
    return this.contactAge;
  }
  /** The nodes the leader must heartbeat every round, as last given. */
  contact: string[] = [];
  setContactLearners(ids: ReadonlySet<string>): void {
    this.contact = [...ids].sort();
  }
  info(): { role: string; leader: string | null; term: number } {
    return { role: 'leader', leader: 'n1', term: 1 };
  }
}

const record = (id: string): MemberRecord => memberRecord(id);

class FakeMembers implements TasksMembers {
  members = [{ record: record('n1'), status: 'alive' as const }];
  readonly advertised: Record<string, string | null> = {};
  private readonly listeners = new Set<() => void>();
  view(): ReturnType<TasksMembers['view']> {
    return { selfId: 'n1', members: this.members };
  }
  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  advertise(tags: Readonly<Record<string, string | null>>): void {
    Object.assign(this.advertised, tags);
  }
  changed(): void {
    for (const l of this.listeners) l();
  }
}

let dir: string;
let raft: FakeRaft;
let members: FakeMembers;
let comp: TasksComponent;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'swarm-tasks-comp-'));
  raft = new FakeRaft();
  members = new FakeMembers();
  const config = defaultConfig();
  config.node.data_dir = dir;
  config.node.labels = ['camera'];
  config.tasks.lease_ms = 300;
  const node = {
    id: 'n1',
    config,
    dataDir: dir,
    log: nullLogger,
    status: () => ({ addresses: { api: '127.0.0.1:5557' } }),
  } as unknown as SwarmNode;
  comp = new TasksComponent({ raft, members, drainWaitMs: 500 });
  await comp.start(node);
});

afterEach(async () => {
  await comp.stop();
  rmSync(dir, { recursive: true, force: true });
});

const SLEEPER = parseTaskSpec({ name: 'sleeper', command: ['sleep', '30'], kill_timeout_s: 1 });

describe('TasksComponent', () => {
  it('advertises labels, arch and no drain', () => {
    expect(members.advertised).toMatchObject({ labels: 'camera', arch: process.arch, drain: null });
  });

  it('cut from the leader past lease_ms: stops its tasks itself; back in contact: starts them again', async () => {
    await comp.run(SLEEPER);
    const first = await until('running', () =>
      comp.taskStatus('sleeper').allocations.find((a) => a.state === 'running'),
    );
    expect(groupAlive(first.pid!)).toBe(true);
    raft.contactAge = Number.POSITIVE_INFINITY;
    await until('group stopped by the fence', () => !groupAlive(first.pid!), 5000);
    // Nothing was written while fenced: the leader decides (it may already have re-placed it).
    expect(comp.taskStatus('sleeper').allocations[0]).toMatchObject({ state: 'running', pid: first.pid });
    raft.contactAge = 0;
    const again = await until('running again', () =>
      comp.taskStatus('sleeper').allocations.find((a) => a.state === 'running' && a.pid !== first.pid),
    );
    expect(groupAlive(again.pid!)).toBe(true);
  });

  it('a graceful stop drains: replacement placed on another node, then stopped here', async () => {
    members.members = [...members.members, { record: record('n2'), status: 'alive' as const }];
    members.changed();
    await comp.run(SLEEPER);
    const first = await until('running', () =>
      comp.taskStatus('sleeper').allocations.find((a) => a.state === 'running'),
    );
    expect(first.node).toBe('n1');
    await comp.beforeStop();
    expect(members.advertised.drain).toBe('1');
    const s = comp.taskStatus('sleeper');
    expect(s.allocations.find((a) => a.node === 'n2')).toMatchObject({ desired: 'run', replaces: first.id });
    expect(s.allocations.find((a) => a.id === first.id)).toMatchObject({ state: 'stopped' });
    expect(groupAlive(first.pid!)).toBe(false);
  });

  it('asks Raft to heartbeat every round the nodes running allocations, and only while they do', async () => {
    expect(raft.contact).toEqual([]);
    await comp.run(SLEEPER);
    await until('running', () => comp.taskStatus('sleeper').allocations.find((a) => a.state === 'running'));
    await until('contact set', () => raft.contact.join() === 'n1');
    await comp.stopTask('sleeper');
    await until('contact set emptied', () => raft.contact.length === 0, 5000);
  });

  it('task stop: SIGTERM to the group, reported stopped', async () => {
    // The marker file says the shell has set its trap: SIGTERM sent before that would end it at once.
    const marker = join(mkdtempSync(join(tmpdir(), 'swarm-trap-')), 'trapped');
    await comp.run(
      parseTaskSpec({
        name: 'two',
        command: ['sh', '-c', `trap "" TERM; : > '${marker}'; sleep 30`],
        kill_timeout_s: 0.3,
      }),
    );
    const a = await until('running', () =>
      comp.taskStatus('two').allocations.find((x) => x.state === 'running'),
    );
    await until('the trap set', () => existsSync(marker));
    const t0 = Date.now();
    await comp.stopTask('two');
    await until('stopped', () => comp.taskStatus('two').allocations[0]?.state === 'stopped', 5000);
    // The task ignores SIGTERM: only SIGKILL after kill_timeout_s ends it.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(groupAlive(a.pid!)).toBe(false);
    rmSync(dirname(marker), { recursive: true, force: true });
  });
});

describe('/v1/tasks routes', () => {
  const api = async (): Promise<import('hono').Hono> => {
    const { createApi } = await import('../../src/api/app.js');
    const { tasksRoutes } = await import('../../src/api/routes/tasks.js');
    const fakeNode = { id: 'n1', state: 'running', status: () => ({}), requestShutdown: () => {} };
    const linearize = { forward: { linearize: async () => {} }, requestTimeoutMs: 1000 };
    return createApi(fakeNode as never, { routes: [tasksRoutes(comp, { ...linearize, watch: raft.watch })] });
  };
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
  /** The routes over node:http (streams need the real adapter), and a client of them. */
  const serve = async (): Promise<SwarmClient> => {
    const app = await api();
    const s = createServer(requestListener(app.fetch));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return new SwarmClient({ baseUrl: `http://127.0.0.1:${(s.address() as AddressInfo).port}` });
  };

  it('log reads for other nodes: only allocation ids, one path component under tasks/', () => {
    for (const bad of ['../../etc/passwd', 'a/b.1', '.x.1', 'cam', ''])
      expect(comp.readLocalLog(bad, 0, 10), bad).toMatch(/not an allocation id/);
    expect(comp.readLocalLog('cam.0', null, 10)).toMatchObject({ from: 0, size: 0, next_offset: 0 });
  });

  it('bad specs are 400 naming the field; duplicates 409; unknown 404; nothing stored', async () => {
    const app = await api();
    const post = (body: string): Promise<Response> =>
      Promise.resolve(
        app.request('/v1/tasks', { method: 'POST', body, headers: { 'content-type': 'application/json' } }),
      );
    let r = await post(JSON.stringify({ name: 'x', command: [] }));
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({
      error: { code: 'bad_task_spec', message: 'command: must be a non-empty list of strings (argv)' },
    });
    r = await post('{not json');
    expect(r.status).toBe(400);
    r = await post(JSON.stringify({ name: 'x', command: ['true'], energy: 'solar' }));
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(
      /^energy: must be one of/,
    );
    expect(raft.kv.size).toBe(0);
    r = await post(JSON.stringify({ name: 'x', command: ['sleep', '5'] }));
    expect(r.status).toBe(201);
    r = await post(JSON.stringify({ name: 'x', command: ['sleep', '5'] }));
    expect(r.status).toBe(409);
    r = await Promise.resolve(app.request('/v1/tasks/nope'));
    expect(r.status).toBe(404);
    r = await Promise.resolve(app.request('/v1/tasks/x/logs?max=-1'));
    expect(r.status).toBe(400);
  });

  it('logs ?follow=true: streams lines written after it started, ends when the allocation exits', async () => {
    const client = await serve();
    await comp.run(
      parseTaskSpec({
        name: 'talk',
        restart: 'never',
        command: ['sh', '-c', 'echo one; sleep 1; echo two; sleep 1; echo three; exit 3'],
      }),
    );
    await until('running', () => comp.taskStatus('talk').allocations.find((a) => a.state === 'running'));
    const items: TaskLogFollowItem[] = [];
    const t0 = Date.now();
    for await (const it of client.taskLogsFollow('talk', { offset: 0 })) {
      items.push(it);
      if (Date.now() - t0 > 20_000) break;
    }
    const text = items.map((i) => (i.type === 'log' ? i.chunk.data : '')).join('');
    expect(text).toMatch(/one\n[^]*two\n[^]*three\n/);
    // More than one chunk: the later lines came after the stream started, not in its first read.
    expect(items.filter((i) => i.type === 'log').length).toBeGreaterThan(1);
    // The supervisor's exit note is in the log before the state that ends the stream.
    expect(text).toMatch(/exited with code 3/);
    expect(items[items.length - 1]).toEqual({
      type: 'end',
      end: { task: 'talk', alloc: 'talk.0', state: 'exited', exit_code: 3, signal: null },
    });
    // An allocation already over: the log to its end, then `end` at once.
    const again: TaskLogFollowItem[] = [];
    for await (const it of client.taskLogsFollow('talk', { offset: 0 })) again.push(it);
    expect(again.map((i) => (i.type === 'log' ? i.chunk.data : '')).join('')).toBe(text);
    expect(again[again.length - 1]?.type).toBe('end');
  });

  it('GET /v1/tasks/{name}?watch=true: the view now, then each change, until the replicas stopped', async () => {
    const client = await serve();
    await comp.run(SLEEPER);
    await until('running', () => comp.taskStatus('sleeper').allocations.find((a) => a.state === 'running'));
    const ac = new AbortController();
    const seen: TaskStatusResponse[] = [];
    let stopped: TaskStatusResponse | undefined;
    for await (const v of client.taskWatch(
      'sleeper',
      AbortSignal.any([ac.signal, AbortSignal.timeout(20_000)]),
    )) {
      seen.push(v);
      if (seen.length === 1) {
        expect(v.allocations[0]?.state).toBe('running');
        await comp.stopTask('sleeper');
      }
      if (v.allocations.every((a) => a.state !== 'running' && a.state !== 'pending')) {
        stopped = v;
        ac.abort();
      }
    }
    expect(stopped?.desired).toBe('stop');
    expect(stopped?.allocations[0]?.state).toBe('stopped');
    // Each event is a change: no two equal views in a row.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toEqual(seen[i - 1]);
    // A watcher that leaves (its signal aborts) while nothing changes: the stream ends at once.
    const t0 = Date.now();
    for await (const _ of client.taskWatch('sleeper', AbortSignal.timeout(300))) void _;
    expect(Date.now() - t0).toBeLessThan(15_000);
    // A task that does not exist: 404 before any stream, as for the plain read.
    await expect(
      (async () => {
        for await (const _ of client.taskWatch('nope')) void _;
      })(),
    ).rejects.toMatchObject({ status: 404, apiCode: 'not_found' });
  });

  it('errors keep their statuses and bodies: 503 tasks_disabled, 503 node_unreachable, 404', async () => {
    const app = await api();
    // An allocation on a node this one has no log channel to (the fake Raft has no task_logs).
    const spec = parseTaskSpec({ name: 'far', command: ['sleep', '5'] });
    await raft.forward.write({
      op: 'put',
      key: specKey('far'),
      value: { spec, desired: 'stop', submitted_ms: 1 } as never,
    });
    await raft.forward.write({
      op: 'put',
      key: allocKey('far', 0),
      value: {
        task: 'far',
        n: 0,
        node: 'n9',
        node_name: 'nine',
        desired: 'stop',
        reason: 'x',
        created_ms: 1,
      },
    });
    let r = await Promise.resolve(app.request('/v1/tasks/far/logs?alloc=far.0'));
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({
      error: { code: 'node_unreachable', message: 'this node cannot reach node n9 for the logs of far.0' },
    });
    r = await Promise.resolve(app.request('/v1/tasks/far/logs?alloc=far.7'));
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({
      error: { code: 'not_found', message: 'task far has no allocation far.7' },
    });
    r = await Promise.resolve(app.request('/v1/tasks/none/stop', { method: 'POST' }));
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: { code: 'not_found', message: 'no task none' } });

    // A node with [tasks] enabled = false: every route answers 503 tasks_disabled.
    const config = defaultConfig();
    config.node.data_dir = dir;
    config.tasks.enabled = false;
    const off = new TasksComponent({ raft, members });
    await off.start({ id: 'n1', config, dataDir: dir, log: nullLogger } as unknown as SwarmNode);
    const { createApi } = await import('../../src/api/app.js');
    const { tasksRoutes } = await import('../../src/api/routes/tasks.js');
    const offApp = createApi(
      { id: 'n1', state: 'running', status: () => ({}), requestShutdown: () => {} } as never,
      {
        routes: [tasksRoutes(off, { forward: { linearize: async () => {} }, requestTimeoutMs: 1000 })],
      },
    );
    for (const [path, method] of [
      ['/v1/tasks', 'GET'],
      ['/v1/tasks/far', 'GET'],
      ['/v1/tasks/far/stop', 'POST'],
      ['/v1/tasks/far/logs', 'GET'],
    ] as const) {
      r = await Promise.resolve(offApp.request(path, { method }));
      expect(r.status, path).toBe(503);
      expect(await r.json(), path).toEqual({
        error: {
          code: 'tasks_disabled',
          message: 'tasks are not running on this node ([tasks] enabled = false)',
        },
      });
    }
    await off.stop();
  });
});
