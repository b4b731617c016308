/**
 * False positives: a healthy 25-member swarm with 10% packet loss for one
 * simulated hour, default timers. Every `member-dead` is a false positive.
 */
import { falsePositiveRun } from '../src/sim/gossip/workloads.js';
import type { BenchReport } from './types.js';

export default async (): Promise<BenchReport> => {
  const r = falsePositiveRun({ seed: 10, nodes: 25, loss: 0.1, hours: 1 });
  return {
    name: 'gossip-false-positives',
    description:
      '25 healthy simulated members, 10% loss on every link, one hour of simulated time: members wrongly declared dead ' +
      '(each observer counts), suspicions raised and refutations.',
    metrics: {
      hours: r.hours,
      false_dead_per_hour: r.falseDeadPerHour,
      suspicions: r.suspicions,
      refutations: r.refutations,
    },
    goals: [{ metric: 'false_dead_per_hour', op: '<=', target: 0 }],
  };
};
