// The shape every benchmark module returns to `npm run bench` (bench/index.ts), which puts all rows in one table.
export interface BenchRow {
  /** Which benchmark, e.g. `engine`, `queue`, `discord`, `playground`. */
  readonly benchmark: string;
  /** What was measured, e.g. `overhead ratio (wall / bare model time)`. */
  readonly metric: string;
  /** The figure with its unit, e.g. `1.04` or `412 ms (p90 450 ms)`. */
  readonly value: string;
  /** Setup in a few words: model, batch, runs. */
  readonly notes?: string;
}
