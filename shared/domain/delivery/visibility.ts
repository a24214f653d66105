/**
 * How long a received job may sleep on SQS before its next attempt (PRODUCT §4). SQS counts the 12-hour
 * visibility ceiling from the receive that returned the message, and refuses a ChangeMessageVisibility
 * that would reach past it ("Total VisibilityTimeout for the message is beyond the limit [43200
 * seconds]"; SQS API Reference, ChangeMessageVisibility; SQS Developer Guide, "Amazon SQS visibility
 * timeout"). A longer wait is reached in hops: the job wakes, sees its `next_attempt_at` ahead and goes
 * back to sleep without an attempt.
 */
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "../aws-limits.ts";

/**
 * Kept below the ceiling, for the clock skew between our clock and SQS's and the time between
 * computing a timeout and SQS applying it.
 */
export const VISIBILITY_SAFETY_MARGIN_SECONDS = 60;

/**
 * A job that wakes at most this early is attempted (timers and SQS are not exact to the second);
 * earlier than that it sleeps again.
 */
export const EARLY_WAKE_TOLERANCE_MS = 1000;

/**
 * The longest visibility timeout SQS accepts at `now` for a message received no earlier than
 * `receivedNotBefore`, less the safety margin. Never negative.
 */
export function maxVisibilitySeconds(
  now: Date,
  receivedNotBefore: Date,
  margin: number = VISIBILITY_SAFETY_MARGIN_SECONDS,
): number {
  const elapsedSeconds = Math.max(0, (now.getTime() - receivedNotBefore.getTime()) / 1000);
  return Math.max(0, Math.floor(MAX_VISIBILITY_TIMEOUT_SECONDS - elapsedSeconds - margin));
}

export interface Sleep {
  /** The visibility timeout to ask for. */
  readonly seconds: number;
  /** True when the job will wake before it is due (a hop) and must sleep again. */
  readonly hop: boolean;
}

/**
 * The sleep until `dueAt` as one ChangeMessageVisibility: the whole wait when SQS accepts it,
 * otherwise the longest it accepts (a hop). Rounded up: waking a fraction of a second early would
 * cost a useless receive.
 */
export function sleepUntil(dueAt: Date, now: Date, receivedNotBefore: Date): Sleep {
  const wanted = Math.max(0, Math.ceil((dueAt.getTime() - now.getTime()) / 1000));
  const allowed = maxVisibilitySeconds(now, receivedNotBefore);
  return wanted <= allowed ? { seconds: wanted, hop: false } : { seconds: allowed, hop: true };
}

/** Whether a job woken at `now` for an attempt due at `dueAt` is early enough to sleep again. */
export function wokenEarly(dueAt: Date | null, now: Date): boolean {
  return dueAt !== null && dueAt.getTime() - now.getTime() > EARLY_WAKE_TOLERANCE_MS;
}
