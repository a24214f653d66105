import type { FairnessPolicy } from "#shared/domain/delivery/endpoint-health.ts";

/** The deployment's default fair-delivery policy (shared/config.ts), with a breaker threshold of 5. */
export const TEST_FAIRNESS_POLICY: FairnessPolicy = {
  mainLaneTimeoutMs: 3000,
  timeoutMs: 15_000,
  breakerThreshold: 5,
  cooldownMs: 30_000,
  maxCooldownMs: 600_000,
  slowLaneStickyMs: 300_000,
  endpointConcurrency: 4,
  provenFastMs: 60_000,
  firstDialDeferMs: 3000,
};
