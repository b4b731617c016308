/** `swarm swarm status --watch`: the model over recorded polls and the ink view (ink-testing-library). */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from 'ink-testing-library';
import type { MemberView } from '../../../src/api/members-types.js';
import {
  applyStatusPoll,
  emptyStatusModel,
  formatSwarmStatus,
  pollStatus,
  type StatusModel,
  type StatusSample,
} from '../../../src/cli/dashboard/status.js';
import { StatusView } from '../../../src/cli/dashboard/view.js';
import { NodeUnreachableError } from '../../../src/client/errors.js';
import { T0, member, membersResponse, statusResponse, three } from './fixtures.js';
import { frameOf } from './frame.js';

afterEach(() => cleanup());

const ok = (at: number, members: MemberView[] = three()): StatusSample => ({
  at,
  members: membersResponse(members),
  status: statusResponse(),
  error: null,
});
const down = (at: number): StatusSample => ({ at, members: null, status: null, error: 'connection refused' });
const model = (...samples: StatusSample[]): StatusModel =>
  samples.reduce((m, s) => applyStatusPoll(m, s), emptyStatusModel());
const NOW = T0 + 10_000;

const frame = (model: StatusModel, width = 140, height = 40): string =>
  frameOf(StatusView, model, width, height);

describe('StatusView', () => {
  it('before the first answer says it is connecting', () => {
    expect(frame(emptyStatusModel())).toContain('connecting…');
  });

  it('on a wide terminal it is `swarm swarm status` under a title line, row for row', () => {
    const f = frame(model(ok(T0)));
    const [title, ...rest] = f.split('\n');
    expect(title).toBe('Swarm status  http://127.0.0.1:7001  every 1s');
    const plain = formatSwarmStatus(membersResponse(three()), statusResponse(), NOW);
    expect(rest.map((l) => l.trimEnd()).join('\n')).toBe(plain.trimEnd());
    expect(f).toMatch(/^leader: +node-1 \(0001aaaabbbbcccc\)$/m);
    expect(f).toMatch(/^raft: +commit 57, applied 57, 3 voters, 0 learners$/m);
    expect(f).toMatch(
      /^\*node-1 +0001aaaabbbbcccc +alive +standard +leader +arch=x64,power=mains +127\.0\.0\.1:6001 +http:\/\/127\.0\.0\.1:7001 +- +15s ago$/m,
    );
  });

  it('a node without a leader says what it waits for', () => {
    const st = statusResponse({
      leader: null,
      waiting: 'formation: 2 of 3 founders agree on cluster 9cc6901619600dd6',
    });
    const text = formatSwarmStatus(membersResponse(three()), st, NOW);
    expect(text).toMatch(/^waiting: +formation: 2 of 3 founders agree on cluster 9cc6901619600dd6$/m);
    expect(formatSwarmStatus(membersResponse(three()), statusResponse(), NOW)).not.toMatch(/^waiting:/m);
  });

  it('an empty swarm shows the head and "(no members)"', () => {
    const f = frame(model(ok(T0, [])));
    expect(f).toMatch(/^members: +0$/m);
    expect(f).toContain('(no members)');
  });

  it('missing sensors and roles show "-"', () => {
    const f = frame(model(ok(T0, [member(1, { energy: null, raft_role: null }), member(2)])));
    expect(f).toMatch(
      /^\*node-1 +0001aaaabbbbcccc +alive +standard +- +arch=x64,power=mains +127\.0\.0\.1:6001 .* - +15s ago$/m,
    );
  });

  it('50 members fit a tall terminal and are cut with "… N more" in a short one', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => member(i + 1));
    expect(frame(model(ok(T0, fifty)), 140, 70)).toContain('node-50');
    const short = frame(model(ok(T0, fifty)), 140, 24);
    expect(short.split('\n').length).toBeLessThanOrEqual(24);
    expect(short).toMatch(/^… 38 more$/m);
    expect(short).not.toContain('node-50');
  });

  it('a narrow terminal drops ID and addresses first and never overflows', () => {
    const f = frame(model(ok(T0)), 60);
    for (const l of f.split('\n')) expect(Array.from(l).length).toBeLessThanOrEqual(60);
    expect(f).toMatch(/ NAME +STATUS +CLASS +RAFT +BATTERY +CHANGED/);
    expect(f).not.toContain('0001aaaabbbbcccc  alive');
    expect(f).not.toContain('GOSSIP');
  });

  it('a node going away: "reconnecting…" banner over the last table; the next answer clears it', () => {
    const lost = model(ok(T0), down(T0 + 2000));
    const f = frame(lost);
    expect(f.split('\n')[0]).toContain('reconnecting… (connection refused)');
    expect(f).toMatch(/^\*node-1 +0001aaaabbbbcccc +alive/m);
    const back = applyStatusPoll(lost, ok(T0 + 3000, three().slice(0, 2)));
    const g = frame(back);
    expect(g.split('\n')[0]).not.toContain('reconnecting');
    expect(g).not.toContain('node-3');
  });

  it('pollStatus: an unreachable node is an error with the reason alone', async () => {
    const fail = (): Promise<never> =>
      Promise.reject(new NodeUnreachableError('http://127.0.0.1:1', 'connection refused'));
    const s = await pollStatus({ members: fail, status: fail }, () => T0);
    expect(s.error).toBe('connection refused');
    expect(s.members).toBeNull();
  });
});
