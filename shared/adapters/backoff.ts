/**
 * The one retry loop of the adapters, for the calls AWS answers with partial success (BatchGetItem's
 * unprocessed keys, SendMessageBatch's failed entries, PutEvents' failed entries) or a transient error.
 * The SDK already retries whole requests that fail (throttling, 5xx); this retries what a successful
 * request left undone, which the SDK does not.
 *
 * One formula: exponential backoff with "full jitter", the one the AWS SDKs' standard retry mode uses
 * (AWS SDKs and Tools Reference Guide, "Retry behavior":
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html; AWS Architecture Blog,
 * "Exponential Backoff And Jitter"): before retry n, wait a uniform draw in [0, min(max, base · 2^(n-1))).
 * Full jitter spreads the retries of many callers hit by the same throttling apart.
 */
import { sleep } from "./sleep.ts";

export interface BackoffPolicy {
  /** Calls in all, the first one included. */
  readonly attempts: number;
  /** The longest wait before the first retry; it doubles for each retry after that. */
  readonly baseDelayMs: number;
  /** No wait is longer than this. */
  readonly maxDelayMs: number;
}

/** The wait before retry `retry` (1 for the first retry): full jitter. */
export function backoffDelayMs(
  retry: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/** What `step` reports: `true` when nothing is left to do, `false` to be called again after a backoff. */
export type StepDone = boolean;

export interface RetryOptions {
  readonly random?: () => number;
  readonly wait?: (ms: number) => Promise<void>;
}

/**
 * Calls `step` (with the attempt number, from 1) until it reports done or `policy.attempts` calls were
 * made, waiting `backoffDelayMs` between calls. Resolves true when a call reported done, false when
 * the attempts ran out; what is left over, and why, is the caller's to report. A step that throws
 * ends the loop with that error: only the step knows which errors are worth another call.
 */
export async function retryWithBackoff(
  policy: BackoffPolicy,
  step: (attempt: number) => Promise<StepDone>,
  options: RetryOptions = {},
): Promise<boolean> {
  const wait = options.wait ?? sleep;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (attempt > 1) await wait(backoffDelayMs(attempt - 1, policy, options.random));
    if (await step(attempt)) return true;
  }
  return false;
}
