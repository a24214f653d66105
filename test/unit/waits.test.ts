import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from "#shared/config.ts";
import { MAX_DELAY_SECONDS } from "#shared/domain/aws-limits.ts";
import { decideDeliveryStep } from "#shared/domain/delivery/delivery-step.ts";
import { deliveryJobSchema } from "#shared/domain/delivery/job.ts";
import { waitToken, waitUntil, wokenEarly } from "#shared/domain/delivery/waits.ts";

const T0 = new Date("2026-12-01T00:00:00.000Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

describe("a wait handed back to SQS as a delayed message", () => {
  it("waits the whole delay when it fits DelaySeconds (0 s and 900 s included), rounded up", () => {
    expect(waitUntil(at(10), at(10))).toEqual({ seconds: 0, hop: false });
    expect(waitUntil(at(310), at(10))).toEqual({ seconds: 300, hop: false });
    expect(waitUntil(at(910), at(10))).toEqual({ seconds: 900, hop: false });
    // A fraction of a second rounds up: waking early would cost a receive.
    expect(waitUntil(new Date(at(10).getTime() + 1500), at(10))).toEqual({ seconds: 2, hop: false });
    // Already due: no delay, never a negative one.
    expect(waitUntil(at(5), at(10))).toEqual({ seconds: 0, hop: false });
  });

  it("hops in 900 s steps past DelaySeconds' maximum, and the last hop lands on time", () => {
    for (const delay of [901, 3600, 36_000, 14 * 3600]) {
      let now = at(0);
      const due = at(delay);
      let hops = 0;
      for (;;) {
        const wait = waitUntil(due, now);
        expect(wait.seconds).toBeLessThanOrEqual(MAX_DELAY_SECONDS);
        now = new Date(now.getTime() + wait.seconds * 1000);
        if (!wait.hop) break;
        expect(wokenEarly(due, now)).toBe(due.getTime() - now.getTime() > 1000);
        hops++;
      }
      expect(now.getTime()).toBe(due.getTime());
      expect(hops).toBe(Math.ceil(delay / MAX_DELAY_SECONDS) - 1);
    }
  });

  it("reaches a 14-hour Retry-After on a 10-hour retry and the top of the +20 % jitter in hops", () => {
    const now = at(1);
    const decide = (outcome: Parameters<typeof decideDeliveryStep>[0]["outcome"], random: () => number) =>
      decideDeliveryStep({
        attempt: 6,
        outcome,
        schedule: DEFAULT_RETRY_SCHEDULE_SECONDS,
        jitter: 0.2,
        now,
        random,
        failingSince: null,
        autoDisableAfterSeconds: 10 * 86_400,
      });
    const retryAfter = decide({ statusCode: 503, retryAfter: String(14 * 3600) }, () => 0.5);
    const first = waitUntil(retryAfter.nextAttemptAt as Date, now);
    expect(first).toEqual({ seconds: 900, hop: true });
    expect((retryAfter.nextAttemptAt as Date).getTime() - now.getTime()).toBe(14 * 3600 * 1000);
  });

  it("treats a job woken within a second of its time as due", () => {
    expect(wokenEarly(at(100), at(99.5))).toBe(false);
    expect(wokenEarly(at(100), at(98))).toBe(true);
    expect(wokenEarly(null, at(0))).toBe(false);
  });

  it("gives each wait a new identity a job may carry as its token", () => {
    const token = waitToken(() => crypto.randomUUID());
    expect(token).toMatch(/^w-/);
    expect(deliveryJobSchema.shape.token.safeParse(token).success).toBe(true);
  });
});
