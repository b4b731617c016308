/** Hand-driven nodes for tests that inspect individual messages. */
import { expect } from 'vitest';
import { createRng } from '../../src/common/rng.js';
import { RaftNode, type RaftNodeOptions, type Ready } from '../../src/raft/raft-node.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { EntryType, type Entry, type NodeId, type RecoveredState } from '../../src/raft/types.js';

export const EMPTY_DISK: RecoveredState = {
  hardState: { term: 0, vote: null, commit: 0 },
  snapshot: null,
  entries: [],
};

export function mkNode(
  id: NodeId,
  voters: NodeId[],
  opts: Partial<RaftNodeOptions> = {},
  recovered: RecoveredState = EMPTY_DISK,
  learners: NodeId[] = [],
): RaftNode {
  return new RaftNode(
    {
      id,
      electionTimeoutMinMs: 150,
      electionTimeoutMaxMs: 300,
      heartbeatIntervalMs: 50,
      rng: createRng(id.charCodeAt(0)),
      ...opts,
    },
    recovered,
    { voters, learners },
  );
}

/** Process every Ready (as a runtime with an instant disk would) and return what was sent. */
export function drain(n: RaftNode): { msgs: RaftMessage[]; readies: Ready[] } {
  const msgs: RaftMessage[] = [];
  const readies: Ready[] = [];
  for (let i = 0; i < 100 && n.hasReady(); i++) {
    const rd = n.ready();
    readies.push(rd);
    msgs.push(...rd.messages);
    n.advance(rd);
  }
  return { msgs, readies };
}

export function ent(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

/** A node whose disk holds `terms[i]` at index i+1, at current term `term`. */
export function withLog(
  id: NodeId,
  voters: NodeId[],
  terms: number[],
  term: number,
  opts: Partial<RaftNodeOptions> = {},
): RaftNode {
  return mkNode(id, voters, opts, {
    hardState: { term, vote: null, commit: 0 },
    snapshot: null,
    entries: terms.map((t, i) => ent(i + 1, t, `${i + 1}@${t}`)),
  });
}

export function ofType<T extends RaftMessage['type']>(
  msgs: RaftMessage[],
  type: T,
): Extract<RaftMessage, { type: T }>[] {
  return msgs.filter((m): m is Extract<RaftMessage, { type: T }> => m.type === type);
}

/** Make `n` leader by letting it time out and feeding it b's vote (enough for 2 or 3 voters). */
export function makeLeader(n: RaftNode, now = 1000): void {
  n.tick(0);
  n.tick(now);
  drain(n);
  const pre = n.status().role === 'precandidate';
  const term = pre ? n.status().term + 1 : n.status().term;
  n.step({ type: 'request_vote_response', from: 'b', to: n.id, term, granted: true, preVote: pre }, now);
  if (pre) {
    drain(n);
    n.step(
      {
        type: 'request_vote_response',
        from: 'b',
        to: n.id,
        term: n.status().term,
        granted: true,
        preVote: false,
      },
      now,
    );
  }
  expect(n.status().role).toBe('leader');
}

/** A follower's successful append acknowledgement up to `index` (its whole log). */
export function ackAppend(from: string, to: string, term: number, index: number): RaftMessage {
  return {
    type: 'append_entries_response',
    from,
    to,
    term,
    success: true,
    matchIndex: index,
    rejectedIndex: 0,
    conflictTerm: 0,
    conflictIndex: 0,
    lastLogIndex: index,
  };
}
