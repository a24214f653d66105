/**
 * "Why was it late?" (PRODUCT §12): where a delivery's time went, from what its record holds already
 * (docs/delivery.md). Pure: the record and the clock in, milliseconds out. The parts add up to
 * `age_ms` exactly: each gap between two recorded instants is split, and what no record explains is
 * `queued_ms`.
 */
import type { DeliveryRecord, DeliveryStatus } from "./delivery.ts";

export interface LatenessBreakdown {
  /** From the event's time to the end of the last attempt (a delivery over), or to now (one not over). */
  readonly age_ms: number;
  /** From the event's time until the router handed it on; null when that instant is unknown (then it is in `queued_ms`). */
  readonly routing_ms: number | null;
  /** On a queue with nothing holding it: waiting for a delivery function to take it. */
  readonly queued_ms: number;
  /** Held by fairness: deferred by the endpoint's breaker or cap, or waiting on the slow lane. */
  readonly fairness_ms: number;
  /** Waiting out the retry schedule after failed attempts. */
  readonly backoff_ms: number;
  /** The receiver's own time: from each request's start until its answer (or its timeout). */
  readonly receiver_ms: number;
  /** Over (succeeded or dead) until a manual retry or a recovery opened it again. */
  readonly idle_ms: number;
}

const OVER: ReadonlySet<DeliveryStatus> = new Set(["succeeded", "dead"]);
const ENDED_BY_ATTEMPT: ReadonlySet<string> = new Set([
  "attempts_exhausted",
  "endpoint_gone",
  "endpoint_rejected",
]);

const ms = (iso: string | undefined | null): number | null => {
  if (iso === undefined || iso === null) return null;
  const value = Date.parse(iso);
  return Number.isNaN(value) ? null : value;
};

const clamp = (value: number, max: number): number => Math.max(0, Math.min(value, max));

export function latenessOf(
  record: Pick<
    DeliveryRecord,
    "created_at" | "status" | "dead_reason" | "attempts" | "updated_at" | "routed_at" | "held_ms"
  >,
  now: Date,
): LatenessBreakdown {
  const created = ms(record.created_at) ?? now.getTime();
  const routed = ms(record.routed_at);
  let queued = 0;
  let fairness = 0;
  let backoff = 0;
  let receiver = 0;
  let idle = 0;
  const attempts = record.attempts;
  const firstAt = ms(attempts[0]?.at);
  const over = OVER.has(record.status);
  const lastAttempt = attempts[attempts.length - 1];
  const lastEnd = lastAttempt ? (ms(lastAttempt.at) ?? created) + lastAttempt.latency_ms : null;
  // Ended by an attempt: at that attempt's answer. Closed without one (its subscription disabled or
  // deleted, the queue's backstop): when it was closed.
  const endedByAttempt =
    lastEnd !== null && (record.status === "succeeded" || ENDED_BY_ATTEMPT.has(record.dead_reason ?? ""));
  const end = !over
    ? now.getTime()
    : endedByAttempt
      ? lastEnd
      : Math.max(lastEnd ?? created, ms(record.updated_at) ?? created);
  const routing = routed === null ? null : clamp(routed - created, (firstAt ?? end) - created);
  let cursor = created + (routing ?? 0);

  /** Splits the gap from the cursor to `until`: scheduled waits first, then holds, the rest queued. */
  const wait = (
    until: number,
    waits: { backoffUntil: number | null; idleUntil: number | null; held: number; slow: boolean },
  ) => {
    const gap = Math.max(0, until - cursor);
    const idlePart = waits.idleUntil === null ? 0 : clamp(waits.idleUntil - cursor, gap);
    const backoffPart = waits.backoffUntil === null ? 0 : clamp(waits.backoffUntil - cursor, gap - idlePart);
    const heldPart = clamp(waits.held, gap - idlePart - backoffPart);
    const rest = gap - idlePart - backoffPart - heldPart;
    idle += idlePart;
    backoff += backoffPart;
    fairness += heldPart + (waits.slow ? rest : 0);
    queued += waits.slow ? 0 : rest;
    cursor = Math.max(cursor, until);
  };

  attempts.forEach((attempt, i) => {
    const at = ms(attempt.at) ?? cursor;
    const previous = i > 0 ? attempts[i - 1] : undefined;
    const timing = attempt.timing ?? {};
    const retryAt = ms(previous?.timing?.retry_at);
    // After an attempt that scheduled none (it ended the chain), the wait until this attempt was due
    // (a manual retry's or a recovery's request) is the delivery lying over.
    const reopened = previous !== undefined && retryAt === null ? ms(timing.due_at) : null;
    wait(at, {
      backoffUntil: retryAt,
      idleUntil: reopened,
      held: timing.held_ms ?? 0,
      slow: timing.slow_lane === true,
    });
    // Attempts that overlap (two copies of one job) count their common time once.
    const busy = Math.max(0, at + attempt.latency_ms - cursor);
    receiver += busy;
    cursor += busy;
  });
  if (end > cursor) {
    wait(end, {
      backoffUntil: over ? null : ms(lastAttempt?.timing?.retry_at),
      idleUntil: null,
      held: record.held_ms ?? 0,
      slow: false,
    });
  }
  return {
    age_ms: Math.max(0, Math.max(end, cursor) - created),
    routing_ms: routing,
    queued_ms: queued,
    fairness_ms: fairness,
    backoff_ms: backoff,
    receiver_ms: receiver,
    idle_ms: idle,
  };
}
