/**
 * Task logs over the Raft channel (fwd_req op task_logs): a node reads a chunk
 * of an allocation's log from the node that runs it, which need not lead.
 * In-memory hosts, every frame through the Raft transport's codec as on the
 * wire; the reader is the real one (readLogBytes over a temporary data dir).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FORWARD_LIMITS,
  TASK_LOG_CHUNK_BYTES,
  raftWireCodec,
  type ForwardMessage,
  type ForwardResponseMsg,
} from '../../src/net/forward-codec.js';
import { NotLeaderError } from '../../src/node/raft-component.js';
import {
  ForwardRefusedError,
  RaftForwarder,
  collectTaskLog,
  parseTaskLogChunk,
  type ForwardHost,
} from '../../src/node/raft-forward.js';
import { LOG_FILE, allocDir, readLogBytes } from '../../src/node/task-log.js';

interface Fake {
  readonly id: string;
  term: number;
  known: Set<string>;
  blackhole: boolean;
  sent: ForwardMessage[];
  fwd: RaftForwarder;
}

const nodes = new Map<string, Fake>();
let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'swarm-tasklogs-'));
});

afterEach(() => {
  for (const n of nodes.values()) n.fwd.close();
  nodes.clear();
  rmSync(dataDir, { recursive: true, force: true });
});

function make(id: string, term = 1): Fake {
  const n = { id, term, known: new Set(['a', 'b', 'c']), blackhole: false, sent: [] } as unknown as Fake;
  const never = (): never => {
    throw new NotLeaderError('a', null);
  };
  const host: ForwardHost = {
    selfId: id,
    requestTimeoutMs: 200,
    electionTimeoutMs: 100,
    currentTerm: () => n.term,
    leader: () => 'a',
    appliedIndex: () => 0,
    sendForward: (to, msg) => {
      const d = raftWireCodec.decode(raftWireCodec.encode(msg));
      if (!d.ok) throw new Error(`frame did not decode: ${d.reason} ${d.detail ?? ''}`);
      n.sent.push(d.msg as ForwardMessage);
      if (!n.blackhole) setTimeout(() => nodes.get(to)?.fwd.onMessage(d.msg as ForwardMessage), 1);
      return true;
    },
    knownPeer: (p) => n.known.has(p),
    put: async () => never(),
    delete: async () => never(),
    readIndex: async () => never(),
    awaitLeader: async () => 'a',
    awaitLeaderChange: async () => 'a',
    awaitLeadership: async () => false,
  };
  n.fwd = new RaftForwarder(host);
  nodes.set(id, n);
  return n;
}

/** Node `id` serves the logs of its data dir's allocations, as TasksComponent.readLocalLog does. */
function serve(n: Fake): void {
  n.fwd.serveTaskLogs((alloc, offset, max) =>
    /^[a-z0-9][a-z0-9_.-]{0,62}\.\d+$/.test(alloc)
      ? readLogBytes(allocDir(join(dataDir, n.id), alloc), offset, max)
      : `not an allocation id: ${alloc}`,
  );
}

function writeLog(node: string, alloc: string, content: Buffer): void {
  const dir = allocDir(join(dataDir, node), alloc);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, LOG_FILE), content);
}

describe('task_logs over the Raft channel', () => {
  it('a non-leader serves a chunk of its log to another node, bytes exact, in any term', async () => {
    make('a');
    const b = make('b', 7); // b is neither leader nor in the sender's term: a read is not fenced
    const c = make('c');
    serve(b);
    // A multi-byte character cut by the offset: base64 carries the bytes, not text.
    const content = Buffer.from('tick 1\nété ☀ tick 2\n');
    writeLog('b', 'cam.0', content);
    const r = await c.fwd.taskLogs('b', 'cam.0', 9, 100);
    expect(r.from).toBe(9);
    expect(r.bytes.equals(content.subarray(9))).toBe(true);
    expect(r.next_offset).toBe(content.length);
    expect(r.size).toBe(content.length);
    // Tail: no offset = the last `max` bytes.
    const tail = await c.fwd.taskLogs('b', 'cam.0', null, 7);
    expect(tail.bytes.toString()).toBe('tick 2\n');
    expect(tail.from).toBe(content.length - 7);
    // The request went to b directly (not to the leader a).
    const req = c.sent.find((m) => m.type === 'fwd_req');
    expect(req).toMatchObject({ to: 'b', op: 'task_logs', key: 'cam.0' });
  });

  it('one answer carries at most TASK_LOG_CHUNK_BYTES; collectTaskLog reads on up to max', async () => {
    make('a');
    const b = make('b');
    const c = make('c');
    serve(b);
    const content = Buffer.alloc(TASK_LOG_CHUNK_BYTES * 2 + 1000);
    for (let i = 0; i < content.length; i++) content[i] = 0x20 + (i % 90);
    writeLog('b', 'big.3', content);
    const one = await c.fwd.taskLogs('b', 'big.3', 0, 256 * 1024);
    expect(one.bytes.length).toBe(TASK_LOG_CHUNK_BYTES);
    // The answer frame stayed inside the fwd_resp message bound.
    const resp = b.sent.find((m): m is ForwardResponseMsg => m.type === 'fwd_resp')!;
    expect(Buffer.byteLength(resp.message)).toBeLessThanOrEqual(FORWARD_LIMITS.messageBytes);

    const all = await collectTaskLog((o, m) => c.fwd.taskLogs('b', 'big.3', o, m), 0, 256 * 1024);
    expect(all.bytes.equals(content)).toBe(true);
    expect(all.next_offset).toBe(content.length);
    const part = await collectTaskLog((o, m) => c.fwd.taskLogs('b', 'big.3', o, m), 100, 40_000);
    expect(part.bytes.equals(content.subarray(100, 40_100))).toBe(true);
    expect(part.next_offset).toBe(40_100);
    // A tail longer than one answer: the last `max` bytes, not the last chunk only.
    const tail = await collectTaskLog((o, m) => c.fwd.taskLogs('b', 'big.3', o, m), null, 64 * 1024);
    expect(tail.from).toBe(content.length - 64 * 1024);
    expect(tail.bytes.equals(content.subarray(content.length - 64 * 1024))).toBe(true);
    expect(tail.next_offset).toBe(content.length);
  });

  it('a missing log is an empty chunk; a malformed allocation id is refused (400), no file is read', async () => {
    make('a');
    const b = make('b');
    const c = make('c');
    serve(b);
    expect(await c.fwd.taskLogs('b', 'nope.0', null, 100)).toMatchObject({
      from: 0,
      next_offset: 0,
      size: 0,
    });
    const err = await c.fwd.taskLogs('b', '../../etc', 0, 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForwardRefusedError);
    expect(err).toMatchObject({ status: 400, code: 'bad_request' });
  });

  it('no Raft address for the target: 503 node_unreachable without sending anything', async () => {
    const c = make('c');
    c.known.delete('b');
    const err = await c.fwd.taskLogs('b', 'cam.0', null, 100).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'node_unreachable' });
    expect((err as Error).message).toMatch(/no Raft address/);
    expect(c.sent).toEqual([]);
  });

  it('a target that runs no tasks, or does not answer: 503 node_unreachable', async () => {
    make('b'); // no reader registered
    const c = make('c');
    await expect(c.fwd.taskLogs('b', 'cam.0', null, 100)).rejects.toMatchObject({
      status: 503,
      code: 'node_unreachable',
      message: expect.stringMatching(/runs no tasks/),
    });
    c.blackhole = true;
    await expect(c.fwd.taskLogs('b', 'cam.0', null, 100)).rejects.toMatchObject({
      status: 503,
      code: 'node_unreachable',
      message: expect.stringMatching(/no answer from b/),
    });
  });
});

describe('task_logs waiting reads (wait_ms: a follower, logs --follow)', () => {
  it('the node answers when the log grows, not before; the answer says it waited', async () => {
    make('a');
    const b = make('b');
    const c = make('c');
    const content = Buffer.from('tick 1\n');
    writeLog('b', 'cam.0', content);
    let grew: (() => void) | null = null;
    const waits: number[] = [];
    b.fwd.serveTaskLogs(async (alloc, offset, max, waitMs) => {
      waits.push(waitMs);
      const dir = allocDir(join(dataDir, 'b'), alloc);
      const first = readLogBytes(dir, offset, max);
      if (waitMs <= 0 || first.bytes.length > 0) return first;
      await new Promise<void>((r) => {
        grew = r;
        setTimeout(r, waitMs);
      });
      return readLogBytes(dir, offset, max);
    });
    const t0 = Date.now();
    const pending = c.fwd.taskLogs('b', 'cam.0', content.length, 100, 10_000);
    while (grew === null) await new Promise((r) => setTimeout(r, 5));
    writeLog('b', 'cam.0', Buffer.concat([content, Buffer.from('tick 2\n')]));
    (grew as () => void)();
    const r = await pending;
    expect(r.bytes.toString()).toBe('tick 2\n');
    expect(r.waited).toBe(true);
    // The sender asks for at most its request timeout (200 ms here): its answer must come in time.
    expect(waits).toEqual([200]);
    expect(Date.now() - t0).toBeLessThan(5000);
    const req = c.sent.find((m) => m.type === 'fwd_req');
    expect(req).toMatchObject({ value: `{"offset":${content.length},"max":100,"wait_ms":200}` });
    // Nothing new within the wait: an empty chunk after it, still `waited`.
    const empty = await c.fwd.taskLogs('b', 'cam.0', content.length + 7, 100, 50);
    expect(empty).toMatchObject({ from: content.length + 7, size: content.length + 7, waited: true });
  });

  it('a plain read keeps the frame older nodes know, and an answer without `waited` is an older node', async () => {
    make('a');
    const b = make('b');
    const c = make('c');
    serve(b);
    writeLog('b', 'cam.0', Buffer.from('x\n'));
    const r = await c.fwd.taskLogs('b', 'cam.0', 0, 100);
    expect(r.waited).toBe(false);
    expect(c.sent.find((m) => m.type === 'fwd_req')).toMatchObject({ value: '{"offset":0,"max":100}' });
    const old = JSON.stringify({ from: 0, next_offset: 0, size: 0, data: '' });
    expect(parseTaskLogChunk(old)?.waited).toBe(false);
  });
});

describe('task_logs codec', () => {
  it('fwd_req op task_logs and an ok fwd_resp with a full chunk round-trip; a bigger message is dropped', () => {
    const req: ForwardMessage = {
      type: 'fwd_req',
      from: 'c',
      to: 'b',
      term: 3,
      id: 1,
      op: 'task_logs',
      key: 'cam.0',
      value: '{"offset":null,"max":65536}',
      prevRevision: null,
      heir: false,
    };
    expect(raftWireCodec.decode(raftWireCodec.encode(req))).toEqual({ ok: true, msg: req });
    const chunk = Buffer.alloc(TASK_LOG_CHUNK_BYTES, 0xff);
    const message = JSON.stringify({
      from: 0,
      next_offset: chunk.length,
      size: chunk.length,
      data: chunk.toString('base64'),
    });
    const resp: ForwardMessage = {
      type: 'fwd_resp',
      from: 'b',
      to: 'c',
      term: 3,
      id: 1,
      code: 'ok',
      message,
      leader: null,
      successor: null,
      revision: 0,
      deleted: false,
    };
    const bytes = raftWireCodec.encode(resp);
    // Under the 64 KiB frame limit of a connection that has not authenticated yet.
    expect(bytes.length).toBeLessThan(64 * 1024);
    expect(raftWireCodec.decode(bytes)).toEqual({ ok: true, msg: resp });
    expect(parseTaskLogChunk(message)?.bytes.equals(chunk)).toBe(true);
    const over = { ...resp, message: 'x'.repeat(FORWARD_LIMITS.messageBytes + 1) };
    expect(() => raftWireCodec.encode(over)).toThrow();
  });

  it('parseTaskLogChunk refuses malformed answers', () => {
    const ok = { from: 2, next_offset: 5, size: 9, data: Buffer.from('abc').toString('base64') };
    expect(parseTaskLogChunk(JSON.stringify(ok))).toMatchObject({ from: 2, next_offset: 5, size: 9 });
    for (const bad of [
      'not json',
      '[]',
      JSON.stringify({ ...ok, next_offset: 6 }), // does not match the bytes carried
      JSON.stringify({ ...ok, data: '***' }),
      JSON.stringify({ ...ok, from: -1 }),
      JSON.stringify({ ...ok, data: Buffer.alloc(TASK_LOG_CHUNK_BYTES + 1).toString('base64') }),
    ])
      expect(parseTaskLogChunk(bad), bad.slice(0, 40)).toBeNull();
  });
});
