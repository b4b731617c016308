/** The shape every benchmark returns; the runner stores it as JSON. */
export interface BenchGoal {
  /** Metric key in `metrics`. */
  metric: string;
  op: '<' | '<=' | '>' | '>=';
  target: number;
  /** Filled in by the runner. */
  pass?: boolean;
}

export interface BenchReport {
  name: string;
  description: string;
  /** Flat metrics, numbers with units in the key name (e.g. `p99_ms`, `writes_per_s`). */
  metrics: Record<string, number | string | null>;
  goals?: BenchGoal[];
  /** Free-form extra data (per-trial numbers, configuration used). */
  details?: unknown;
}
