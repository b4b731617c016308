/**
 * Periodic chores that need not run to the millisecond (the energy sampler,
 * housekeeping) ride the wake-ups a component makes anyway, instead of
 * arming timers of their own.
 *
 * Why: on a battery device every wake-up of the process costs energy, and an
 * idle member already wakes about three times a second for gossip (its probe,
 * the ack, the probes it answers). A 1 s sampler on its own timer added a
 * wake-up a second a few milliseconds away from one of those. A chore is due
 * at `due()` and may run up to `slackMs()` late; the host runs it at its
 * first wake-up past `due()`, and arms its own timer no later than
 * `due() + slackMs()` so a chore never starves on a silent host. A host that
 * wakes at least once per period anyway (gossip: the probe period in force)
 * takes every slack as at least that period (`ChoreSet.deadline`).
 */
export interface Chore {
  readonly name: string;
  /** performance.now() ms at which the chore is due; Infinity while it has nothing to do. */
  due(): number;
  /** How late it may run to share a wake-up, ms. */
  slackMs(): number;
  run(now: number): void;
}

/** A component that wakes anyway (gossip) and lets chores ride its wake-ups. */
export interface ChoreHost {
  /** Returns the removal function. */
  addChore(chore: Chore): () => void;
}

/**
 * The chores of a host: which are due, and the latest time the host must wake for them.
 *
 * An array walked by index rather than a Set copied on every wake-up: the gossip host runs this
 * several times a second, and a copy per wake-up is garbage the idle daemon need not make. A chore
 * may add or remove chores while it runs (a component stopping from inside its own chore), so a
 * run walks only the chores present when it started (one added first runs at the next wake-up, as
 * with a copy), and one removed during a run leaves a hole instead of shifting the rest, so no
 * chore is skipped or run twice and a removed chore never runs after its removal.
 */
export class ChoreSet {
  private readonly chores: (Chore | null)[] = [];
  /** Nested runDue calls in progress (a chore that wakes its host); holes are compacted at 0. */
  private running = 0;
  private holes = 0;

  add(chore: Chore): () => void {
    if (!this.chores.includes(chore)) this.chores.push(chore);
    return () => this.remove(chore);
  }

  private remove(chore: Chore): void {
    const i = this.chores.indexOf(chore);
    if (i < 0) return;
    if (this.running > 0) {
      this.chores[i] = null;
      this.holes++;
    } else {
      this.chores.splice(i, 1);
    }
  }

  /** Run every chore due at `now`; one that throws does not keep the others from running. */
  runDue(now: number, onError: (chore: Chore, err: unknown) => void): void {
    const n = this.chores.length;
    this.running++;
    try {
      for (let i = 0; i < n; i++) {
        const c = this.chores[i];
        if (c === null || c === undefined || now < c.due()) continue;
        try {
          c.run(now);
        } catch (err) {
          onError(c, err);
        }
      }
    } finally {
      this.running--;
      if (this.running === 0 && this.holes > 0) this.compact();
    }
  }

  /**
   * The latest wake-up that still runs every chore within its slack (Infinity: none pending), each
   * slack taken as at least `minSlackMs`: the host's own wake-ups come that often, and a chore whose
   * slack is shorter would otherwise wake the process alone between two of them, every time (the
   * compiler-tiering window, 2 s of slack, against emergency's 4 s probe period).
   */
  deadline(minSlackMs = 0): number {
    let t = Infinity;
    for (const c of this.chores) if (c !== null) t = Math.min(t, c.due() + Math.max(c.slackMs(), minSlackMs));
    return t;
  }

  /** How many chores are registered. */
  get size(): number {
    return this.chores.length - this.holes;
  }

  private compact(): void {
    let w = 0;
    for (const c of this.chores) if (c !== null) this.chores[w++] = c;
    this.chores.length = w;
    this.holes = 0;
  }
}

/**
 * A component whose timers may run a little early or late to share another component's wake-up
 * (the gossip probe riding a Raft follower's heartbeats). The waker calls shareWake() while the
 * process is awake anyway; the sharer runs what is due at or near now.
 */
export interface WakeSharer {
  shareWake(): void;
}
