/** The seed exercise's API, as the issue describes it. */
import { describe, expect, it } from 'vitest';
import { ConsensusProtocol, NotLeaderError } from '../../src/index.js';
import { committedIndex, isMajority, quorumSize, voteResult } from '../../src/raft/quorum.js';

const PEERS = ['n1', 'n2', 'n3'];

describe('ConsensusProtocol (seed API)', () => {
  it('starts as a follower with empty state', () => {
    const p = new ConsensusProtocol('n1', PEERS);
    expect(p.state).toBe('follower');
    expect(p.currentTerm).toBe(0);
    expect(p.votedFor).toBeNull();
    expect(p.log).toEqual([]);
    expect(p.commitIndex).toBe(0);
    expect(p.lastApplied).toBe(0);
  });

  it('startElection makes a candidate, bumps the term, votes for itself and returns the request', () => {
    const p = new ConsensusProtocol('n1', PEERS);
    const req = p.startElection();
    expect(p.state).toBe('candidate');
    expect(p.currentTerm).toBe(1);
    expect(p.votedFor).toBe('n1');
    expect(req).toEqual({ term: 1, candidateId: 'n1', lastLogIndex: 0, lastLogTerm: 0 });
  });

  it('requestVote grants one vote per term, with the up-to-date check', () => {
    const p = new ConsensusProtocol('n2', PEERS);
    expect(p.requestVote(1, 'n1', 0, 0)).toEqual({ term: 1, voteGranted: true });
    expect(p.votedFor).toBe('n1');
    expect(p.requestVote(1, 'n3', 0, 0)).toEqual({ term: 1, voteGranted: false });
    expect(p.requestVote(1, 'n1', 0, 0)).toEqual({ term: 1, voteGranted: true });
    // A stale term is refused with our term.
    expect(p.requestVote(0, 'n3', 5, 5)).toEqual({ term: 1, voteGranted: false });
    // A newer term resets the vote, but a shorter log still loses.
    p.appendEntries(1, 'n1', 0, 0, [{ term: 1, index: 1, command: 'x' }], 0);
    expect(p.requestVote(2, 'n3', 0, 0)).toEqual({ term: 2, voteGranted: false });
    expect(p.votedFor).toBeNull();
    expect(p.requestVote(2, 'n3', 1, 1)).toEqual({ term: 2, voteGranted: true });
  });

  it('isConsensusReached is true when accepting responses are more than half of all nodes', () => {
    const p = new ConsensusProtocol('n1', PEERS);
    expect(p.isConsensusReached([{ term: 1, voteGranted: true }])).toBe(false);
    expect(
      p.isConsensusReached([
        { term: 1, voteGranted: true },
        { term: 1, voteGranted: true },
      ]),
    ).toBe(true);
    expect(
      p.isConsensusReached([
        { term: 1, success: true },
        { term: 1, success: false },
      ]),
    ).toBe(false);
    expect(
      p.isConsensusReached([
        { term: 1, success: true },
        { term: 1, success: true },
      ]),
    ).toBe(true);
    expect(p.isConsensusReached([true, true, false])).toBe(true);
    expect(p.isConsensusReached([true, false, false])).toBe(false);
    const five = new ConsensusProtocol('a', ['a', 'b', 'c', 'd', 'e']);
    expect(
      five.isConsensusReached([
        { term: 1, voteGranted: true },
        { term: 1, voteGranted: true },
      ]),
    ).toBe(false);
  });

  it('an election round trip: candidate collects votes, becomes leader, replicates', () => {
    const nodes = Object.fromEntries(PEERS.map((id) => [id, new ConsensusProtocol<string>(id, PEERS)]));
    const c = nodes.n1!;
    const req = c.startElection();
    const votes = ['n2', 'n3'].map((id) =>
      nodes[id]!.requestVote(req.term, req.candidateId, req.lastLogIndex, req.lastLogTerm),
    );
    expect(c.isConsensusReached([{ term: c.currentTerm, voteGranted: true }, ...votes])).toBe(true);
    c.becomeLeader();
    expect(c.state).toBe('leader');

    const reqs = c.replicateLog('set x=1');
    expect(c.log).toEqual([{ term: 1, index: 1, command: 'set x=1' }]);
    expect(reqs.map((r) => r.to)).toEqual(['n2', 'n3']);
    expect(reqs[0]).toMatchObject({
      term: 1,
      leaderId: 'n1',
      prevLogIndex: 0,
      prevLogTerm: 0,
      leaderCommit: 0,
    });
    const resps = reqs.map((r) =>
      nodes[r.to]!.appendEntries(
        r.term,
        r.leaderId,
        r.prevLogIndex,
        r.prevLogTerm,
        r.entries,
        r.leaderCommit,
      ),
    );
    expect(resps).toEqual([
      { term: 1, success: true },
      { term: 1, success: true },
    ]);
    expect(nodes.n2!.log).toEqual(c.log);
    reqs.forEach((r, i) => c.handleAppendEntriesResponse(r, resps[i]!));
    expect(c.commitIndex).toBe(1);
    expect(c.lastApplied).toBe(1);
  });

  it('appendEntries checks log matching, truncates conflicts and follows leaderCommit', () => {
    const applied: string[] = [];
    const f = new ConsensusProtocol<string>('n2', PEERS, { apply: (e) => applied.push(e.command) });
    expect(
      f.appendEntries(
        1,
        'n1',
        0,
        0,
        [
          { term: 1, index: 1, command: 'a' },
          { term: 1, index: 2, command: 'b' },
        ],
        0,
      ),
    ).toEqual({
      term: 1,
      success: true,
    });
    // Mismatch at prevLogIndex 2 (term 1, not 2).
    expect(f.appendEntries(2, 'n3', 2, 2, [{ term: 2, index: 3, command: 'c' }], 0)).toEqual({
      term: 2,
      success: false,
    });
    // The new leader overwrites index 2.
    expect(f.appendEntries(2, 'n3', 1, 1, [{ term: 2, index: 2, command: 'B' }], 2)).toEqual({
      term: 2,
      success: true,
    });
    expect(f.log.map((e) => e.command)).toEqual(['a', 'B']);
    expect(f.commitIndex).toBe(2);
    expect(f.lastApplied).toBe(2);
    expect(applied).toEqual(['a', 'B']);
    // A stale leader is refused.
    expect(f.appendEntries(1, 'n1', 0, 0, [], 0)).toEqual({ term: 2, success: false });
    // Entries without index are placed after prevLogIndex.
    f.appendEntries(2, 'n3', 2, 2, [{ term: 2, command: 'c' }], 2);
    expect(f.log[2]).toEqual({ term: 2, index: 3, command: 'c' });
  });

  it('a candidate that hears from a leader of its term steps down', () => {
    const p = new ConsensusProtocol('n1', PEERS);
    p.startElection();
    p.appendEntries(1, 'n2', 0, 0, [], 0);
    expect(p.state).toBe('follower');
    expect(p.votedFor).toBe('n1');
  });

  it('replicateLog is for leaders only', () => {
    const p = new ConsensusProtocol('n1', PEERS);
    expect(() => p.replicateLog('x')).toThrow(NotLeaderError);
  });

  it('the leader commits only entries of its own term by counting replicas', () => {
    const l = new ConsensusProtocol<string>('n1', PEERS);
    l.appendEntries(1, 'n2', 0, 0, [{ term: 1, index: 1, command: 'old' }], 0);
    l.startElection();
    l.becomeLeader();
    const [r2] = l.replicateLog('new');
    // n2 acknowledges only the old entry: nothing commits.
    l.handleAppendEntriesResponse(
      { ...r2!, prevLogIndex: 0, prevLogTerm: 0, entries: [l.log[0]!] },
      { term: 2, success: true },
    );
    expect(l.commitIndex).toBe(0);
    l.handleAppendEntriesResponse(r2!, { term: 2, success: true });
    expect(l.commitIndex).toBe(2);
  });

  it('adds itself to peers when omitted', () => {
    expect(new ConsensusProtocol('x', ['y', 'z']).peers).toEqual(['y', 'z', 'x']);
  });
});

describe('quorum arithmetic', () => {
  it('majorities of a fixed voter set', () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
    expect(isMajority(2, 4)).toBe(false);
    expect(isMajority(3, 4)).toBe(true);
    expect(isMajority(0, 0)).toBe(false);
  });

  it('committedIndex is the highest index a majority holds', () => {
    const m: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 4 };
    expect(committedIndex(['a', 'b', 'c', 'd', 'e'], (id) => m[id] ?? 0)).toBe(4);
    expect(committedIndex(['a', 'b'], (id) => m[id] ?? 0)).toBe(3);
    expect(committedIndex(['a', 'zz', 'c'], (id) => m[id] ?? 0)).toBe(5);
  });

  it('committedIndex counted in place agrees with the sorted q-th largest, ties and large sets included', () => {
    let seed = 7;
    const next = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % k;
    };
    for (let trial = 0; trial < 2000; trial++) {
      const n = 1 + next(11);
      const voters = Array.from({ length: n }, (_, i) => `v${i}`);
      const m = new Map(voters.map((v) => [v, next(6)]));
      const sorted = voters.map((v) => m.get(v)!).sort((a, b) => b - a);
      expect(committedIndex(voters, (id) => m.get(id)!)).toBe(sorted[quorumSize(n) - 1]);
    }
  });

  it('voteResult decides as soon as the outcome is certain', () => {
    const v = ['a', 'b', 'c'];
    expect(voteResult(v, new Map([['a', true]]))).toBe('pending');
    expect(
      voteResult(
        v,
        new Map([
          ['a', true],
          ['b', true],
        ]),
      ),
    ).toBe('won');
    expect(
      voteResult(
        v,
        new Map([
          ['a', true],
          ['b', false],
          ['c', false],
        ]),
      ),
    ).toBe('lost');
    // Votes from non-voters do not count.
    expect(
      voteResult(
        v,
        new Map([
          ['a', true],
          ['x', true],
        ]),
      ),
    ).toBe('pending');
  });
});
