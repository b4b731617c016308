/**
 * The simulator's command codec and register state machine: JSON commands
 * over a sorted map, so snapshots of equal states are byte-equal and replicas
 * can be compared directly.
 */
import type { Entry } from '../../raft/types.js';
import type { OpResult, SimCodec, SimStateMachine } from './state-machine.js';

type Command =
  { op: 'write'; key: string; value: number } | { op: 'cas'; key: string; from: number; to: number };

const enc = new TextEncoder();
const dec = new TextDecoder();

class RegisterMap implements SimStateMachine {
  private data = new Map<string, number>();

  apply(entry: Entry): OpResult | null {
    const cmd = JSON.parse(dec.decode(entry.data)) as Command;
    if (cmd.op === 'write') {
      this.data.set(cmd.key, cmd.value);
      return { kind: 'write' };
    }
    const cur = this.data.get(cmd.key);
    if (cur !== cmd.from) return { kind: 'cas', ok: false };
    this.data.set(cmd.key, cmd.to);
    return { kind: 'cas', ok: true };
  }

  read(key: string): number | null {
    return this.data.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    const sorted = [...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return enc.encode(JSON.stringify(sorted));
  }

  restore(data: Uint8Array): void {
    this.data = new Map(JSON.parse(dec.decode(data)) as [string, number][]);
  }
}

export const kvCodec: SimCodec = {
  encode(op) {
    const cmd: Command =
      op.kind === 'write'
        ? { op: 'write', key: op.key, value: op.value }
        : { op: 'cas', key: op.key, from: op.from, to: op.to };
    return enc.encode(JSON.stringify(cmd));
  },
  create: () => new RegisterMap(),
};
