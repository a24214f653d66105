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
 *
 * The first dial. The main lane only learns that an endpoint black-holes when a budget passes, and
 * an attempt is never abandoned, so every job of a new black hole received before then holds its
 * poller for the full timeout. An endpoint not proven fast (no answer within the budget in the last
 * `provenFastMs`) is therefore dialled by one main-lane attempt at a time across every instance: the
 * job that wins the endpoint's first-dial lease (one conditional write) dials; the others wait out of
 * flight for about the budget (`firstDialDeferMs`, a delayed re-send, no attempt used), by when the
 * holder has proven the endpoint fast (dial) or marked it slow (slow lane).
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
  /** Epoch ms until which the endpoint counts as proven fast: the main lane dials it without a lease. */
  readonly fastUntil: number | null;
  /** Epoch ms until which one main-lane attempt holds the endpoint's first-dial lease. */
  readonly dialUntil: number | null;
}

export const HEALTHY: EndpointHealth = {
  consecutiveTimeouts: 0,
  slowUntil: null,
  openUntil: null,
  probeUntil: null,
  fastUntil: null,
  dialUntil: null,
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
  /** How long an answer within the main lane's budget proves an endpoint fast (ms). */
  readonly provenFastMs: number;
  /** How long a job waits (out of flight) while another attempt holds its endpoint's first dial (ms). */
  readonly firstDialDeferMs: number;
}

/**
 * The first dial's defaults (docs/delivery.md, "The first dial"): proven for a minute, renewed by a
 * fast answer in its second half (about one write a minute per endpoint in use).
 */
export const FIRST_DIAL = { provenFastMs: 60_000 } as const;

/**
 * How long a job waits while another attempt holds its endpoint's first dial: the main lane's budget
 * in whole seconds (SQS delays are whole seconds, at least 1), by when the holder has either answered
 * (proven fast) or marked the endpoint slow — so a deferred job usually waits once, not in a loop of
 * re-sends.
 */
export function firstDialDeferMs(mainLaneTimeoutMs: number): number {
  return Math.max(1, Math.ceil(mainLaneTimeoutMs / 1000)) * 1000;
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
  /**
   * Not now: re-sent to the current lane, visible again after this delay, without using an attempt
   * (`first_dial`: another attempt holds the endpoint's first dial; otherwise the breaker or probe).
   */
  | { readonly kind: "defer"; readonly delayMs: number; readonly reason?: "first_dial" }
  /** The breaker's cooldown has passed: try to claim the probe; dial if won, else defer. */
  | { readonly kind: "claim_probe" }
  /** Main lane, an endpoint not proven fast: try to claim its first dial; dial if won, else decide again. */
  | { readonly kind: "claim_first_dial" };

export function isBreakerOpen(health: EndpointHealth, nowMs: number): boolean {
  return health.openUntil !== null && health.openUntil > nowMs;
}

export function isProvenFast(health: EndpointHealth, nowMs: number): boolean {
  return health.fastUntil !== null && health.fastUntil > nowMs;
}

/**
 * How long a won first dial is held: the budget (by then the attempt has answered and proven the
 * endpoint fast, or has marked it slow) plus a margin, after which another may claim it (the
 * winner's instance died).
 */
export function firstDialLeaseMs(policy: FairnessPolicy): number {
  return policy.mainLaneTimeoutMs + 2000;
}

/**
 * A lost first-dial claim, with the state read afresh: proven fast meanwhile → dial; marked slow or
 * broken → slow lane; otherwise another attempt holds the lease → wait out of flight.
 */
export function afterLostFirstDial(
  health: EndpointHealth,
  policy: FairnessPolicy,
  nowMs: number,
): LaneDecision {
  const decision = decideLane("main", health, policy, nowMs);
  return decision.kind === "claim_first_dial"
    ? { kind: "defer", delayMs: policy.firstDialDeferMs, reason: "first_dial" }
    : decision;
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
    // A budget as long as the timeout: no slow lane to learn for, so no first dial either.
    if (policy.mainLaneTimeoutMs >= policy.timeoutMs) {
      return { kind: "dial", timeoutMs: policy.timeoutMs, probe: false };
    }
    if (isProvenFast(health, nowMs)) {
      return { kind: "dial", timeoutMs: policy.timeoutMs, budgetMs: policy.mainLaneTimeoutMs, probe: false };
    }
    // Claimed even when this instance's cached view shows the lease held: a lost claim reads the
    // state afresh (afterLostFirstDial), so a job back from its deferral waits again only if it must.
    return { kind: "claim_first_dial" };
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
  /**
   * Reachable again: the breaker closes; a fast answer also brings it back to the main lane, proven
   * fast until `fastUntil`.
   */
  | { readonly kind: "recovered"; readonly slowUntil: null; readonly fastUntil: number }
  | { readonly kind: "recovered"; readonly slowUntil: number }
  /** Answered within the main lane's budget: proven fast until `fastUntil` (the first dial is released). */
  | { readonly kind: "proven_fast"; readonly fastUntil: number };

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
  const provenUntil = nowMs + policy.provenFastMs;
  if (lane === "main") {
    // An answer after the budget: the endpoint was marked slow when the budget passed; keep it so.
    if (!fast) return { kind: "mark_slow", slowUntil: sticky };
    if (health.consecutiveTimeouts > 0 || health.slowUntil !== null || health.openUntil !== null) {
      return { kind: "recovered", slowUntil: null, fastUntil: provenUntil };
    }
    // Proven fast, renewed in the second half of the proof only: a busy healthy endpoint costs about
    // one write per half `provenFastMs`, not one per delivery. Without lanes (budget = timeout) no
    // first dial is ever claimed, so nothing needs proving.
    if (policy.mainLaneTimeoutMs >= policy.timeoutMs) return null;
    const renewFrom = nowMs + policy.provenFastMs / 2;
    return health.fastUntil !== null && health.fastUntil > renewFrom
      ? null
      : { kind: "proven_fast", fastUntil: provenUntil };
  }
  const known = health.consecutiveTimeouts > 0 || health.openUntil !== null || health.slowUntil !== null;
  if (fast) return known ? { kind: "recovered", slowUntil: null, fastUntil: provenUntil } : null;
  return { kind: "recovered", slowUntil: sticky };
}
