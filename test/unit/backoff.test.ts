import { describe, expect, it } from "vitest";
import { backoffDelayMs, retryWithBackoff } from "#shared/adapters/backoff.ts";

const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 300 };

describe("backoff", () => {
  it("draws each wait uniformly below a ceiling that doubles from the base up to the maximum", () => {
    expect([1, 2, 3, 4].map((retry) => backoffDelayMs(retry, policy, () => 0.999999))).toEqual([
      99, 199, 299, 299,
    ]);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(2, policy, () => 0.5)).toBe(100);
  });

  it("calls the step until it is done, waiting the backoff between calls only", async () => {
    const waits: number[] = [];
    const calls: number[] = [];
    const done = await retryWithBackoff(
      policy,
      async (attempt) => {
        calls.push(attempt);
        return attempt === 3;
      },
      { random: () => 0.5, wait: async (ms) => void waits.push(ms) },
    );
    expect(done).toBe(true);
    expect(calls).toEqual([1, 2, 3]);
    expect(waits).toEqual([50, 100]);
  });

  it("gives up after the policy's attempts and says so", async () => {
    let calls = 0;
    const done = await retryWithBackoff(
      policy,
      async () => {
        calls++;
        return false;
      },
      { wait: async () => {} },
    );
    expect([done, calls]).toEqual([false, 4]);
  });

  it("lets an error of the step end the loop", async () => {
    let calls = 0;
    const failing = retryWithBackoff(
      policy,
      async () => {
        calls++;
        throw new Error("not worth a retry");
      },
      { wait: async () => {} },
    );
    await expect(failing).rejects.toThrow("not worth a retry");
    expect(calls).toBe(1);
  });
});
