/** A condition did not hold within its time limit. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
}

export interface WaitOptions {
  /** Default 5000. */
  timeoutMs?: number;
  /** Default 20. */
  intervalMs?: number;
  /** Said in the timeout error, to tell which wait failed. */
  description?: string;
}

/**
 * Re-checks `condition` until it returns true, failing after `timeoutMs`. Tests wait on the state
 * they need instead of sleeping for a guessed duration, so they are as fast as the system allows.
 * An exception thrown by the condition fails the wait at once.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  const { timeoutMs = 5000, intervalMs = 20, description = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(`${description} did not hold within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
