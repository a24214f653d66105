/**
 * Fair delivery, the pure part (docs/delivery.md, "Fair delivery"): what the delivery function does
 * with a job given what is known about its endpoint, and how an attempt's outcome changes that
 * knowledge. No I/O: the state lives in DynamoDB (shared by every delivery instance), read through
 * shared/adapters/dynamodb/endpoint-health.ts.
 *
 * Two lanes. The main lane (the delivery queue) dials with a short budget; an endpoint that does not
 * answer within it is marked slow and its jobs go to the slow lane (a queue of its own, with its own,
 * small, concurrency), where the full timeout applies. In the slow lane a circuit breaker counts
 * timeouts in a row; at the threshold it opens and the endpoint is not dialled at all until the
 * cooldown has passed, when one probe (claimed by one instance) tries it again.
 */

export type Lane = "main" | "slow";

/** What is known about one endpoint. An endpoint nobody has seen misbehave has no state at all. */
export interface EndpointHealth {
  /** Attempts in a row that timed out (full timeout, slow lane). */
  readonly consecutiveTimeouts: number;
  /** Epoch ms until which the main lane hands this endpoint's jobs to the slow lane. */
  readonly slowUntil: number | null;
  /** Epoch ms until which the breaker is open: nobody dials the endpoint. */
  readonly openUntil: number | null;
  /** Epoch ms until which one instance holds the probe of a breaker whose cooldown has passed. */
  readonly probeUntil: number | null;
}

export const HEALTHY: EndpointHealth = {
  consecutiveTimeouts: 0,
  slowUntil: null,
  openUntil: null,
  probeUntil: null,
};

export interface FairnessPolicy {
  /** The main lane's attempt budget (ms); an endpoint slower than this is served by the slow lane. */
  readonly mainLaneTimeoutMs: number;
  /** The full attempt timeout (ms), applied in the slow lane. */
  readonly timeoutMs: number;
  /** Timeouts in a row that open the breaker. */
  readonly breakerThreshold: number;
  /** First cooldown of an open breaker (ms); doubled by each failed probe, up to maxCooldownMs. */
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
  /** How long an endpoint stays in the slow lane after its last slow answer or timeout (ms). */
  readonly slowLaneStickyMs: number;
  /** Attempts to one endpoint one slow-lane invocation makes at once; the rest wait their turn. */
  readonly endpointConcurrency: number;
}

/** What to do with a received job before anything is sent. */
export type LaneDecision =
  /**
   * Send it, with this timeout. `budgetMs` (main lane): if no answer has come by then, mark the
   * endpoint slow while the attempt goes on. `probe`: this is the breaker's probe (claim held).
   */
  | { readonly kind: "dial"; readonly timeoutMs: number; readonly budgetMs?: number; readonly probe: boolean }
  /** Hand it to the slow lane now, without sending (main lane, endpoint known slow or broken). */
  | { readonly kind: "to_slow_lane" }
  /** Not now: back to the slow lane, visible again after this delay, without using an attempt. */
  | { readonly kind: "defer"; readonly delayMs: number }
  /** The breaker's cooldown has passed: try to claim the probe; dial if won, else defer. */
  | { readonly kind: "claim_probe" };

export function isBreakerOpen(health: EndpointHealth, nowMs: number): boolean {
  return health.openUntil !== null && health.openUntil > nowMs;
}

/** An open breaker whose cooldown has passed: the next attempt is a probe. */
function probeDue(health: EndpointHealth): boolean {
  return health.openUntil !== null && health.consecutiveTimeouts >= 1;
}

export function decideLane(
  lane: Lane,
  health: EndpointHealth,
  policy: FairnessPolicy,
  nowMs: number,
): LaneDecision {
  if (lane === "main") {
    const slow = health.slowUntil !== null && health.slowUntil > nowMs;
    if (slow || health.openUntil !== null) return { kind: "to_slow_lane" };
    return policy.mainLaneTimeoutMs < policy.timeoutMs
      ? { kind: "dial", timeoutMs: policy.timeoutMs, budgetMs: policy.mainLaneTimeoutMs, probe: false }
      : { kind: "dial", timeoutMs: policy.timeoutMs, probe: false };
  }
  if (isBreakerOpen(health, nowMs)) {
    return { kind: "defer", delayMs: (health.openUntil as number) - nowMs };
  }
  if (probeDue(health)) {
    if (health.probeUntil !== null && health.probeUntil > nowMs) {
      return { kind: "defer", delayMs: health.probeUntil - nowMs };
    }
    return { kind: "claim_probe" };
  }
  return { kind: "dial", timeoutMs: policy.timeoutMs, probe: false };
}

/** How long a claimed probe is held: its attempt plus a margin, after which another may probe. */
export function probeLeaseMs(policy: FairnessPolicy): number {
  return policy.timeoutMs + 5000;
}

/** Cooldown after `consecutiveTimeouts` timeouts in a row (threshold → cooldownMs, then doubling). */
export function cooldownFor(consecutiveTimeouts: number, policy: FairnessPolicy): number {
  const doublings = Math.max(0, consecutiveTimeouts - policy.breakerThreshold);
  return Math.min(policy.maxCooldownMs, policy.cooldownMs * 2 ** Math.min(doublings, 20));
}

/** How an attempt ended, as far as fairness cares. */
export type AttemptSpeed =
  /** Answered (any status) or failed fast (refused, reset, DNS, TLS): the endpoint is reachable. */
  | { readonly kind: "answered"; readonly latencyMs: number }
  /** No answer within the attempt's timeout. */
  | { readonly kind: "timed_out" };

/**
 * The change an attempt makes to the shared state, or null when there is nothing to write (the
 * common case: a healthy endpoint answering in the main lane costs no write at all).
 */
export type HealthChange =
  /** No answer within the main lane's budget: serve this endpoint from the slow lane until `slowUntil`. */
  | { readonly kind: "mark_slow"; readonly slowUntil: number }
  /** A full timeout: one more in a row; `open` when it reaches the threshold (breaker opens/reopens). */
  | {
      readonly kind: "timeout";
      readonly slowUntil: number;
      readonly openUntilIfThreshold: (consecutiveTimeouts: number) => number | null;
    }
  /** Reachable again: the breaker closes; a fast answer also brings it back to the main lane. */
  | { readonly kind: "recovered"; readonly slowUntil: number | null };

export function healthChangeAfter(
  lane: Lane,
  speed: AttemptSpeed,
  health: EndpointHealth,
  policy: FairnessPolicy,
  nowMs: number,
): HealthChange | null {
  const sticky = nowMs + policy.slowLaneStickyMs;
  if (speed.kind === "timed_out") {
    return {
      kind: "timeout",
      slowUntil: sticky,
      openUntilIfThreshold: (count) => {
        if (count < policy.breakerThreshold) return null;
        return nowMs + cooldownFor(count, policy);
      },
    };
  }
  const fast = speed.latencyMs <= policy.mainLaneTimeoutMs;
  if (lane === "main") {
    // An answer after the budget: the endpoint was marked slow when the budget passed; keep it so.
    if (!fast) return { kind: "mark_slow", slowUntil: sticky };
    // The main lane only dials endpoints without state; an answer within the budget changes nothing.
    return health === HEALTHY || (health.consecutiveTimeouts === 0 && health.slowUntil === null)
      ? null
      : { kind: "recovered", slowUntil: null };
  }
  const known = health.consecutiveTimeouts > 0 || health.openUntil !== null || health.slowUntil !== null;
  if (fast) return known ? { kind: "recovered", slowUntil: null } : null;
  return { kind: "recovered", slowUntil: sticky };
}
