/**
 * `swarm maelstrom broadcast` against a small in-process stand-in for
 * Maelstrom: five nodes whose stdout lines are routed to each other's input
 * with a random 0-5 ms delay, a partition nemesis, and clients that check
 * every acknowledged broadcast is eventually read everywhere.
 */
import { Writable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { createBroadcastNode, DEFAULT_BROADCAST } from '../../src/maelstrom/broadcast.js';
import type { MaelstromBody } from '../../src/maelstrom/protocol.js';
import type { MaelstromNode } from '../../src/maelstrom/runtime.js';

class MiniMaelstrom {
  readonly ids: string[];
  readonly nodes = new Map<string, MaelstromNode>();
  private readonly waiting = new Map<number, (b: MaelstromBody) => void>();
  private groups = new Map<string, number>();
  private nextId = 1;
  private readonly rng = createRng(9);
  private readonly timers = new Set<NodeJS.Timeout>();
  interNode = 0;

  constructor(n: number) {
    this.ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    for (const id of this.ids) {
      const output = new Writable({
        write: (chunk: Buffer, _enc, cb) => {
          for (const line of chunk.toString().split('\n')) if (line !== '') this.route(line);
          cb();
        },
      });
      this.nodes.set(id, createBroadcastNode({ input: new PassThrough(), output }, DEFAULT_BROADCAST));
    }
  }

  private route(line: string): void {
    const msg = JSON.parse(line) as { src: string; dest: string; body: MaelstromBody };
    if (msg.dest.startsWith('c')) {
      const r = msg.body.in_reply_to;
      if (r !== undefined) this.waiting.get(r)?.(msg.body);
      return;
    }
    this.interNode++;
    if ((this.groups.get(msg.src) ?? 0) !== (this.groups.get(msg.dest) ?? 0)) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.nodes.get(msg.dest)?.handleLine(line);
    }, this.rng.next() * 5);
    this.timers.add(t);
  }

  rpc(node: string, body: Record<string, unknown>): Promise<MaelstromBody> {
    const msgId = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`rpc ${String(body['type'])} to ${node} timed out`)), 5000);
      this.waiting.set(msgId, (b) => {
        clearTimeout(t);
        this.waiting.delete(msgId);
        resolve(b);
      });
      this.nodes
        .get(node)!
        .handleLine(JSON.stringify({ src: 'c1', dest: node, body: { ...body, msg_id: msgId } }));
    });
  }

  partition(groups: string[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.groups.set(id, i + 1)));
  }

  heal(): void {
    this.groups = new Map();
  }

  close(): void {
    for (const n of this.nodes.values()) n.close();
    for (const t of this.timers) clearTimeout(t);
  }
}

let cluster: MiniMaelstrom | null = null;
afterEach(() => {
  cluster?.close();
  cluster = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('maelstrom broadcast node', () => {
  it('answers init, topology, broadcast and read, and every value reaches every node despite a partition', async () => {
    const c = (cluster = new MiniMaelstrom(5));
    for (const id of c.ids)
      expect((await c.rpc(id, { type: 'init', node_id: id, node_ids: c.ids })).type).toBe('init_ok');
    const topo = Object.fromEntries(c.ids.map((id) => [id, c.ids.filter((x) => x !== id)]));
    for (const id of c.ids)
      expect((await c.rpc(id, { type: 'topology', topology: topo })).type).toBe('topology_ok');
    const sent: number[] = [];
    for (let i = 0; i < 20; i++) {
      if (i === 5)
        c.partition([
          ['n1', 'n2'],
          ['n3', 'n4', 'n5'],
        ]);
      if (i === 15) c.heal();
      const r = await c.rpc(c.ids[i % 5]!, { type: 'broadcast', message: 1000 + i });
      expect(r.type).toBe('broadcast_ok');
      sent.push(1000 + i);
      await sleep(20);
    }
    const expected = [...sent].sort();
    let converged = false;
    for (let attempt = 0; attempt < 100 && !converged; attempt++) {
      await sleep(100);
      const reads = await Promise.all(c.ids.map((id) => c.rpc(id, { type: 'read' })));
      converged = reads.every(
        (r) => JSON.stringify([...(r['messages'] as number[])].sort()) === JSON.stringify(expected),
      );
    }
    expect(converged).toBe(true);
    const read = await c.rpc('n3', { type: 'read' });
    expect(read.type).toBe('read_ok');
    expect(new Set(read['messages'] as number[])).toEqual(new Set(sent));
    expect(c.interNode).toBeGreaterThan(0);
  });

  it('treats a repeated broadcast of the same value as one value', async () => {
    const c = (cluster = new MiniMaelstrom(3));
    for (const id of c.ids) await c.rpc(id, { type: 'init', node_id: id, node_ids: c.ids });
    await c.rpc('n1', { type: 'broadcast', message: 7 });
    await c.rpc('n1', { type: 'broadcast', message: 7 });
    let msgs: unknown[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      await sleep(50);
      msgs = (await c.rpc('n3', { type: 'read' }))['messages'] as unknown[];
      if (msgs.length > 0) break;
    }
    expect(msgs).toEqual([7]);
  });
});
