/**
 * Shared vocabulary of the REST consensus agents: run ids, Paxos ballots,
 * decisions and the messages agents exchange. Plain data, JSON-safe, so the
 * same shapes travel over HTTP, sit in the state file and drive the pure core.
 */

/**
 * A run epoch. Every /run picks one larger than any its trigger has seen, so
 * late messages of an earlier run can be recognised and ignored. `by` breaks
 * ties between two agents that trigger at the same time.
 */
export interface RunId {
  n: number;
  by: string;
}

/** A Paxos ballot inside one run: the compatible round number, then the proposer's id. */
export interface Ballot {
  round: number;
  by: string;
}

/**
 * The value Paxos chooses. Round and attempts travel inside it so that every
 * agent reports the same triple, not only the same number.
 */
export interface Decision {
  value: number;
  round: number;
  attempts: number;
}

export interface AcceptedValue {
  ballot: Ballot;
  decision: Decision;
}

export type AgentMessage =
  | { type: 'reset'; run: RunId }
  | { type: 'new_round'; run: RunId; round: number }
  | { type: 'proposal'; run: RunId; agent_id: string; value: number; round: number }
  | { type: 'prepare'; run: RunId; from: string; ballot: Ballot }
  | {
      type: 'promise';
      run: RunId;
      from: string;
      ballot: Ballot;
      ok: boolean;
      promised: Ballot | null;
      accepted: AcceptedValue | null;
    }
  | { type: 'accept'; run: RunId; from: string; ballot: Ballot; decision: Decision }
  | { type: 'accepted'; run: RunId; from: string; ballot: Ballot; ok: boolean }
  | { type: 'final'; run: RunId; decision: Decision };

export type MessageType = AgentMessage['type'];

/** Order on run ids; null (never in a run) sorts below every run. */
export function compareRun(a: RunId | null, b: RunId | null): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (a.n !== b.n) return a.n < b.n ? -1 : 1;
  return a.by < b.by ? -1 : a.by > b.by ? 1 : 0;
}

/** Total order on ballots; null (no promise yet) sorts below every ballot. */
export function compareBallot(a: Ballot | null, b: Ballot | null): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  return a.by < b.by ? -1 : a.by > b.by ? 1 : 0;
}

export function sameDecision(a: Decision, b: Decision): boolean {
  return a.value === b.value && a.round === b.round && a.attempts === b.attempts;
}

export function runKey(run: RunId): string {
  return `${run.n}:${run.by}`;
}

/** Majority of a group of `peers + 1` agents, as the issue defines it. */
export function majorityOf(agents: number): number {
  return Math.floor(agents / 2) + 1;
}
