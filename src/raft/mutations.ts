/**
 * Deliberate bugs the simulator must catch (`npm run sim:mutants`). The core
 * and the driver read these switches at the points where the protocol rule
 * lives; production never sets them: the default is frozen with every switch
 * off, and only the simulator's mutant runner installs another set (in its own
 * process or test). A mutant that the randomized simulator does not kill marks
 * a rule the simulator cannot see break.
 */
export interface Mutations {
  /** Leader commits an entry of an earlier term by counting replicas (paper figure 8). */
  readonly commitNoCurrentTermCheck: boolean;
  /** Voters grant votes to candidates whose log is behind theirs (election restriction, paper 5.4.1). */
  readonly voteNoUpToDateCheck: boolean;
  /** A vote reply leaves before the vote is durable (it may be forgotten by a crash and cast again). */
  readonly voteNotPersistedBeforeReply: boolean;
  /** A follower adopts the leader's commit index as is, not capped by the last entry the append verified. */
  readonly commitNotCappedByLastIndex: boolean;
  /** A follower accepts AppendEntries from a leader of an older term. */
  readonly appendAcceptsStaleTerm: boolean;
  /** The driver sends every message of a Ready before it is durable. */
  readonly driverSendBeforeSync: boolean;
  /**
   * A leader counts its own copy of an entry toward a commit while its fsync still runs (thesis
   * 10.2.1 allows committing on followers' copies only): with the driver's asyncLeaderPersist, an
   * entry on the leader's page cache and one follower's disk is answered, and a leader crash loses it.
   */
  readonly leaderCountsSelfBeforePersist: boolean;
}

export const NO_MUTATIONS: Readonly<Mutations> = Object.freeze({
  commitNoCurrentTermCheck: false,
  voteNoUpToDateCheck: false,
  voteNotPersistedBeforeReply: false,
  commitNotCappedByLastIndex: false,
  appendAcceptsStaleTerm: false,
  driverSendBeforeSync: false,
  leaderCountsSelfBeforePersist: false,
});

/** Names as the CLI prints them. */
export const MUTANT_NAMES: Readonly<Record<string, keyof Mutations>> = {
  'commit-no-current-term-check': 'commitNoCurrentTermCheck',
  'vote-no-up-to-date-check': 'voteNoUpToDateCheck',
  'vote-not-persisted-before-reply': 'voteNotPersistedBeforeReply',
  'commit-not-capped-by-last-index': 'commitNotCappedByLastIndex',
  'append-accepts-stale-term': 'appendAcceptsStaleTerm',
  'driver-send-before-sync': 'driverSendBeforeSync',
  'leader-counts-self-before-persist': 'leaderCountsSelfBeforePersist',
};

let active: Readonly<Mutations> = NO_MUTATIONS;

/** The switches in force (read by the core on its hot paths: one property load). */
export function mutations(): Readonly<Mutations> {
  return active;
}

/** Simulator only: install a mutant (or NO_MUTATIONS to restore the real protocol). */
export function setMutations(m: Partial<Mutations>): void {
  active = Object.freeze({ ...NO_MUTATIONS, ...m });
}
