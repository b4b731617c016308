/**
 * Wire shapes of `GET /v1/energy` and `GET /v1/energy/swarm`, shared by the
 * routes (src/api/energy.ts) and the client, which validates what it receives;
 * kept apart from the routes so the client does not load hono.
 */
import { z } from 'zod';
import { memberEnergySchema } from './members-types.js';

const num = z.number();
const numOrNull = z.number().nullable();

export const energyResponseSchema = z.object({
  at: z.string(),
  device_class: z.string(),
  power: z.object({
    watts: num,
    source: z.enum(['meter', 'battery', 'model', 'model_no_cpu']),
    measured: z.boolean(),
    model_watts: num,
    cpu_utilisation: numOrNull,
    budget_watts: numOrNull,
    over_budget: z.boolean(),
  }),
  state: z.string(),
  temperature_c: numOrNull,
  energy: z.object({
    joules: num,
    watt_hours: num,
    average_watts: numOrNull,
    peak_watts: num,
    elapsed_s: num,
    samples: num,
  }),
  carbon: z.object({ grams: num, intensity_g_per_kwh: num, band: z.string() }),
  efficiency: z.object({
    score: numOrNull,
    rating: z.string().nullable(),
    window_s: num,
    window_work_units: num,
    window_joules: num,
    lifetime_score: numOrNull,
  }),
  battery: z
    .object({
      percent: numOrNull,
      status: z.string(),
      on_battery: z.boolean(),
      power_w: numOrNull,
      time_to_empty_s: numOrNull,
      time_to_full_s: numOrNull,
      forecast_basis: z.string().nullable(),
    })
    .nullable(),
  mains_online: z.boolean().nullable(),
  protocol: z.object({
    packets_sent_per_s: num,
    packets_received_per_s: num,
    bytes_per_s: num,
    fsyncs_per_s: num,
    watts: num,
    joules: num,
    share: numOrNull,
  }),
  alarms: z.array(z.string()),
  /** Sensors that were not found under the sysfs/procfs root, with the reason. */
  missing_sensors: z.record(z.string(), z.string()),
  /** Power (W) of the last `[metrics] history_size` samples, oldest first (absent from older nodes). */
  power_history: z.array(num).default([]),
});
export type EnergyResponse = z.infer<typeof energyResponseSchema>;

export const swarmEnergyMemberSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  device_class: z.string(),
  self: z.boolean(),
  energy: memberEnergySchema.nullable(),
});

export const swarmEnergyResponseSchema = z.object({
  self: z.string(),
  members: z.array(swarmEnergyMemberSchema),
  totals: z.object({
    /** Sum of the reporting alive/suspect members' power, W. */
    power_w: num,
    members: num,
    members_reporting: num,
    on_battery: num,
    /** Mean of the members' ratings (A+ = 6 ... F = 1) mapped back to the nearest rating. */
    average_rating: z.string().nullable(),
  }),
});
export type SwarmEnergyResponse = z.infer<typeof swarmEnergyResponseSchema>;
