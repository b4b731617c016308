/**
 * Metrics kept as plain data and turned into prom-client objects only when
 * /metrics is scraped. prom-client costs about 2 MB of private memory (it
 * loads tls, https, cluster and v8 for features a node does not use), so a node
 * nobody scrapes never loads it; the first scrape imports it, and from then on
 * each scrape only refreshes the registry (docs/operations.md, "Memory").
 */
import type { Registry } from 'prom-client';

export type PromClient = typeof import('prom-client');

let promClient: Promise<PromClient> | null = null;

/** prom-client, imported once, on first need. */
export function loadPromClient(): Promise<PromClient> {
  promClient ??= import('prom-client');
  return promClient;
}

/**
 * A registry built on first scrape. `define` runs before every scrape: it
 * creates the metrics the registry does not hold yet (the set may grow, as
 * the energy metrics do) and may bring their values up to date.
 */
export class LazyRegistry {
  private built: Registry | null = null;

  constructor(private readonly define: (prom: PromClient, registry: Registry) => void) {}

  /** A registry whose metrics are all defined at the first scrape (their collect() reads live values). */
  static once(define: (prom: PromClient, registry: Registry) => void): LazyRegistry {
    return new LazyRegistry((prom, registry) => {
      if (registry.getMetricsAsArray().length === 0) define(prom, registry);
    });
  }

  async registry(): Promise<Registry> {
    const prom = await loadPromClient();
    this.built ??= new prom.Registry();
    this.define(prom, this.built);
    return this.built;
  }

  /** Prometheus text, as Registry.metrics(). */
  async metrics(): Promise<string> {
    return (await this.registry()).metrics();
  }
}

/** Merge registries for one scrape, as Registry.merge. */
export async function mergeRegistries(
  sources: readonly LazyRegistry[],
): Promise<{ text: string; contentType: string }> {
  const prom = await loadPromClient();
  const merged = prom.Registry.merge(await Promise.all(sources.map((s) => s.registry())));
  return { text: await merged.metrics(), contentType: merged.contentType };
}

/** A counter by one label's value, in first-increment order (prom-client's order for its samples). */
export class LabelledCounter {
  readonly counts = new Map<string, number>();

  inc(labels: Readonly<Record<string, string>>, by = 1): void {
    const key = Object.values(labels)[0] ?? '';
    this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }
}

/**
 * A histogram as bucket counts, sum and count: what a prom-client Histogram
 * holds, at the cost of a few numbers per observation and no prom-client.
 */
export class BucketHistogram {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly upperBounds: readonly number[]) {
    this.counts = new Array<number>(upperBounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = this.upperBounds.findIndex((b) => value <= b);
    if (i < 0) i = this.upperBounds.length;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }
}

/**
 * A prom-client Histogram that reports a BucketHistogram's figures, in the
 * sample layout of prom-client's own Histogram (cumulative `le` buckets, +Inf,
 * _sum, _count), so the text of /metrics is the same as when it observed.
 */
export function defineBucketHistogram(
  prom: PromClient,
  registry: Registry,
  opts: { name: string; help: string; source: BucketHistogram },
): void {
  if (registry.getSingleMetric(opts.name)) return;
  const { name, help, source } = opts;
  interface Sample {
    labels: Record<string, string | number>;
    sharedLabels: Record<string, string>;
    value: number;
    metricName: string;
    exemplar?: null;
  }
  class SnapshotHistogram extends prom.Histogram {
    /** What prom-client's Registry reads for the text format (and Histogram.get builds on). */
    async getForPromString(): Promise<{
      name: string;
      help: string;
      type: 'histogram';
      values: Sample[];
      aggregator: 'sum';
    }> {
      let acc = 0;
      const bucket = (le: string | number, value: number): Sample => ({
        labels: { le },
        sharedLabels: {},
        value,
        metricName: `${name}_bucket`,
        exemplar: null,
      });
      const values: Sample[] = source.upperBounds.map((b, i) => bucket(b, (acc += source.counts[i] ?? 0)));
      values.push(bucket('+Inf', source.count));
      values.push({ labels: {}, sharedLabels: {}, value: source.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, sharedLabels: {}, value: source.count, metricName: `${name}_count` });
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    }
  }
  new SnapshotHistogram({ name, help, buckets: [...source.upperBounds], registers: [registry] });
}
