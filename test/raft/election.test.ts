/** Paper section 5.2 (leader election) and 5.4.1 (election restriction). */
import { describe, expect, it } from 'vitest';
import type { RequestVoteMsg } from '../../src/raft/messages.js';
import type { RaftNode, Ready } from '../../src/raft/raft-node.js';
import { TestCluster } from './cluster.js';
import { drain, makeLeader, mkNode, ofType, withLog } from './manual.js';

function voteReq(
  from: string,
  to: string,
  term: number,
  lastLogIndex: number,
  lastLogTerm: number,
): RequestVoteMsg {
  return { type: 'request_vote', from, to, term, lastLogIndex, lastLogTerm, preVote: false, transfer: false };
}

describe('5.2 leader election', () => {
  it('a follower starts an election after a randomized timeout within [min, max]', () => {
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      const n = mkNode(id, [id, 'x', 'y'], { preVote: false });
      n.tick(0);
      let firedAt = -1;
      for (let t = 1; t <= 400 && firedAt < 0; t++) {
        n.tick(t);
        if (ofType(drain(n).msgs, 'request_vote').length > 0) firedAt = t;
      }
      expect(firedAt).toBeGreaterThanOrEqual(150);
      expect(firedAt).toBeLessThanOrEqual(300);
    }
  });

  it('a battery node with an election-timeout scale waits proportionally longer before standing', () => {
    for (const id of ['a', 'b', 'c', 'd']) {
      const n = mkNode(id, [id, 'x', 'y'], { preVote: false });
      n.setElectionTimeoutScale(2);
      n.tick(0);
      let firedAt = -1;
      for (let t = 1; t <= 800 && firedAt < 0; t++) {
        n.tick(t);
        if (ofType(drain(n).msgs, 'request_vote').length > 0) firedAt = t;
      }
      expect(firedAt).toBeGreaterThanOrEqual(300);
      expect(firedAt).toBeLessThanOrEqual(600);
    }
    // A scale below 1 never makes a node stand sooner than configured.
    const fast = mkNode('z', ['z', 'x', 'y'], { preVote: false });
    fast.setElectionTimeoutScale(0.1);
    fast.tick(0);
    for (let t = 1; t < 150; t++) {
      fast.tick(t);
      expect(ofType(drain(fast).msgs, 'request_vote')).toHaveLength(0);
    }
  });

  it('timeouts differ between nodes (drawn from the injected rng)', () => {
    const fired = new Set<number>();
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const n = mkNode(id, ['a', 'b', 'c'], { preVote: false });
      n.tick(0);
      for (let t = 1; t <= 300; t++) {
        n.tick(t);
        if (ofType(drain(n).msgs, 'request_vote').length > 0) {
          fired.add(t);
          break;
        }
      }
    }
    expect(fired.size).toBeGreaterThan(1);
  });

  it('a candidate increments its term, votes for itself and asks every other voter', () => {
    const n = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    n.tick(0);
    n.tick(1000);
    const { msgs, readies } = drain(n);
    const reqs = ofType(msgs, 'request_vote');
    expect(reqs.map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(reqs.every((m) => m.term === 1 && !m.preVote)).toBe(true);
    expect(readies[0]?.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(readies[0]?.mustSync).toBe(true);
  });

  it('grants at most one vote per term, and the vote is in the same Ready as the answer', () => {
    const n = mkNode('a', ['a', 'b', 'c']);
    n.step(voteReq('b', 'a', 1, 0, 0), 0);
    const first = drain(n).readies[0]!;
    expect(first.hardState?.vote).toBe('b');
    expect(first.mustSync).toBe(true);
    expect(ofType([...first.messages], 'request_vote_response')[0]?.granted).toBe(true);

    n.step(voteReq('c', 'a', 1, 0, 0), 1);
    const second = ofType(drain(n).msgs, 'request_vote_response');
    expect(second[0]?.granted).toBe(false);

    // A retransmitted request from the same candidate gets the same answer.
    n.step(voteReq('b', 'a', 1, 0, 0), 2);
    expect(ofType(drain(n).msgs, 'request_vote_response')[0]?.granted).toBe(true);
  });

  it('a vote survives a restart (it is part of the recovered hard state)', async () => {
    const n = mkNode('a', ['a', 'b', 'c']);
    n.step(voteReq('b', 'a', 3, 0, 0), 0);
    const hs = drain(n).readies[0]!.hardState!;
    const again = mkNode('a', ['a', 'b', 'c'], {}, { hardState: hs, snapshot: null, entries: [] });
    again.step(voteReq('c', 'a', 3, 0, 0), 0);
    expect(ofType(drain(again).msgs, 'request_vote_response')[0]?.granted).toBe(false);
  });

  it('rejects requests from older terms and adopts newer terms', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1], 5);
    n.step(voteReq('b', 'a', 4, 1, 1), 0);
    const r = ofType(drain(n).msgs, 'request_vote_response')[0]!;
    expect(r.granted).toBe(false);
    expect(r.term).toBe(5);
    n.step(voteReq('b', 'a', 7, 1, 1), 0);
    expect(n.status().term).toBe(7);
  });

  it('a candidate that hears from a leader of its term becomes a follower', async () => {
    const n = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    n.tick(0);
    n.tick(1000);
    drain(n);
    expect(n.status().role).toBe('candidate');
    n.step({ type: 'heartbeat', from: 'b', to: 'a', term: 1, commit: 0, readCtx: 0 }, 1001);
    expect(n.status().role).toBe('follower');
    expect(n.status().leader).toBe('b');
  });

  it('election safety: at most one leader per term across many seeds with split votes', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      // Equal timeouts force split votes; the harness throws on two leaders in one term.
      const c = TestCluster.boot(['a', 'b', 'c', 'd', 'e'], seed, {
        preVote: false,
        electionTimeoutMinMs: 150,
        electionTimeoutMaxMs: 160,
      });
      await c.electLeader(20_000);
      await c.advance(500);
      expect(c.leadersByTerm.size).toBeGreaterThan(0);
    }
  });

  it('a single-voter cluster elects itself', async () => {
    const c = TestCluster.boot(['solo'], 3);
    expect((await await c.electLeader()).id).toBe('solo');
    await c.propose('x');
    await c.advance(10);
    expect(c.appliedTexts('solo')).toEqual(['x']);
  });
});

describe('early messages (sent while the Ready is being persisted)', () => {
  /** Time `n` out into a real campaign (no pre-vote) and return the Ready that carries it. */
  function campaignReady(n: RaftNode): Ready {
    n.tick(0);
    n.tick(1000);
    return n.ready();
  }

  it("a candidate's vote requests may leave before its vote is durable; its own vote counts only after", () => {
    const a = mkNode('a', ['a', 'b', 'c', 'd', 'e'], { preVote: false });
    const rd = campaignReady(a);
    expect(rd.hardState).toMatchObject({ term: 1, vote: 'a' });
    const early = rd.messages.slice(0, rd.earlyCount);
    expect(ofType(early, 'request_vote').map((m) => m.to)).toEqual(['b', 'c', 'd', 'e']);
    // Two grants while the fsync runs: 2 of 5 without our own vote, so no leader yet.
    for (const from of ['b', 'c'])
      a.step({ type: 'request_vote_response', from, to: 'a', term: 1, granted: true, preVote: false }, 1001);
    expect(a.status().role).toBe('candidate');
    a.advance(rd);
    expect(a.status().role).toBe('leader');
  });

  it('a single voter leads only once the Ready with its vote is persisted', () => {
    const solo = mkNode('solo', ['solo'], { preVote: false });
    const rd = campaignReady(solo);
    expect(solo.status().role).toBe('candidate');
    solo.advance(rd);
    expect(solo.status().role).toBe('leader');
  });

  it('a vote that never became durable is not counted: a newer campaign waits for its own Ready', () => {
    const a = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    const first = campaignReady(a);
    // Still campaigning when the first Ready is advanced? Only a Ready carrying the current term counts.
    a.tick(5000);
    expect(a.status().term).toBe(2);
    a.advance(first);
    expect(a.status().role).toBe('candidate');
    const second = a.ready();
    expect(second.hardState).toMatchObject({ term: 2, vote: 'a' });
    a.step(
      { type: 'request_vote_response', from: 'b', to: 'a', term: 2, granted: true, preVote: false },
      5001,
    );
    // b's grant and our durable vote: 2 of 3, a majority once advanced.
    expect(a.status().role).toBe('candidate');
    a.advance(second);
    expect(a.status().role).toBe('leader');
  });

  it("a leader's appends are early once its term is durable, and a vote answer never is", () => {
    const a = mkNode('a', ['a', 'b', 'c'], { preVote: false });
    makeLeader(a);
    a.propose(new TextEncoder().encode('x'), 1001);
    const rd = a.ready();
    expect(rd.hardState?.term ?? a.status().term).toBe(a.status().term);
    const early = rd.messages.slice(0, rd.earlyCount);
    expect(
      ofType(early, 'append_entries')
        .map((m) => m.to)
        .sort(),
    ).toEqual(['b', 'c']);
    a.advance(rd);
    // A granted vote depends on the vote being durable: it waits for the fsync.
    const b = mkNode('b', ['a', 'b', 'c'], { preVote: false });
    b.step(voteReq('c', 'b', 9, 10, 9), 5000);
    const rd2 = b.ready();
    expect(ofType([...rd2.messages], 'request_vote_response')[0]?.granted).toBe(true);
    expect(rd2.earlyCount).toBe(0);
  });

  it("a new leader's first appends wait when its term is in the same Ready", () => {
    const a = mkNode('a', ['a', 'b', 'c', 'd', 'e'], { preVote: false });
    a.tick(0);
    a.tick(1000);
    // Three grants before the runtime took the campaign's Ready: a majority without our own vote.
    for (const from of ['b', 'c', 'd'])
      a.step({ type: 'request_vote_response', from, to: 'a', term: 1, granted: true, preVote: false }, 1001);
    expect(a.status().role).toBe('leader');
    const rd = a.ready();
    expect(rd.hardState).toMatchObject({ term: 1, vote: 'a' });
    const late = rd.messages.slice(rd.earlyCount);
    expect(ofType([...late], 'append_entries').length).toBe(4);
    expect(ofType(rd.messages.slice(0, rd.earlyCount), 'append_entries')).toHaveLength(0);
  });
});

describe('5.4.1 election restriction', () => {
  it('denies a vote to a candidate whose last term is lower', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1, 2], 2);
    n.step(voteReq('b', 'a', 3, 5, 1), 0);
    expect(ofType(drain(n).msgs, 'request_vote_response')[0]?.granted).toBe(false);
  });

  it('denies a vote to a candidate with the same last term and a shorter log', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1, 1, 1], 1);
    n.step(voteReq('b', 'a', 2, 2, 1), 0);
    expect(ofType(drain(n).msgs, 'request_vote_response')[0]?.granted).toBe(false);
  });

  it('grants to a candidate with a higher last term even if its log is shorter', async () => {
    const n = withLog('a', ['a', 'b', 'c'], [1, 1, 1], 2);
    n.step(voteReq('b', 'a', 3, 1, 2), 0);
    expect(ofType(drain(n).msgs, 'request_vote_response')[0]?.granted).toBe(true);
  });

  it('a node missing committed entries cannot become leader', async () => {
    const c = TestCluster.boot(['a', 'b', 'c'], 11);
    const l = await c.electLeader();
    const lagging = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    c.isolate(lagging);
    await c.propose('x');
    await c.advance(100);
    c.heal();
    c.crash(l.id);
    await c.advance(3000);
    const newLeader = await c.electLeader();
    expect(newLeader.id).not.toBe(lagging);
  });
});
