import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from "#shared/config.ts";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "#shared/domain/aws-limits.ts";
import { decideDeliveryStep } from "#shared/domain/delivery/delivery-step.ts";
import {
  maxVisibilitySeconds,
  sleepUntil,
  VISIBILITY_SAFETY_MARGIN_SECONDS,
  wokenEarly,
} from "#shared/domain/delivery/visibility.ts";

const RECEIVED = new Date("2026-12-01T00:00:00.000Z");
const at = (seconds: number) => new Date(RECEIVED.getTime() + seconds * 1000);
/** What SQS accepts (SQS API Reference, ChangeMessageVisibility): it must end within 12 h of the receive. */
const acceptedBySqs = (now: Date, seconds: number) =>
  now.getTime() + seconds * 1000 <= RECEIVED.getTime() + MAX_VISIBILITY_TIMEOUT_SECONDS * 1000;

describe("one sleep on SQS, counted from the receive", () => {
  it("never asks for 43,200 s, even at the instant of the receive, and shrinks as time passes", () => {
    expect(maxVisibilitySeconds(RECEIVED, RECEIVED)).toBe(
      MAX_VISIBILITY_TIMEOUT_SECONDS - VISIBILITY_SAFETY_MARGIN_SECONDS,
    );
    expect(maxVisibilitySeconds(at(15), RECEIVED)).toBe(43_200 - 15 - VISIBILITY_SAFETY_MARGIN_SECONDS);
    expect(maxVisibilitySeconds(at(43_200), RECEIVED)).toBe(0);
    expect(maxVisibilitySeconds(at(50_000), RECEIVED)).toBe(0);
  });

  it("sleeps the whole delay when SQS accepts it, 0 s included", () => {
    expect(sleepUntil(at(10), at(10), RECEIVED)).toEqual({ seconds: 0, hop: false });
    expect(sleepUntil(at(310), at(10), RECEIVED)).toEqual({ seconds: 300, hop: false });
    // A fraction of a second rounds up: waking early would cost a receive.
    expect(sleepUntil(new Date(at(10).getTime() + 1500), at(10), RECEIVED)).toEqual({
      seconds: 2,
      hop: false,
    });
  });

  it("hops when the delay is 43,200 s or more, and every hop is one SQS accepts", () => {
    for (const delay of [43_200, 43_141, 51_840, 72_000, 200_000]) {
      const now = at(2);
      const sleep = sleepUntil(at(2 + delay), now, RECEIVED);
      expect(sleep.hop).toBe(true);
      expect(acceptedBySqs(now, sleep.seconds)).toBe(true);
      expect(sleep.seconds).toBeLessThan(delay);
    }
  });

  it("reaches a Retry-After of 12 hours or more on a 10-hour retry, and the top of the +20 % jitter, in hops", () => {
    const now = at(1);
    const decide = (outcome: Parameters<typeof decideDeliveryStep>[0]["outcome"], random: () => number) =>
      decideDeliveryStep({
        attempt: 6, // the retry after attempt 6 is due 10 hours later
        outcome,
        schedule: DEFAULT_RETRY_SCHEDULE_SECONDS,
        jitter: 0.2,
        now,
        random,
        failingSince: null,
        autoDisableAfterSeconds: 10 * 86_400,
      });
    const topOfJitter = decide({ statusCode: 500, retryAfter: null }, () => 1 - Number.EPSILON);
    const retryAfter = decide({ statusCode: 503, retryAfter: String(14 * 3600) }, () => 0.5);
    for (const step of [topOfJitter, retryAfter]) {
      expect(step.queue.kind).toBe("retry");
      const due = step.nextAttemptAt as Date;
      expect((due.getTime() - now.getTime()) / 1000).toBeGreaterThanOrEqual(43_200);
      // The first sleep is the longest SQS accepts; the job then wakes, sleeps again, and is due on time.
      const first = sleepUntil(due, now, RECEIVED);
      expect(first.hop).toBe(true);
      expect(acceptedBySqs(now, first.seconds)).toBe(true);
      const secondReceive = new Date(now.getTime() + first.seconds * 1000);
      expect(wokenEarly(due, secondReceive)).toBe(true);
      const second = sleepUntil(due, secondReceive, secondReceive);
      expect(second.hop).toBe(false);
      expect(secondReceive.getTime() + second.seconds * 1000).toBeGreaterThanOrEqual(due.getTime());
    }
    expect((retryAfter.nextAttemptAt as Date).getTime() - now.getTime()).toBe(14 * 3600 * 1000);
  });

  it("treats a job woken within a second of its time as due", () => {
    expect(wokenEarly(at(100), at(99.5))).toBe(false);
    expect(wokenEarly(at(100), at(98))).toBe(true);
    expect(wokenEarly(null, at(0))).toBe(false);
  });
});
