/**
 * RaftTaskStore reacts to every mutation of tasks/ keys the state machine
 * applies, through the node's watch hub: client writes, and deletes no entry
 * names (a lease revoked or expired takes its keys with it); a replaced state
 * (the hub's history reset past the store's cursor) re-indexes.
 */
import { describe, expect, it } from 'vitest';
import { RaftTaskStore, type TaskStoreRaft } from '../../src/node/task-store.js';
import { WatchHub } from '../../src/node/watch-hub.js';
import { KvStateMachine, encodeCommand, type KvCommand } from '../../src/raft/kv.js';
import { EntryType } from '../../src/raft/types.js';

class Fake {
  kv = new KvStateMachine();
  readonly watch = new WatchHub();
  private index = 0;
  private readonly after = new Set<() => void>();
  constructor() {
    this.kv.setEventSink((ev) => this.watch.event(ev));
  }
  apply(cmd: KvCommand): number {
    const entry = { index: ++this.index, term: 1, type: EntryType.Normal, data: encodeCommand(cmd) };
    this.kv.apply(entry);
    for (const l of this.after) l();
    return entry.index;
  }
  /** A snapshot installed: a new state machine at a later revision, the hub's history reset. */
  restore(keys: Record<string, string>): void {
    const kv = new KvStateMachine();
    for (const [k, v] of Object.entries(keys))
      kv.apply({
        index: ++this.index,
        term: 1,
        type: EntryType.Normal,
        data: encodeCommand({ op: 'put', key: k, value: v }),
      });
    kv.setEventSink((ev) => this.watch.event(ev));
    this.kv = kv;
    this.watch.restored(kv.revision);
    for (const l of this.after) l();
  }
  raft(): TaskStoreRaft {
    return {
      localKv: () => this.kv,
      watch: this.watch,
      afterApply: (fn) => {
        this.after.add(fn);
        return () => this.after.delete(fn);
      },
      forward: {
        write: async () => {
          throw new Error('not used');
        },
        linearize: async () => {},
      },
      requestTimeoutMs: 1000,
    };
  }
}

/** An open store over a fresh Fake; `wakes()` counts its subscriber's calls. */
function openStore(): { f: Fake; store: RaftTaskStore; wakes: () => number } {
  const f = new Fake();
  const store = new RaftTaskStore(f.raft());
  store.open();
  let wakes = 0;
  store.subscribe(() => wakes++);
  return { f, store, wakes: () => wakes };
}

describe('RaftTaskStore over the watch hub', () => {
  it('wakes on tasks/ writes only, and a lease revoke deleting a tasks/ key wakes it and drops the key', () => {
    const { f, store, wakes } = openStore();
    f.apply({ op: 'put', key: 'tasks/spec/a', value: 1 });
    expect(wakes()).toBe(1);
    expect(store.list('tasks/').map((e) => e.key)).toEqual(['tasks/spec/a']);
    f.apply({ op: 'put', key: 'other/x', value: 1 });
    expect(wakes()).toBe(1);
    const lease = f.apply({ op: 'lease_grant', ttlMs: 10_000, now: 0 });
    expect(wakes()).toBe(1);
    f.apply({ op: 'put', key: 'tasks/lock/a', value: 'n1', lease });
    expect(wakes()).toBe(2);
    expect(store.list('tasks/').map((e) => e.key)).toEqual(['tasks/lock/a', 'tasks/spec/a']);
    // The revoke names no key: only the state machine's events show that tasks/lock/a went.
    f.apply({ op: 'lease_revoke', id: lease });
    expect(wakes()).toBe(3);
    expect(store.list('tasks/').map((e) => e.key)).toEqual(['tasks/spec/a']);
    f.apply({ op: 'delete', key: 'tasks/spec/a' });
    expect(wakes()).toBe(4);
    expect(store.list('tasks/')).toEqual([]);
    store.close();
    f.apply({ op: 'put', key: 'tasks/spec/b', value: 1 });
    expect(wakes()).toBe(4);
  });

  it('a restored state wakes it and is indexed again', () => {
    const { f, store, wakes } = openStore();
    f.apply({ op: 'put', key: 'tasks/spec/a', value: 1 });
    expect(store.list('tasks/spec/').length).toBe(1);
    f.restore({ 'tasks/spec/z': 'x', 'tasks/alloc/z/0': 'y' });
    expect(wakes()).toBe(2);
    expect(store.list('tasks/').map((e) => e.key)).toEqual(['tasks/alloc/z/0', 'tasks/spec/z']);
    // Reading on from the restored revision.
    f.apply({ op: 'put', key: 'tasks/spec/q', value: 1 });
    expect(wakes()).toBe(3);
    expect(store.list('tasks/spec/').map((e) => e.key)).toEqual(['tasks/spec/q', 'tasks/spec/z']);
  });
});
