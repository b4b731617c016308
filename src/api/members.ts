/**
 * `GET /v1/members`: the swarm as this node's gossip sees it. The route reads
 * a narrow `MembersSource` so it can be tested against a fake, and the node
 * layer never needs to know the wire shape.
 */
import type { Hono } from 'hono';
import type { GossipView, MemberSnapshot } from '../node/gossip-component.js';
import type { ApiRoutes } from './app.js';
import { ApiError } from './app.js';
import { memberLabels } from '../tasks/labels.js';
import type { MemberEnergy, MemberView, MembersResponse } from './members-types.js';
import { isoUtc } from '../common/utc-time.js';
import { codeUnitCompare } from '../common/code-unit-compare.js';

export interface MembersSource {
  view(): GossipView;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : isoUtc(ms);
}

function energyOf(s: MemberSnapshot): MemberEnergy | null {
  const m = s.record.meta;
  if (
    m.powerW === undefined &&
    m.battery === undefined &&
    m.powerState === undefined &&
    m.rating === undefined
  )
    return null;
  return {
    power_w: m.powerW ?? null,
    battery_percent: m.battery ?? null,
    power_state: m.powerState ?? null,
    rating: m.rating ?? null,
  };
}

function gossipAddr(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function memberView(s: MemberSnapshot): MemberView {
  const r = s.record;
  return {
    id: r.id,
    name: r.name,
    addresses: {
      gossip: gossipAddr(r.host, r.port),
      api: r.meta.api ?? null,
      raft: r.meta.tags?.raft_addr ?? null,
    },
    device_class: r.deviceClass,
    labels: memberLabels({ deviceClass: r.deviceClass, tags: r.meta.tags, battery: r.meta.battery }),
    status: s.status,
    incarnation: r.incarnation,
    raft_role: r.meta.raft ?? null,
    energy: energyOf(s),
    last_change: isoUtc(s.lastChangeMs),
    self: s.self,
  };
}

export function membersResponse(v: GossipView): MembersResponse {
  const members = v.members
    .map(memberView)
    .sort((a, b) => codeUnitCompare(a.name, b.name) || codeUnitCompare(a.id, b.id));
  // A leader that is dead or gone is not the leader any more, whatever it last advertised.
  const leader =
    members.find((m) => m.raft_role === 'leader' && (m.status === 'alive' || m.status === 'suspect'))?.id ??
    null;
  return {
    self: v.selfId,
    leader,
    encrypted: v.encrypted,
    multicast: v.multicast,
    adaptive: {
      enabled: v.adaptiveEnabled,
      mode: v.adaptive.mode,
      interval_ms: v.adaptive.intervalMs,
      fanout: v.adaptive.fanout,
      reason: v.adaptive.reason,
      cause: v.adaptive.cause,
      why: v.adaptive.why,
      changed_at: iso(v.adaptiveChangedAtMs),
    },
    counters: {
      packets_in: v.transport.packetsIn,
      packets_out: v.transport.packetsOut,
      bytes_in: v.transport.bytesIn,
      bytes_out: v.transport.bytesOut,
      dropped_malformed: v.transport.droppedMalformed,
      dropped_unauthenticated: v.transport.droppedUnauthenticated,
      dropped_oversize: v.transport.droppedOversize,
      send_errors: v.transport.sendErrors,
      wakeups: v.wakeups,
      probe_loss: v.core.probeLoss,
      rtt_ms: v.core.rttMs,
      suspicions_raised: v.core.suspicionsRaised,
      refutations: v.core.refutations,
    },
    members,
  };
}

/** Mount `GET /v1/members` over a gossip source (the node's GossipComponent). */
export function membersRoutes(source: MembersSource): ApiRoutes {
  return (app: Hono) => {
    app.get('/v1/members', (c) => {
      let view: GossipView;
      try {
        view = source.view();
      } catch {
        throw new ApiError(503, 'gossip_not_running', 'gossip is not running on this node');
      }
      return c.json(membersResponse(view));
    });
  };
}
