/**
 * A realistic customer endpoint's response time for the cost bench: log-normal (response times of web
 * servers are right-skewed: most answer quickly, a tail takes several times longer), with its median
 * and 95th percentile as parameters, drawn from a seeded generator so that two runs send the same
 * sequence of delays. Defaults: p50 150 ms, p95 500 ms (issue 22: what receivers behind a framework,
 * a database write and a TLS-terminating proxy typically take), capped at 5 s.
 */

export interface LatencyDistribution {
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
  readonly seed: number;
}

export const ENDPOINT_LATENCY: LatencyDistribution = { p50Ms: 150, p95Ms: 500, maxMs: 5000, seed: 22 };

/** The 95th percentile of the standard normal distribution. */
const Z95 = 1.6448536269514722;

/** mulberry32: a small, fast, well-distributed 32-bit generator; enough for reproducible delays. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sampler of delays (ms): exp(μ + σZ), μ = ln p50, σ = ln(p95/p50)/z95, Z standard normal (Box–Muller). */
export function latencySampler(distribution: LatencyDistribution = ENDPOINT_LATENCY): () => number {
  if (!(distribution.p50Ms > 0 && distribution.p95Ms > distribution.p50Ms)) {
    throw new Error("the latency distribution needs 0 < p50 < p95");
  }
  const random = seededRandom(distribution.seed);
  const mu = Math.log(distribution.p50Ms);
  const sigma = Math.log(distribution.p95Ms / distribution.p50Ms) / Z95;
  return () => {
    const u = Math.max(random(), Number.EPSILON);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    return Math.min(distribution.maxMs, Math.exp(mu + sigma * z));
  };
}
