/**
 * Metrics kept as plain numbers and turned into prom-client metrics on scrape
 * print exactly what prom-client's own metrics print for the same observations.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  BucketHistogram,
  LabelledCounter,
  LazyRegistry,
  defineBucketHistogram,
  mergeRegistries,
} from '../../src/node/lazy-metrics.js';
import { FSYNC_BUCKETS, RaftMetrics } from '../../src/node/raft-metrics.js';

describe('lazy metrics', () => {
  it('a BucketHistogram scrapes as the prom-client Histogram fed the same values', async () => {
    const values = [0.00005, 0.0001, 0.0003, 0.002, 0.002, 0.07, 0.25, 0.3, 4, 0];
    const reference = new Registry();
    const h = new Histogram({
      name: 'h_seconds',
      help: 'A help.',
      buckets: [...FSYNC_BUCKETS],
      registers: [reference],
    });
    const local = new BucketHistogram(FSYNC_BUCKETS);
    const lazy = new LazyRegistry((prom, r) =>
      defineBucketHistogram(prom, r, { name: 'h_seconds', help: 'A help.', source: local }),
    );
    expect(await lazy.metrics()).toBe(await reference.metrics());
    for (const v of values) {
      h.observe(v);
      local.observe(v);
    }
    expect(local.count).toBe(values.length);
    expect(await lazy.metrics()).toBe(await reference.metrics());
    expect((await (await lazy.registry()).getMetricsAsJSON())[0]).toEqual(
      (await reference.getMetricsAsJSON())[0],
    );
  });

  it('Raft metrics scrape as before: proposal counter by result in first-seen order, fsync histogram', async () => {
    const m = new RaftMetrics({
      snapshot: () => ({ term: 3, role: 'leader', commit: 9, applied: 8, voters: 3, learners: 0 }),
    });
    const ref = new Registry();
    const c = new Counter({
      name: 'swarm_raft_proposals_total',
      help: 'x',
      labelNames: ['result'],
      registers: [ref],
    });
    const refText = async (): Promise<string> =>
      (await ref.metrics())
        .split('\n')
        .filter((l) => l.startsWith('swarm_raft_proposals_total'))
        .join('\n');
    const ours = async (): Promise<string> =>
      (await m.registry.metrics())
        .split('\n')
        .filter((l) => l.startsWith('swarm_raft_proposals_total'))
        .join('\n');
    expect(await ours()).toBe(await refText());
    for (const result of ['rejected', 'applied', 'applied', 'failed', 'applied']) {
      m.proposals.inc({ result });
      c.inc({ result });
    }
    expect(await ours()).toBe(await refText());
    m.fsyncSeconds.observe(0.003);
    const text = await m.registry.metrics();
    expect(text).toMatch(/^swarm_raft_role\{role="leader"\} 1$/m);
    expect(text).toMatch(/^swarm_raft_term 3$/m);
    expect(text).toMatch(/^swarm_raft_fsync_seconds_bucket\{le="0.005"\} 1$/m);
    expect(text).toMatch(/^swarm_raft_fsync_seconds_count 1$/m);
    // One registry, refreshed: a second scrape neither duplicates nor throws.
    const merged = await mergeRegistries([m.registry, new LazyRegistry(() => undefined)]);
    expect(merged.text.match(/^# TYPE swarm_raft_term /gm)).toHaveLength(1);
    expect(merged.contentType).toMatch(/^text\/plain/);
  });

  it('a LabelledCounter adds per label value', () => {
    const c = new LabelledCounter();
    c.inc({ result: 'a' });
    c.inc({ result: 'b' }, 2);
    c.inc({ result: 'a' });
    expect([...c.counts]).toEqual([
      ['a', 2],
      ['b', 2],
    ]);
  });
});
