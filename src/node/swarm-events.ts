/**
 * Swarm events in the daemon: what `POST /v1/events` originates through the
 * gossip core's broadcast (Plumtree, docs/protocol.md section 7) and what every
 * delivered event becomes for local subscribers (`GET /v1/events` streams).
 *
 * The core already delivers each (origin, seq) once. This layer adds:
 * - a small ring of the last deliveries, each with a per-node cursor
 *   (`<boot>-<index>`), so a stream that reconnects with `Last-Event-ID`
 *   resumes without missing what was delivered meanwhile (as long as it is
 *   still in the ring) and without a duplicate;
 * - the per-origin high-water marks kept in the data dir (`event-marks.json`),
 *   so a restarted node neither delivers again what it delivered before (the
 *   join's anti-entropy brings only what it missed while down) nor reuses its
 *   own sequence numbers (the swarm would drop those events as duplicates),
 *   even before its join exchange reports its previous high-water mark.
 *   Written at most every 5 s and at stop (flash wear); what a crash loses
 *   costs a few repeated deliveries at most, and the join corrects our seq.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';
import { SwarmError } from '../common/errors.js';
import type { EventMark, UserEvent } from '../gossip/messages.js';
import type { ComponentStatus, NodeComponent, SwarmNode } from './node.js';

/** The REST API's limits (the wire allows more, but an event must fit one datagram next to its header). */
export const MAX_EVENT_PAYLOAD_BYTES = 1024;
export const MAX_EVENT_NAME_CHARS = 64;
/** ASCII only so it is also <= 64 bytes on the wire; a leading `_` is reserved for the system. */
export const EVENT_NAME_RE = /^[A-Za-z0-9.:/-][A-Za-z0-9._:/-]{0,63}$/;
/** Deliveries a reconnecting stream can still replay. */
export const DEFAULT_RING_SIZE = 256;
const MARKS_FILE = 'event-marks.json';
const MARKS_SAVE_MS = 5000;
/** Origins kept in the file: members come and go, the file must not grow with them. */
const MAX_SAVED_ORIGINS = 1024;

/** One delivered event as this node saw it. */
export interface DeliveredEvent {
  /** Position in this node's delivery order, from 1 per node life. */
  readonly index: number;
  /** `<boot>-<index>`: the stream's SSE id. */
  readonly cursor: string;
  readonly event: UserEvent;
  /** Wall-clock ms of the delivery at this node. */
  readonly receivedAtMs: number;
}

/** What the service needs from the gossip component. */
export interface EventBus {
  broadcastEvent(name: string, payload: Uint8Array): UserEvent;
  onUserEvent(listener: (event: UserEvent) => void): () => void;
  /** Per origin, everything up to seq counts as delivered (an earlier life's marks). */
  primeEventMarks(marks: readonly EventMark[]): void;
  eventMarks(): EventMark[];
}

export type EventListener = (d: DeliveredEvent) => void;

/** A cursor this node did not hand out in this life (restarted node, or garbage). */
export type CursorPosition =
  | { readonly kind: 'ok'; readonly after: number }
  | { readonly kind: 'other_boot' }
  | { readonly kind: 'bad' };

export class SwarmEvents implements NodeComponent {
  readonly name = 'events';
  private readonly ring: (DeliveredEvent | undefined)[];
  private next = 1;
  private readonly listeners = new Set<EventListener>();
  private readonly stopping = new Set<() => void>();
  private unsubscribe: (() => void) | null = null;
  private dataDir: string | null = null;
  private dirty = false;
  private saveTimer: NodeJS.Timeout | null = null;
  private lastSaveAt = 0;
  /** Base-36 start time: cursors of an earlier life never match this one. */
  readonly boot: string;
  delivered = 0;
  originated = 0;

  constructor(
    private readonly bus: EventBus,
    opts: { ringSize?: number; bootMs?: number } = {},
  ) {
    this.ring = new Array<DeliveredEvent | undefined>(Math.max(1, opts.ringSize ?? DEFAULT_RING_SIZE));
    this.boot = (opts.bootMs ?? Date.now()).toString(36);
  }

  // ------------------------------------------------------------ NodeComponent

  async start(node: SwarmNode): Promise<void> {
    this.dataDir = node.dataDir;
    const marks = readMarks(node.dataDir);
    if (marks.length > 0) this.bus.primeEventMarks(marks);
    this.unsubscribe = this.bus.onUserEvent((e) => this.onDelivered(e));
  }

  /** Before the API stops: end the streams, so a connected watcher does not hold the server's close. */
  async beforeStop(): Promise<void> {
    for (const cb of [...this.stopping]) cb();
    this.stopping.clear();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    this.saveMarks();
    this.listeners.clear();
  }

  status(): ComponentStatus {
    return {};
  }

  // ------------------------------------------------------------ API

  /** Originate an event; it is delivered locally too (and so reaches local streams). */
  send(name: string, payload: Uint8Array): UserEvent {
    if (!EVENT_NAME_RE.test(name))
      throw new SwarmError('bad_event_name', `event name must match ${EVENT_NAME_RE.source}`, {
        exitCode: 2,
      });
    if (payload.byteLength > MAX_EVENT_PAYLOAD_BYTES)
      throw new SwarmError(
        'event_too_large',
        `event payload of ${payload.byteLength} bytes exceeds ${MAX_EVENT_PAYLOAD_BYTES}`,
        { exitCode: 2 },
      );
    const e = this.bus.broadcastEvent(name, payload);
    this.originated++;
    return e;
  }

  /** Called when the node begins to stop (streams end then). */
  onStopping(cb: () => void): () => void {
    this.stopping.add(cb);
    return () => this.stopping.delete(cb);
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** The cursor of the last delivery (what a stream opened now has seen). */
  get lastCursor(): string {
    return `${this.boot}-${this.next - 1}`;
  }

  parseCursor(cursor: string): CursorPosition {
    const m = /^([0-9a-z]{1,12})-(\d{1,15})$/.exec(cursor);
    if (!m) return { kind: 'bad' };
    if (m[1] !== this.boot) return { kind: 'other_boot' };
    return { kind: 'ok', after: Number(m[2]) };
  }

  /**
   * Ring entries delivered after index `after`, oldest first, and how many
   * deliveries after it the ring no longer holds.
   */
  replay(after: number): { events: DeliveredEvent[]; missed: number } {
    const size = this.ring.length;
    const last = this.next - 1;
    const oldest = Math.max(1, this.next - size);
    const from = Math.max(after + 1, oldest);
    const events: DeliveredEvent[] = [];
    for (let i = from; i <= last; i++) {
      const d = this.ring[i % size];
      if (d !== undefined && d.index === i) events.push(d);
    }
    return { events, missed: Math.max(0, Math.min(last, oldest - 1) - after) };
  }

  // ------------------------------------------------------------ internals

  private onDelivered(event: UserEvent): void {
    const index = this.next++;
    const d: DeliveredEvent = { index, cursor: `${this.boot}-${index}`, event, receivedAtMs: Date.now() };
    this.ring[index % this.ring.length] = d;
    this.delivered++;
    this.dirty = true;
    this.scheduleSave();
    for (const l of this.listeners) {
      try {
        l(d);
      } catch {
        // a failing subscriber (a closed stream) must not keep the others from their event
      }
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer !== null || this.dataDir === null) return;
    const wait = Math.max(0, this.lastSaveAt + MARKS_SAVE_MS - Date.now());
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.saveMarks();
    }, wait);
    this.saveTimer.unref();
  }

  private saveMarks(): void {
    if (this.dataDir === null || !this.dirty) return;
    this.dirty = false;
    this.lastSaveAt = Date.now();
    const marks = this.bus.eventMarks().slice(-MAX_SAVED_ORIGINS);
    try {
      const list = marks.map((m) => [m.origin, m.seq]);
      writeFileAtomic(join(this.dataDir, MARKS_FILE), `${JSON.stringify({ marks: list })}\n`, 0o600, false);
    } catch {
      // a hint only: without it a restart repeats some deliveries, and the join corrects our seq
    }
  }
}

/** The marks file's pairs; [] when missing or not what saveMarks writes. */
export function readMarks(dataDir: string): EventMark[] {
  try {
    const v = JSON.parse(readFileSync(join(dataDir, MARKS_FILE), 'utf8')) as { marks?: unknown };
    if (!Array.isArray(v.marks)) return [];
    const out: EventMark[] = [];
    for (const p of v.marks.slice(0, MAX_SAVED_ORIGINS)) {
      if (!Array.isArray(p) || p.length !== 2) continue;
      const [origin, seq] = p as unknown[];
      if (typeof origin !== 'string' || origin.length === 0 || origin.length > 64) continue;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || seq > 0xffffffff) continue;
      out.push({ origin, seq });
    }
    return out;
  } catch {
    return [];
  }
}
