/**
 * Binds the simulator's workload to the project's replicated KV state
 * machine (src/raft/kv.ts): client ops become KV commands, KV results become
 * the client-visible outcomes the linearizability checker reads.
 */
import { KvStateMachine, encodeCommand } from '../../raft/kv.js';
import type { Entry } from '../../raft/types.js';
import type { OpResult, SimCodec, SimStateMachine } from './state-machine.js';

class KvAdapter implements SimStateMachine {
  private kv = new KvStateMachine();

  apply(entry: Entry): OpResult | null {
    const r = this.kv.apply(entry);
    if (r.op === 'put') return { kind: 'write' };
    if (r.op === 'cas') return { kind: 'cas', ok: r.ok };
    return null;
  }

  read(key: string): number | null {
    const v = this.kv.get(key)?.value;
    return typeof v === 'number' ? v : null;
  }

  snapshot(): Uint8Array {
    return this.kv.snapshot();
  }

  restore(data: Uint8Array): void {
    this.kv = new KvStateMachine();
    this.kv.restore(data);
  }
}

export const kvCodec: SimCodec = {
  encode(op) {
    return encodeCommand(
      op.kind === 'write'
        ? { op: 'put', key: op.key, value: op.value }
        : { op: 'cas', key: op.key, expected: op.from, value: op.to },
    );
  },
  create: () => new KvAdapter(),
};
