/**
 * Linearizability checker for a key-value register history (Wing & Gong's
 * search with Lowe's memoization, as in Porcupine and Knossos' "linear" mode).
 *
 * Keys are independent registers, so the history is split per key and each key
 * is searched alone: the search is exponential in concurrency, not in length.
 *
 * Operations whose outcome the client never learned (timeouts, crashes,
 * indefinite errors) have `ret: null`: they may take effect at any point after
 * their call, or never. Reads with an unknown outcome carry no information and
 * are dropped. Definitely failed operations (Maelstrom error 11) must not be
 * passed in at all, since they did not happen.
 */

export type KvValue = number | string;

export type KvOpBody =
  /** `value: null` means the read observed that the key does not exist. */
  | { readonly kind: 'read'; readonly value: KvValue | null }
  | { readonly kind: 'write'; readonly value: KvValue }
  /** `ok: false` means the precondition failed (key absent or value differed); ignored when `ret` is null. */
  | { readonly kind: 'cas'; readonly from: KvValue; readonly to: KvValue; readonly ok: boolean };

export interface KvHistoryOp {
  readonly client: string | number;
  readonly key: string;
  /** Invocation time (any monotonic clock shared by all clients). */
  readonly call: number;
  /** Completion time, or null when the outcome is unknown. */
  readonly ret: number | null;
  readonly op: KvOpBody;
}

export interface LinearizabilityResult {
  /** 'unknown' when the search budget ran out before a verdict. */
  readonly verdict: 'ok' | 'violation' | 'unknown';
  /** Key whose sub-history failed (or ran out of budget). */
  readonly key?: string;
  /** Operations of that key, for printing. */
  readonly ops?: readonly KvHistoryOp[];
  /** Longest prefix of operations (by index into `ops`) that could be linearized. */
  readonly longestLinearized?: readonly number[];
  readonly keysChecked: number;
  readonly opsChecked: number;
}

type State = KvValue | null;

interface Node {
  /** Operation index within the key's op list. */
  readonly id: number;
  readonly isCall: boolean;
  readonly time: number;
  /** For a call entry: its matching return entry. */
  match: Node | null;
  prev: Node | null;
  next: Node | null;
}

/** Applies an operation to the register; undefined when it cannot be linearized in this state. */
function applyOp(state: State, op: KvOpBody, known: boolean): State | undefined {
  switch (op.kind) {
    case 'read':
      return op.value === state ? state : undefined;
    case 'write':
      return op.value;
    case 'cas': {
      const matches = state !== null && state === op.from;
      if (!known) return matches ? op.to : undefined;
      if (op.ok) return matches ? op.to : undefined;
      return matches ? undefined : state;
    }
  }
}

function checkKey(
  ops: readonly KvHistoryOp[],
  budget: { steps: number },
): { ok: boolean | null; best: number[] } {
  const entries: Node[] = [];
  ops.forEach((o, id) => {
    const call: Node = { id, isCall: true, time: o.call, match: null, prev: null, next: null };
    const ret: Node = {
      id,
      isCall: false,
      time: o.ret ?? Number.POSITIVE_INFINITY,
      match: null,
      prev: null,
      next: null,
    };
    call.match = ret;
    entries.push(call, ret);
  });
  // Calls before returns at equal times: touching intervals count as concurrent, the lenient reading.
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
  const head: Node = {
    id: -1,
    isCall: false,
    time: Number.NEGATIVE_INFINITY,
    match: null,
    prev: null,
    next: null,
  };
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (n: Node): void => {
    n.prev!.next = n.next;
    if (n.next) n.next.prev = n.prev;
    const m = n.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (n: Node): void => {
    const m = n.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    n.prev!.next = n;
    if (n.next) n.next.prev = n;
  };

  const words = Math.ceil(ops.length / 32) || 1;
  const linearized = new Uint32Array(words);
  const cache = new Set<string>();
  const stack: { node: Node; state: State }[] = [];
  let state: State = null;
  let best: number[] = [];
  let entry: Node | null = head.next;
  const known = (id: number): boolean => ops[id]!.ret !== null;

  while (entry !== null) {
    if (--budget.steps < 0) return { ok: null, best };
    // Everything left returns at infinity: all completed operations are linearized.
    if (!entry.isCall && entry.time === Number.POSITIVE_INFINITY) return { ok: true, best };
    if (entry.isCall) {
      const next = applyOp(state, ops[entry.id]!.op, known(entry.id));
      if (next !== undefined) {
        linearized[entry.id >> 5]! |= 1 << (entry.id & 31);
        const key = `${linearized.join(',')}|${typeof next}:${String(next)}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ node: entry, state });
          state = next;
          lift(entry);
          if (stack.length > best.length) best = stack.map((s) => s.node.id);
          entry = head.next;
          continue;
        }
        linearized[entry.id >> 5]! &= ~(1 << (entry.id & 31));
      }
      entry = entry.next;
    } else {
      // A return whose call could not be linearized first: backtrack.
      const top = stack.pop();
      if (top === undefined) return { ok: false, best };
      state = top.state;
      linearized[top.node.id >> 5]! &= ~(1 << (top.node.id & 31));
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return { ok: true, best };
}

/**
 * Checks a whole history. Unknown-outcome reads are dropped first.
 * `maxSteps` bounds the total search so a pathological history cannot hang a test.
 */
export function checkLinearizable(
  history: readonly KvHistoryOp[],
  opts: { maxSteps?: number } = {},
): LinearizabilityResult {
  const byKey = new Map<string, KvHistoryOp[]>();
  let opsChecked = 0;
  for (const h of history) {
    if (h.ret === null && h.op.kind === 'read') continue;
    if (h.ret !== null && h.ret < h.call)
      throw new RangeError(`operation returns before its call: ${JSON.stringify(h)}`);
    let list = byKey.get(h.key);
    if (!list) byKey.set(h.key, (list = []));
    list.push(h);
    opsChecked++;
  }
  const budget = { steps: opts.maxSteps ?? 5_000_000 };
  for (const [key, ops] of [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const r = checkKey(ops, budget);
    if (r.ok !== true) {
      return {
        verdict: r.ok === false ? 'violation' : 'unknown',
        key,
        ops,
        longestLinearized: r.best,
        keysChecked: byKey.size,
        opsChecked,
      };
    }
  }
  return { verdict: 'ok', keysChecked: byKey.size, opsChecked };
}

/** A few lines describing a failed check, for test and CLI output. */
export function describeLinearizability(r: LinearizabilityResult): string {
  if (r.verdict === 'ok') return `linearizable (${r.opsChecked} ops over ${r.keysChecked} keys)`;
  const lines = [
    `${r.verdict === 'violation' ? 'NOT linearizable' : 'search budget exhausted'} on key ${r.key}`,
  ];
  const done = new Set(r.longestLinearized ?? []);
  for (const [i, o] of (r.ops ?? []).entries()) {
    if (lines.length > 40) {
      lines.push('...');
      break;
    }
    const ret = o.ret === null ? '?' : String(o.ret);
    lines.push(
      `  ${done.has(i) ? ' ' : '*'} #${i} client ${o.client} [${o.call}, ${ret}] ${JSON.stringify(o.op)}`,
    );
  }
  return lines.join('\n');
}
