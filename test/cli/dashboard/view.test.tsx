/** The ink view rendered from recorded responses (ink-testing-library, 100 columns). */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from 'ink-testing-library';
import {
  applyPoll,
  emptyModel,
  type DashboardModel,
  type PollSample,
} from '../../../src/cli/dashboard/model.js';
import { DashboardView } from '../../../src/cli/dashboard/view.js';
import { T0, leaderResponse, member, membersResponse, three, withCounters } from './fixtures.js';
import { frameOf } from './frame.js';
import type { MembersResponse } from '../../../src/api/members-types.js';

afterEach(() => cleanup());

const sample = (at: number, m: MembersResponse): PollSample => ({
  at,
  members: m,
  leader: leaderResponse(),
  error: null,
});

const frame = (model: DashboardModel, width = 100, height = 40): string =>
  frameOf(DashboardView, model, width, height);

function live(): DashboardModel {
  const base = membersResponse(three());
  let m = emptyModel();
  const counts: [number, number][] = [
    [0, 0],
    [2, 1],
    [10, 4],
    [12, 8],
    [30, 9],
  ];
  counts.forEach(([i, o], k) => (m = applyPoll(m, sample(T0 + k * 1000, withCounters(base, i, o)))));
  return m;
}

describe('DashboardView', () => {
  it('before the first answer says it is connecting', () => {
    expect(frame(emptyModel())).toContain('connecting…');
  });

  it('three nodes: header with leader, term, commit and mode; one row per member; sparklines', () => {
    const f = frame(live());
    const lines = f.split('\n');
    expect(lines[0]).toBe('Swarm dashboard  http://127.0.0.1:7001  every 1s');
    expect(lines[1]).toBe('Members 3 (3 alive)   Leader node-1   Term 4   Commit 42');
    expect(lines[2]).toMatch(/^Gossip normal, interval 1000 ms, fanout 3 {2}\(start\)$/);
    expect(lines[3]).toMatch(/^In {2}18\.0 {2}pkt\/s ▂▄▂█ +Out 1\.0 {3}pkt\/s ▃▆█▃$/);
    expect(f).toMatch(/NAME +CLASS +STATUS +ROLE +ADDRESS +LAST HEARD +POWER +BATTERY +RATING/);
    expect(f).toMatch(/\*node-1 +standard +alive +leader +127\.0\.0\.1:6001 +15s ago +1\.26 W +- +B/);
    expect(f).toMatch(/ node-3 +standard +alive +follower/);
    expect(f).toContain('(none yet)');
  });

  it('an empty swarm shows its header and "(no members)"', () => {
    const m = applyPoll(emptyModel(), {
      at: T0,
      members: membersResponse([], { leader: null }),
      leader: null,
      error: null,
    });
    const f = frame(m);
    expect(f).toContain('Members 0   Leader none   Term -   Commit -');
    expect(f).toContain('(no members)');
  });

  it('missing sensors and roles show "-"', () => {
    const m = applyPoll(
      emptyModel(),
      sample(T0, membersResponse([member(1, { energy: null, raft_role: null }), member(2)])),
    );
    expect(frame(m)).toMatch(/\*node-1 +standard +alive +- +127\.0\.0\.1:6001 +15s ago +- +- +-\n/);
  });

  it('50 members fit a tall terminal and are cut with "… N more" in a short one', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => member(i + 1));
    const m = applyPoll(emptyModel(), sample(T0, membersResponse(fifty)));
    const tall = frame(m, 100, 70);
    expect(tall).toContain('node-50');
    const short = frame(m, 100, 24);
    expect(short.split('\n').length).toBeLessThanOrEqual(24);
    expect(short).toMatch(/… \d+ more/);
    expect(short).not.toContain('node-50');
    expect(short).toContain('Recent events');
  });

  it('a narrow terminal drops the least useful columns and never overflows', () => {
    const f = frame(live(), 50);
    for (const l of f.split('\n')) expect(Array.from(l).length).toBeLessThanOrEqual(50);
    expect(f).toMatch(/NAME +STATUS +ROLE/);
    expect(f).not.toContain('ADDRESS');
  });

  it('a node going away: "reconnecting…" banner, last data kept, event listed', () => {
    const m = applyPoll(live(), { at: T0 + 6000, members: null, leader: null, error: 'connection refused' });
    const f = frame(m);
    expect(f.split('\n')[0]).toContain('reconnecting… (connection refused)');
    expect(f).toMatch(/\*node-1 +standard +alive +leader/);
    expect(f).toContain('lost the node: connection refused');
  });

  it('without colour (NO_COLOR) the frame has no escape codes', () => {
    expect(frame(live()).includes('\u001b[')).toBe(false);
  });
});
