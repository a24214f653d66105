/**
 * Delivery statistics of one subscription over a window (GET /v1/subscriptions/{id}/stats): counted
 * per attempt, since an attempt is what a customer's endpoint saw. An attempt succeeded when the
 * endpoint answered 2xx (PRODUCT §4); anything else — another status, a timeout, a refused
 * connection, a blocked address — failed.
 */

export const STATS_WINDOWS = {
  "24h": 24 * 3600,
  "7d": 7 * 24 * 3600,
} as const;
export type StatsWindow = keyof typeof STATS_WINDOWS;

const HOUR_MS = 3_600_000;

/** What the statistics need of an attempt. */
export interface AttemptSample {
  readonly at: string;
  readonly status_code: number | null;
  readonly latency_ms: number;
}

export interface StatsBucket {
  /** Start of the hour (UTC). */
  readonly start: string;
  readonly attempts: number;
  readonly succeeded: number;
  readonly failed: number;
}

export interface DeliveryStats {
  readonly window: StatsWindow;
  readonly from: string;
  readonly to: string;
  readonly attempts: number;
  readonly succeeded: number;
  readonly failed: number;
  /** succeeded / attempts, in [0, 1]; null with no attempts. */
  readonly success_rate: number | null;
  readonly latency_ms: { readonly p50: number | null; readonly p95: number | null };
  /** One per hour, oldest first; the first one starts at the hour of `from`, the last one holds `to`. */
  readonly buckets: readonly StatsBucket[];
}

export const isSuccessfulAttempt = (attempt: Pick<AttemptSample, "status_code">): boolean =>
  attempt.status_code !== null && attempt.status_code >= 200 && attempt.status_code < 300;

/** Nearest-rank percentile of sorted values (the value below which p % of them fall). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Adds up the attempts made in (now − window, now]; attempts outside the window are ignored. */
export function computeDeliveryStats(
  attempts: Iterable<AttemptSample>,
  window: StatsWindow,
  now: Date,
): DeliveryStats {
  const to = now.getTime();
  const from = to - STATS_WINDOWS[window] * 1000;
  const firstHour = Math.floor(from / HOUR_MS) * HOUR_MS;
  const bucketCount = Math.floor(to / HOUR_MS) - firstHour / HOUR_MS + 1;
  const buckets = Array.from({ length: bucketCount }, (_, i) => ({
    start: new Date(firstHour + i * HOUR_MS).toISOString(),
    attempts: 0,
    succeeded: 0,
    failed: 0,
  }));
  const latencies: number[] = [];
  let succeeded = 0;
  let failed = 0;
  for (const attempt of attempts) {
    const at = Date.parse(attempt.at);
    if (!(at > from && at <= to)) continue;
    const bucket = buckets[Math.floor((at - firstHour) / HOUR_MS)];
    if (bucket === undefined) continue;
    bucket.attempts++;
    if (isSuccessfulAttempt(attempt)) {
      succeeded++;
      bucket.succeeded++;
    } else {
      failed++;
      bucket.failed++;
    }
    latencies.push(attempt.latency_ms);
  }
  latencies.sort((a, b) => a - b);
  const total = succeeded + failed;
  return {
    window,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    attempts: total,
    succeeded,
    failed,
    success_rate: total === 0 ? null : succeeded / total,
    latency_ms: { p50: percentile(latencies, 50), p95: percentile(latencies, 95) },
    buckets,
  };
}
