/**
 * How a job waits (PRODUCT §4, "Waits are never held in flight"). A standard SQS queue holds at most
 * ~120,000 in-flight messages, and a message sleeping with a long visibility timeout is in flight the
 * whole time (SQS Developer Guide, "Amazon SQS queue quotas"; SQS API Reference,
 * ChangeMessageVisibility). So a job that must wait — a retry's backoff, a breaker, probe-lease or
 * per-endpoint cap deferral — is handed back to SQS as a new message with `DelaySeconds` (≤ 900 s);
 * a delayed message is backlog, not in flight. A longer wait is reached in hops: the re-sent job
 * wakes, sees its `next_attempt_at` still ahead and is re-sent again for what remains, sending
 * nothing to the customer (a middle hop with the same token and no write; the last hop under a new
 * token named on the record: docs/delivery.md, "Hops that do not write"). Every wait, however short, goes this way: a visibility change on a
 * received message would keep it in flight for the wait (docs/delivery.md, "Waits out of flight").
 */
import { MAX_DELAY_SECONDS } from "../aws-limits.ts";

/**
 * A job that wakes at most this early is attempted (SQS delays and the event source mapping's polls
 * are not exact to the second); earlier than that it waits again.
 */
export const EARLY_WAKE_TOLERANCE_MS = 1000;

export interface Wait {
  /** The `DelaySeconds` of the re-sent message. */
  readonly seconds: number;
  /** True when the job will wake before it is due (a hop) and must be re-sent again. */
  readonly hop: boolean;
}

/**
 * The wait until `dueAt` as one delayed re-send: the whole wait when it fits `DelaySeconds`, else
 * 900 s (a hop). Rounded up: waking a fraction of a second early would cost a useless receive.
 */
export function waitUntil(dueAt: Date, now: Date): Wait {
  const wanted = Math.max(0, Math.ceil((dueAt.getTime() - now.getTime()) / 1000));
  return wanted <= MAX_DELAY_SECONDS
    ? { seconds: wanted, hop: false }
    : { seconds: MAX_DELAY_SECONDS, hop: true };
}

/** Whether a job woken at `now` for an attempt due at `dueAt` is early enough to wait again. */
export function wokenEarly(dueAt: Date | null, now: Date): boolean {
  return dueAt !== null && dueAt.getTime() - now.getTime() > EARLY_WAKE_TOLERANCE_MS;
}

/**
 * How long after a live job's due time its attempt may still be under way (received when due, then
 * one attempt of at most `timeoutMs`, then its record write), with room for a receive's latency and
 * a loaded host: the job that handed the delivery to it and comes back within this window waits for
 * the next receive instead of re-sending it (shared/services/delivery/deliver.ts, skipCheck).
 */
export function handOffSettleMs(timeoutMs: number): number {
  return 2 * timeoutMs + 10_000;
}

/**
 * The identity of a re-sent job as its delivery's one live job (the job's `token`, the record's
 * `live_job`). Each wait gets a new one (a middle hop of a long wait keeps its wait's token), and
 * the last hop before the attempt another: the record names it before the new message is sent, so
 * the new message is never received before its record, and the old message, should it come back (a
 * crash between the re-send and its delete), is recognised as stale and dropped — or, when the new
 * message may never have been sent, re-sends it (docs/delivery.md, "One live job across a re-send").
 */
export function waitToken(random: () => string): string {
  return `w-${random()}`;
}
