/**
 * Virtual time for the simulator: an agenda of events ordered by (time, seq).
 * `seq` makes simultaneous events run in the order they were scheduled, which
 * keeps runs deterministic without depending on heap internals.
 */
export interface ScheduledEvent<T> {
  readonly at: number;
  readonly seq: number;
  readonly payload: T;
}

export class EventQueue<T> {
  private heap: ScheduledEvent<T>[] = [];
  private seq = 0;
  private clock = 0;

  /** Current virtual time in milliseconds. */
  get now(): number {
    return this.clock;
  }

  get size(): number {
    return this.heap.length;
  }

  schedule(at: number, payload: T): void {
    const ev: ScheduledEvent<T> = { at: Math.max(at, this.clock), seq: this.seq++, payload };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  /** Time of the next event, or undefined when idle. */
  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Remove the next event and move the clock to its time. */
  pop(): ScheduledEvent<T> | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    this.clock = top.at;
    return top;
  }

  /** Advance the clock without an event (idle time). */
  advanceTo(t: number): void {
    if (t > this.clock) this.clock = t;
  }
}

function before<T>(a: ScheduledEvent<T>, b: ScheduledEvent<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
