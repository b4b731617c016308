/**
 * `GET /v1/energy` (this node's full energy snapshot) and `GET /v1/energy/swarm`
 * (every member's last gossiped summary plus totals). Snake_case on the wire
 * like the other routes; the schemas here are shared with the client, which
 * validates what it receives (energy-types.ts). Fields are documented in docs/api.md.
 */
import type { Hono } from 'hono';
import { RATINGS, type Rating } from '../energy/model.js';
import type { EnergySnapshot } from '../energy/monitor.js';
import type { GossipView } from '../node/gossip-component.js';
import type { ApiRoutes } from './app.js';
import { ApiError } from './app.js';
import { memberView } from './members.js';
import type { EnergyResponse, SwarmEnergyResponse } from './energy-types.js';
import { isoUtc } from '../common/utc-time.js';
import { codeUnitCompare } from '../common/code-unit-compare.js';

export function energyResponse(
  s: EnergySnapshot,
  missing: Readonly<Record<string, string>>,
  history: readonly number[] = [],
): EnergyResponse {
  return {
    at: isoUtc(s.at),
    device_class: s.deviceClass,
    power: {
      watts: s.power.watts,
      source: s.power.source,
      measured: s.power.measured,
      model_watts: s.power.modelWatts,
      cpu_utilisation: s.power.cpuUtilisation,
      budget_watts: s.power.budgetWatts,
      over_budget: s.power.overBudget,
    },
    state: s.state,
    temperature_c: s.temperatureC,
    energy: {
      joules: s.energy.joules,
      watt_hours: s.energy.wattHours,
      average_watts: s.energy.averageWatts,
      peak_watts: s.energy.peakWatts,
      elapsed_s: s.energy.elapsedS,
      samples: s.energy.samples,
    },
    carbon: { grams: s.carbon.grams, intensity_g_per_kwh: s.carbon.intensityGPerKwh, band: s.carbon.band },
    efficiency: {
      score: s.efficiency.score,
      rating: s.efficiency.rating,
      window_s: s.efficiency.windowS,
      window_work_units: s.efficiency.windowWorkUnits,
      window_joules: s.efficiency.windowJoules,
      lifetime_score: s.efficiency.lifetimeScore,
    },
    battery:
      s.battery === null
        ? null
        : {
            percent: s.battery.percent,
            status: s.battery.status,
            on_battery: s.battery.onBattery,
            power_w: s.battery.powerW,
            time_to_empty_s: s.battery.timeToEmptyS,
            time_to_full_s: s.battery.timeToFullS,
            forecast_basis: s.battery.forecastBasis,
          },
    mains_online: s.mainsOnline,
    protocol: {
      packets_sent_per_s: s.protocol.packetsSentPerS,
      packets_received_per_s: s.protocol.packetsReceivedPerS,
      bytes_per_s: s.protocol.bytesPerS,
      fsyncs_per_s: s.protocol.fsyncsPerS,
      watts: s.protocol.watts,
      joules: s.protocol.joules,
      share: s.protocol.share,
    },
    alarms: [...s.alarms],
    missing_sensors: { ...missing },
    // Rounded: the history is for sparklines, and 100 full-precision floats would triple the body.
    power_history: history.map((w) => Math.round(w * 1000) / 1000),
  };
}

/** A+ = 6 ... F = 1, so an average can be taken and mapped back. */
function ratingValue(r: string | null): number | null {
  const i = RATINGS.indexOf(r as Rating);
  return i < 0 ? null : RATINGS.length - i;
}

export function swarmEnergyResponse(v: GossipView): SwarmEnergyResponse {
  const members = v.members
    .map(memberView)
    .sort((a, b) => codeUnitCompare(a.name, b.name) || codeUnitCompare(a.id, b.id))
    .map((m) => ({
      id: m.id,
      name: m.name,
      status: m.status,
      device_class: m.device_class,
      self: m.self,
      energy: m.energy,
    }));
  // Dead and departed members draw nothing the swarm can count on: their last figure is history.
  const live = members.filter((m) => m.status === 'alive' || m.status === 'suspect');
  const reporting = live.filter((m) => m.energy?.power_w != null);
  const ratings = live.map((m) => ratingValue(m.energy?.rating ?? null)).filter((x) => x !== null);
  const avg = ratings.length === 0 ? null : ratings.reduce((a, b) => a + b, 0) / ratings.length;
  return {
    self: v.selfId,
    members,
    totals: {
      power_w: reporting.reduce((a, m) => a + (m.energy?.power_w ?? 0), 0),
      members: live.length,
      members_reporting: reporting.length,
      on_battery: live.filter((m) => m.energy?.battery_percent != null).length,
      // Idle nodes did no work to grade; a swarm where every rated node is idle is itself idle.
      average_rating:
        avg !== null
          ? (RATINGS[RATINGS.length - Math.round(avg)] ?? null)
          : live.some((m) => m.energy?.rating === 'idle')
            ? 'idle'
            : null,
    },
  };
}

/** What the routes need from the node's energy component. */
export interface EnergySource {
  readonly enabled: boolean;
  snapshot(): EnergySnapshot | null;
  sensors(): { readonly missing: Readonly<Record<string, string>> } | null;
  /** Power (W) of recent samples, oldest first. */
  powerHistory?(): readonly number[];
}

export function energyRoutes(energy: EnergySource, gossip: { view(): GossipView }): ApiRoutes {
  return (app: Hono) => {
    app.get('/v1/energy', (c) => {
      if (!energy.enabled)
        throw new ApiError(503, 'energy_disabled', 'energy monitoring is off ([energy] enabled = false)');
      const s = energy.snapshot();
      if (s === null) throw new ApiError(503, 'energy_not_ready', 'no energy sample yet');
      return c.json(energyResponse(s, energy.sensors()?.missing ?? {}, energy.powerHistory?.() ?? []));
    });
    app.get('/v1/energy/swarm', (c) => {
      let view: GossipView;
      try {
        view = gossip.view();
      } catch {
        throw new ApiError(503, 'gossip_not_running', 'gossip is not running on this node');
      }
      return c.json(swarmEnergyResponse(view));
    });
  };
}
