/** `swarm swarm status` and its --watch view warn about peers whose packets were refused (swarm key mismatch). */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from 'ink-testing-library';
import type { StatusResponse } from '../../../src/api/types.js';
import { applyStatusPoll, emptyStatusModel, formatSwarmStatus } from '../../../src/cli/dashboard/status.js';
import { StatusView } from '../../../src/cli/dashboard/view.js';
import { T0, membersResponse, statusResponse, three } from './fixtures.js';
import { frameOf } from './frame.js';

afterEach(() => cleanup());

type Refused = StatusResponse['security']['refused_peers'][number];

function refused(i: number, over: Partial<Refused> = {}): Refused {
  return {
    address: `10.0.0.${i}:7946`,
    channel: 'gossip',
    cause: 'different_key',
    hint: 'encrypted packet no key here opens: different swarm key?',
    count: 10 + i,
    last_seen: new Date(T0 - 3000).toISOString(),
    ...over,
  };
}

function withRefused(list: Refused[]): StatusResponse {
  const st = statusResponse();
  return { ...st, security: { ...st.security, refused_peers: list } };
}

describe('refused peers in swarm status', () => {
  it('prints one warning line per refused peer with its cause, count and age', () => {
    const txt = formatSwarmStatus(
      membersResponse(three()),
      withRefused([
        refused(7),
        refused(8, {
          cause: 'peer_has_no_key',
          hint: 'plaintext packet at a node with a key: peer has no swarm key (security.swarm_key unset there)',
        }),
      ]),
      T0,
    );
    expect(txt).toMatch(
      /WARNING refused:\s+10\.0\.0\.7:7946 \(gossip, 17 packets, last 3s ago\): .*different swarm key\?/,
    );
    expect(txt).toContain('10.0.0.8:7946 (gossip, 18 packets, last 3s ago)');
    expect(txt).toContain('security.swarm_key unset there');
  });

  it('lists at most five and sums up the rest; none when nothing was refused', () => {
    const many = Array.from({ length: 9 }, (_, i) => refused(i + 1));
    const txt = formatSwarmStatus(membersResponse(three()), withRefused(many), T0);
    expect(txt.match(/WARNING refused/g)).toHaveLength(6);
    expect(txt).toContain('and 4 more peers (see /v1/status)');
    expect(formatSwarmStatus(membersResponse(three()), statusResponse(), T0)).not.toContain('WARNING');
  });

  it('the --watch view shows the same warning', () => {
    const m = applyStatusPoll(emptyStatusModel(), {
      at: T0,
      members: membersResponse(three()),
      status: withRefused([refused(7)]),
      error: null,
    });
    expect(frameOf(StatusView, m, 160, 40)).toContain('WARNING refused: 10.0.0.7:7946');
  });
});
