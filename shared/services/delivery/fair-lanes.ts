/**
 * Fair delivery, the use case (docs/delivery.md, "Fair delivery"): one phase of the delivery batch,
 * one call around each attempt (`LaneGate.dial`). Before: dial (with the lane's timeout), hand the job
 * to the slow lane without sending, or put it back to sleep while its endpoint's breaker is open (or
 * the endpoint is at its cap) — neither uses an attempt. During: the main lane's budget timer. After:
 * the slow lane's slot is released, and what the attempt taught about the endpoint is written to the
 * shared state.
 */

import {
  type AttemptSpeed,
  afterLostFirstDial,
  decideLane,
  type EndpointHealth,
  type FairnessPolicy,
  firstDialLeaseMs,
  HEALTHY,
  healthChangeAfter,
  type Lane,
  type LaneDecision,
  probeLeaseMs,
} from "../../domain/delivery/endpoint-health.ts";
import type { DeliveryJob } from "../../domain/delivery/job.ts";
import { loggedError } from "../../domain/ports/logger.ts";
import type { DeliveryQueue } from "../../domain/ports/queues.ts";
import type { HttpAttemptResult } from "../../domain/ports/sender.ts";
import type { EndpointHealthStore } from "../../domain/ports/stores.ts";

export interface FairLaneDependencies {
  readonly policy: FairnessPolicy;
  readonly health: Pick<EndpointHealthStore, "load" | "apply" | "claimProbe" | "claimFirstDial">;
  /** The slow lane: where jobs are handed over, and (as the batch's queue) where its jobs wait. */
  readonly slowLane: Pick<DeliveryQueue, "send" | "hold">;
  /** The slow lane queue's name: how the handler tells its records from the main lane's. */
  readonly slowQueueName: string;
  readonly logger: { warn(message: string, ...attributes: Record<string, unknown>[]): void };
  readonly now?: () => Date;
}

export interface LaneJob {
  readonly lane: Lane;
  readonly job: DeliveryJob;
  /** The identity the job holds as its delivery's live job; a handed-over job keeps it (its token). */
  readonly liveJob: string;
  readonly url: string;
}

/**
 * What the fairness phase did with a job. `attempted`: it was dialled (the attempt's own result);
 * otherwise nothing was sent and no attempt used.
 */
export type LanePhase<T> =
  | { readonly outcome: "attempted"; readonly attempted: T }
  /** Sent to the slow lane: the current message is deleted. */
  | { readonly outcome: "moved_to_slow_lane"; readonly message: string }
  /** Wait `seconds` (re-sent, delayed, to the current queue). */
  | { readonly outcome: "deferred"; readonly seconds: number; readonly message: string };

/** What the gate decides before an attempt: one of the phase's unsent outcomes, or a dial on its terms. */
type Admission =
  | Exclude<LanePhase<never>, { readonly outcome: "attempted" }>
  | {
      readonly outcome: "dial";
      readonly timeoutMs: number;
      /** Main lane: when no answer has come by then, the endpoint is marked slow (the attempt goes on). */
      readonly budgetMs?: number;
      /** Gives back the slow lane's slot the attempt held. */
      readonly release: () => void;
    };

export class FairLanes {
  /**
   * Attempts in flight per endpoint in this instance (the slow lane's per-endpoint cap). One
   * FairLanes is built per cold start (shared/dependencies.ts), so this counts what one Lambda
   * instance (which runs one invocation at a time) has in flight.
   */
  readonly inFlightByEndpoint = new Map<string, number>();

  constructor(readonly deps: FairLaneDependencies) {}

  get slowQueueName(): string {
    return this.deps.slowQueueName;
  }

  nowMs(): number {
    return (this.deps.now?.() ?? new Date()).getTime();
  }

  /** The view of one batch: its endpoints' state, read once (cached across warm invocations). */
  async forBatch(urls: readonly string[]): Promise<LaneGate> {
    return new LaneGate(this, await this.deps.health.load(urls, this.nowMs()));
  }

  /** A new message on the slow lane for the same job, which stays its delivery's live job. */
  async handOver(item: LaneJob): Promise<void> {
    await this.deps.slowLane.send({ ...item.job, token: item.liveJob });
  }
}

/** The lanes' decisions for the jobs of one batch. */
export class LaneGate {
  constructor(
    private readonly lanes: FairLanes,
    private readonly health: Map<string, EndpointHealth>,
  ) {}

  private healthOf(url: string): EndpointHealth {
    return this.health.get(url) ?? HEALTHY;
  }

  /**
   * The fairness phase of one job: decides whether to dial, runs `attempt` with the lane's timeout if
   * so (the main lane's budget timer beside it, the slow lane's slot held until it ends), and records
   * what the attempt taught about the endpoint.
   */
  async dial<T extends { readonly result: HttpAttemptResult }>(
    item: LaneJob,
    attempt: (timeoutMs: number) => Promise<T>,
  ): Promise<LanePhase<T>> {
    const before = await this.admit(item);
    if (before.outcome !== "dial") return before;
    const budget =
      before.budgetMs !== undefined
        ? setTimeout(() => void this.overBudget(item), before.budgetMs)
        : undefined;
    let attempted: T;
    try {
      attempted = await attempt(before.timeoutMs);
    } finally {
      clearTimeout(budget);
      before.release();
    }
    await this.afterAttempt(item, attempted.result);
    return { outcome: "attempted", attempted };
  }

  private async admit(item: LaneJob): Promise<Admission> {
    const { deps } = this.lanes;
    const nowMs = this.lanes.nowMs();
    let decision: LaneDecision = decideLane(item.lane, this.healthOf(item.url), deps.policy, nowMs);
    let probe = false;
    if (decision.kind === "claim_first_dial") {
      const claimed = await deps.health.claimFirstDial(item.url, nowMs, firstDialLeaseMs(deps.policy));
      this.health.set(item.url, claimed.health);
      decision = claimed.won
        ? {
            kind: "dial",
            timeoutMs: deps.policy.timeoutMs,
            budgetMs: deps.policy.mainLaneTimeoutMs,
            probe: false,
          }
        : afterLostFirstDial(claimed.health, deps.policy, nowMs);
    }
    if (decision.kind === "claim_probe") {
      probe = await deps.health.claimProbe(item.url, nowMs, probeLeaseMs(deps.policy));
      decision = probe
        ? { kind: "dial", timeoutMs: deps.policy.timeoutMs, probe: true }
        : { kind: "defer", delayMs: probeLeaseMs(deps.policy) };
    }
    switch (decision.kind) {
      case "to_slow_lane":
        await this.lanes.handOver(item);
        return {
          outcome: "moved_to_slow_lane",
          message: "endpoint is slow or broken: job handed to the slow lane unsent",
        };
      case "defer":
        return {
          outcome: "deferred",
          seconds: Math.max(1, Math.ceil(decision.delayMs / 1000)),
          message:
            decision.reason === "first_dial"
              ? "endpoint not proven fast and another attempt holds its first dial: job waits without an attempt"
              : "endpoint's breaker is open: job waits without an attempt",
        };
      case "dial":
        break;
    }
    const timeoutMs = decision.kind === "dial" ? decision.timeoutMs : deps.policy.timeoutMs;
    if (item.lane === "main") {
      const budgetMs = decision.kind === "dial" ? decision.budgetMs : undefined;
      return {
        outcome: "dial",
        timeoutMs,
        ...(budgetMs !== undefined ? { budgetMs } : {}),
        release: () => {},
      };
    }
    // The slow lane's per-endpoint cap (the probe is always let through).
    const { inFlightByEndpoint } = this.lanes;
    const inFlight = inFlightByEndpoint.get(item.url) ?? 0;
    if (!probe && inFlight >= deps.policy.endpointConcurrency) {
      return {
        outcome: "deferred",
        seconds: Math.ceil(deps.policy.timeoutMs / 1000),
        message: "endpoint at its concurrency cap in the slow lane: job waits one timeout without an attempt",
      };
    }
    inFlightByEndpoint.set(item.url, inFlight + 1);
    return {
      outcome: "dial",
      timeoutMs,
      release: () => {
        const left = (inFlightByEndpoint.get(item.url) ?? 1) - 1;
        if (left <= 0) inFlightByEndpoint.delete(item.url);
        else inFlightByEndpoint.set(item.url, left);
      },
    };
  }

  /**
   * The main lane's budget passed with the attempt still waiting: the endpoint is marked slow now,
   * so that every instance hands its next jobs to the slow lane while this attempt runs on (it is
   * never abandoned: an abandoned request that was in fact answered would reach the receiver twice).
   */
  private async overBudget(item: LaneJob): Promise<void> {
    const { deps } = this.lanes;
    const nowMs = this.lanes.nowMs();
    try {
      this.health.set(
        item.url,
        await deps.health.apply(
          item.url,
          { kind: "mark_slow", slowUntil: nowMs + deps.policy.slowLaneStickyMs },
          nowMs,
        ),
      );
    } catch (error) {
      deps.logger.warn("could not update the endpoint's shared state", {
        delivery_id: item.job.delivery_id,
        error: loggedError(error),
      });
    }
  }

  /** After the attempt: what it taught about the endpoint, written to the shared state. */
  private async afterAttempt(item: LaneJob, result: HttpAttemptResult): Promise<void> {
    const { deps } = this.lanes;
    const nowMs = this.lanes.nowMs();
    const speed: AttemptSpeed =
      result.kind === "error" && result.error === "timeout"
        ? { kind: "timed_out" }
        : { kind: "answered", latencyMs: result.latencyMs };
    const change = healthChangeAfter(item.lane, speed, this.healthOf(item.url), deps.policy, nowMs);
    if (change !== null) {
      try {
        this.health.set(item.url, await deps.health.apply(item.url, change, nowMs));
      } catch (error) {
        // The shared state is advice: losing one update must not cost the delivery its record.
        deps.logger.warn("could not update the endpoint's shared state", {
          delivery_id: item.job.delivery_id,
          error: loggedError(error),
        });
      }
    }
  }
}
