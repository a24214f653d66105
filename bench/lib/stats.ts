/** Small, dependency-free statistics for the benchmark: percentiles, histograms, rounding. */

/**
 * The p-th percentile (0–100) by linear interpolation between closest ranks (the "R-7" / NumPy
 * default). `sorted` must be ascending. NaN for an empty list.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0] ?? Number.NaN;
  if (p >= 100) return sorted[sorted.length - 1] ?? Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const fraction = rank - lower;
  const a = sorted[lower] ?? Number.NaN;
  const b = sorted[lower + 1] ?? a;
  return a + (b - a) * fraction;
}

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, v) => total + v, 0);
  return {
    count: sorted.length,
    min: round(sorted[0] ?? Number.NaN, 2),
    mean: round(sorted.length > 0 ? sum / sorted.length : Number.NaN, 2),
    p50: round(percentile(sorted, 50), 2),
    p90: round(percentile(sorted, 90), 2),
    p95: round(percentile(sorted, 95), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted[sorted.length - 1] ?? Number.NaN, 2),
  };
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export interface HistogramBin {
  /** Inclusive lower edge. */
  from: number;
  /** Exclusive upper edge (the last bin also holds values equal to it). */
  to: number;
  count: number;
}

/**
 * Equal-width bins from 0 to `max` (default: the value at `clipPercentile`, so a few outliers do not
 * flatten the chart); values above the range are counted in `overflow`.
 */
export function histogram(
  values: readonly number[],
  options: { bins?: number; max?: number; clipPercentile?: number } = {},
): { bins: HistogramBin[]; overflow: number } {
  const binCount = Math.max(1, options.bins ?? 40);
  const sorted = [...values].sort((a, b) => a - b);
  const top = options.max ?? niceCeil(percentile(sorted, options.clipPercentile ?? 99.5));
  const max = Number.isFinite(top) && top > 0 ? top : 1;
  const width = max / binCount;
  const bins: HistogramBin[] = Array.from({ length: binCount }, (_, i) => ({
    from: round(i * width, 6),
    to: round((i + 1) * width, 6),
    count: 0,
  }));
  let overflow = 0;
  for (const value of sorted) {
    if (value > max) {
      overflow++;
      continue;
    }
    const index = Math.min(binCount - 1, Math.max(0, Math.floor(value / width)));
    const bin = bins[index];
    if (bin) bin.count++;
  }
  return { bins, overflow };
}

/** The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is ≥ value (for axis ranges). */
export function niceCeil(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 1;
  const exponent = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * exponent >= value) return step * exponent;
  }
  return 10 * exponent;
}
