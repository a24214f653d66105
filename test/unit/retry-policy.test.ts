import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from "../../shared/config.ts";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "../../shared/domain/aws-limits.ts";
import { type DeliveryStep, decideDeliveryStep } from "../../shared/domain/delivery/delivery-step.ts";
import {
  type AttemptOutcome,
  autoDisableDue,
  clampRetryAfter,
  jitteredDelaySeconds,
  parseRetryAfter,
} from "../../shared/domain/delivery/retry-policy.ts";

const NOW = new Date("2026-11-20T09:00:00.000Z");
const ALMOST_ONE = 1 - Number.EPSILON;
const schedule = DEFAULT_RETRY_SCHEDULE_SECONDS;

/** What the retry arithmetic decided, read off the step (decideDeliveryStep folds it in). */
type Decision =
  | { readonly kind: "succeeded" | "gone" | "rejected" | "dead" }
  | { readonly kind: "retry"; readonly delaySeconds: number; readonly nextAttemptAt: Date };

function decisionOf(step: DeliveryStep): Decision {
  if (step.queue.kind === "retry") {
    return {
      kind: "retry",
      delaySeconds: step.queue.delaySeconds,
      nextAttemptAt: step.nextAttemptAt as Date,
    };
  }
  const kinds = { succeeded: "succeeded", endpoint_gone: "gone", endpoint_rejected: "rejected" } as const;
  return { kind: step.outcome in kinds ? kinds[step.outcome as keyof typeof kinds] : "dead" };
}

function decideAfterAttempt(input: {
  attempt: number;
  outcome: AttemptOutcome;
  schedule: readonly number[];
  jitter: number;
  now: Date;
  random?: () => number;
  profile?: "standard" | "legacy";
}): Decision {
  return decisionOf(
    decideDeliveryStep({ ...input, failingSince: null, autoDisableAfterSeconds: Number.POSITIVE_INFINITY }),
  );
}

function decide(attempt: number, outcome: AttemptOutcome, random: () => number = () => 0.5): Decision {
  return decideAfterAttempt({ attempt, outcome, schedule, jitter: 0.2, now: NOW, random });
}

const status = (statusCode: number, retryAfter: string | null = null): AttemptOutcome => ({
  statusCode,
  retryAfter,
});

describe("jitteredDelaySeconds", () => {
  it("stays within ±jitter in whole seconds for many random draws", () => {
    const outOfRange: string[] = [];
    for (const base of [...schedule, 1, 7, 13, 99]) {
      const seen = new Set<number>();
      for (let i = 0; i < 5000; i++) {
        const delay = jitteredDelaySeconds(base, 0.2);
        seen.add(delay);
        if (!Number.isInteger(delay) || delay < base * 0.8 - 1e-9 || delay > base * 1.2 + 1e-9) {
          outOfRange.push(`${base} -> ${delay}`);
        }
      }
      // Spread over the range rather than collapsed onto the base.
      if (base >= 300) expect(seen.size).toBeGreaterThan(50);
    }
    expect(outOfRange).toEqual([]);
  });

  it("reaches both ends of the range", () => {
    expect(jitteredDelaySeconds(5, 0.2, () => 0)).toBe(4);
    expect(jitteredDelaySeconds(5, 0.2, () => ALMOST_ONE)).toBe(6);
    expect(jitteredDelaySeconds(300, 0.2, () => 0)).toBe(240);
    expect(jitteredDelaySeconds(300, 0.2, () => ALMOST_ONE)).toBe(360);
    expect(jitteredDelaySeconds(36000, 0.2, () => 0)).toBe(28800);
    // +20 % of ten hours is exactly 12 hours: longer than one SQS sleep allows after any receive,
    // so it is reached in two sleeps (visibility.test.ts), not cut to 43,200 s.
    expect(jitteredDelaySeconds(36000, 0.2, () => ALMOST_ONE)).toBe(MAX_VISIBILITY_TIMEOUT_SECONDS);
    expect(jitteredDelaySeconds(300, 0.2, () => 0.5)).toBe(300);
  });

  it("keeps whole seconds inside non-whole bounds", () => {
    // 7 × [0.8, 1.2] = [5.6, 8.4]: only 6, 7 and 8 are inside.
    expect(jitteredDelaySeconds(7, 0.2, () => 0)).toBe(6);
    expect(jitteredDelaySeconds(7, 0.2, () => ALMOST_ONE)).toBe(8);
  });

  it("is exact without jitter, and never negative", () => {
    expect(jitteredDelaySeconds(1800, 0, () => ALMOST_ONE)).toBe(1800);
    expect(jitteredDelaySeconds(0, 0.2, () => 0)).toBe(0);
  });

  it("is not capped at one SQS sleep: longer delays are reached in hops", () => {
    expect(jitteredDelaySeconds(43_200, 0.2, () => ALMOST_ONE)).toBe(51_840);
    expect(jitteredDelaySeconds(100_000, 0.2, () => 0)).toBe(80_000);
  });

  it("stays in range for any base, jitter and draw (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40_000 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: ALMOST_ONE, noNaN: true }),
        (base, jitter, draw) => {
          const delay = jitteredDelaySeconds(base, jitter, () => draw);
          return (
            Number.isInteger(delay) &&
            delay >= Math.min(Math.ceil(base * (1 - jitter) - 1e-6), base) &&
            delay <= Math.max(Math.floor(base * (1 + jitter) + 1e-6), base)
          );
        },
      ),
    );
  });

  it.each([
    [-1, 0.2],
    [Number.NaN, 0.2],
    [5, -0.1],
    [5, 1.5],
  ])("rejects base %s with jitter %s", (base, jitter) => {
    expect(() => jitteredDelaySeconds(base, jitter)).toThrow(RangeError);
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds", () => {
    expect(parseRetryAfter("120", NOW)).toBe(120);
    expect(parseRetryAfter(" 0 ", NOW)).toBe(0);
  });

  it("reads the three HTTP-date forms as GMT", () => {
    expect(parseRetryAfter("Fri, 20 Nov 2026 09:02:00 GMT", NOW)).toBe(120);
    expect(parseRetryAfter("Friday, 20-Nov-26 09:02:00 GMT", NOW)).toBe(120);
    expect(parseRetryAfter("Fri Nov 20 09:02:00 2026", NOW)).toBe(120);
    expect(parseRetryAfter("Sun Nov  6 08:49:37 2095", new Date("2095-11-06T08:49:00Z"))).toBe(37);
  });

  it("rounds a date up to whole seconds", () => {
    expect(parseRetryAfter("Fri, 20 Nov 2026 09:02:00 GMT", new Date("2026-11-20T09:00:00.400Z"))).toBe(120);
  });

  it.each([
    null,
    "",
    "   ",
    "-5",
    "1.5",
    "soon",
    "1e3",
    "0x10",
    "Fri, 20 Nov 2026 08:59:00 GMT", // in the past
    "Fri, 31 Feb 2026 09:02:00 GMT", // no such day
    "Fri, 20 Nov 2026 25:02:00 GMT",
    "Fri, 20 Nov 2026 09:02:00 PST",
    "2026-11-20T09:02:00Z", // ISO 8601 is not an HTTP-date
    "99999999999999999999999",
  ])("is null for %j", (header) => {
    expect(parseRetryAfter(header, NOW)).toBeNull();
  });
});

describe("clampRetryAfter", () => {
  it("clamps into [scheduled, 2 × scheduled]", () => {
    expect(clampRetryAfter(1, 300)).toBe(300);
    expect(clampRetryAfter(450, 300)).toBe(450);
    expect(clampRetryAfter(10_000, 300)).toBe(600);
  });

  it("honours Retry-After beyond 12 hours up to twice the scheduled delay (reached in hops)", () => {
    expect(clampRetryAfter(43_200, 36_000)).toBe(43_200);
    expect(clampRetryAfter(100_000, 36_000)).toBe(72_000);
  });
});

describe("decideDeliveryStep: the retry arithmetic", () => {
  it("makes eight attempts in total with the default schedule", () => {
    let attempt = 1;
    const delays: number[] = [];
    for (;;) {
      const decision = decide(attempt, status(500));
      if (decision.kind !== "retry") {
        expect(decision.kind).toBe("dead");
        break;
      }
      delays.push(decision.delaySeconds);
      attempt += 1;
    }
    expect(attempt).toBe(8);
    expect(delays).toEqual([...schedule]);
  });

  it.each([200, 201, 202, 204, 299])("treats %s as delivered", (code) => {
    expect(decide(1, status(code))).toEqual({ kind: "succeeded" });
    expect(decide(8, status(code))).toEqual({ kind: "succeeded" });
  });

  it("treats 410 as gone, even on the last attempt", () => {
    expect(decide(1, status(410))).toEqual({ kind: "gone" });
    expect(decide(8, status(410))).toEqual({ kind: "gone" });
  });

  it.each([199, 301, 302, 304, 307, 400, 401, 404, 408, 429, 500, 502, 503, 504])(
    "retries %s (redirects are not followed)",
    (code) => {
      expect(decide(1, status(code)).kind).toBe("retry");
    },
  );

  it("retries transport errors", () => {
    expect(decide(3, { error: "ETIMEDOUT" })).toEqual({
      kind: "retry",
      delaySeconds: 1800,
      nextAttemptAt: new Date(NOW.getTime() + 1800 * 1000),
    });
  });

  it("jitters the scheduled delay and sets nextAttemptAt accordingly", () => {
    const low = decide(2, status(500), () => 0);
    expect(low).toEqual({
      kind: "retry",
      delaySeconds: 240,
      nextAttemptAt: new Date(NOW.getTime() + 240_000),
    });
    const high = decide(2, status(500), () => ALMOST_ONE);
    expect(high).toMatchObject({ kind: "retry", delaySeconds: 360 });
  });

  it("honours Retry-After on 429 and 503, clamped against the jittered delay", () => {
    expect(decide(2, status(429, "450"))).toMatchObject({ delaySeconds: 450 });
    expect(decide(2, status(503, "1"))).toMatchObject({ delaySeconds: 300 });
    expect(decide(2, status(503, "86400"))).toMatchObject({ delaySeconds: 600 });
    // Clamped against the jittered delay, not the nominal one.
    expect(decide(2, status(429, "1"), () => 0)).toMatchObject({ delaySeconds: 240 });
    expect(decide(2, status(429, "86400"), () => 0)).toMatchObject({ delaySeconds: 480 });
  });

  it("honours an HTTP-date Retry-After", () => {
    expect(decide(2, status(503, "Fri, 20 Nov 2026 09:07:30 GMT"))).toEqual({
      kind: "retry",
      delaySeconds: 450,
      nextAttemptAt: new Date("2026-11-20T09:07:30.000Z"),
    });
  });

  it("ignores Retry-After on other statuses and when it is garbage", () => {
    expect(decide(2, status(500, "450"))).toMatchObject({ delaySeconds: 300 });
    expect(decide(2, status(302, "450"))).toMatchObject({ delaySeconds: 300 });
    expect(decide(2, status(429, "later"))).toMatchObject({ delaySeconds: 300 });
  });

  it("is dead after the last attempt, and beyond it", () => {
    expect(decide(7, status(500)).kind).toBe("retry");
    expect(decide(8, status(500))).toEqual({ kind: "dead" });
    expect(decide(8, { error: "ECONNREFUSED" })).toEqual({ kind: "dead" });
    expect(decide(9, status(503, "5"))).toEqual({ kind: "dead" });
    expect(decide(100, status(500))).toEqual({ kind: "dead" });
  });

  it("is dead on the first failure with an empty schedule", () => {
    expect(
      decideAfterAttempt({ attempt: 1, outcome: status(500), schedule: [], jitter: 0.2, now: NOW }),
    ).toEqual({
      kind: "dead",
    });
  });

  it.each([0, -1, 1.5, Number.NaN])("rejects attempt %s", (attempt) => {
    expect(() => decide(attempt, status(500))).toThrow(RangeError);
  });
});

describe("autoDisableDue", () => {
  const windowSeconds = 5 * 24 * 3600;
  const since = new Date("2026-11-15T09:00:00.000Z");

  it("is due once the whole window has been failing, not a millisecond before", () => {
    expect(autoDisableDue(since, new Date(since.getTime() + windowSeconds * 1000 - 1), windowSeconds)).toBe(
      false,
    );
    expect(autoDisableDue(since, new Date(since.getTime() + windowSeconds * 1000), windowSeconds)).toBe(true);
    expect(autoDisableDue(since, new Date(since.getTime() + windowSeconds * 2000), windowSeconds)).toBe(true);
  });

  it("is never due when not failing", () => {
    expect(autoDisableDue(null, NOW, windowSeconds)).toBe(false);
  });
});

// Survivors of a mutation run (docs/benchmarks.md, "Mutation testing"), each pinned by what it changes.
// Those left are equivalent: `wholeLow < wholeHigh` for `<=` (a range holding exactly one whole second
// has the rounded base as that second), `parts.day` untrimmed (Number() trims), an hour over 23 not
// refused (it rolls the date over, which the day check refuses), the `""` and `at === null` early
// returns (the next step answers null too), `retryAfter !== null` forced true (clamping null keeps the
// delay), and the destructuring defaults of the date forms (a match always fills its groups).
describe("what a mutation run found unguarded", () => {
  it("accepts a jitter of exactly 1 and names what is wrong with a bad delay, jitter or attempt", () => {
    expect(jitteredDelaySeconds(10, 1, () => 0.5)).toBe(10);
    expect(() => jitteredDelaySeconds(-1, 0.2)).toThrow(/non-negative number of seconds, got -1/);
    expect(() => jitteredDelaySeconds(10, 1.5)).toThrow(/jitter must be between 0 and 1, got 1.5/);
    expect(() => decide(0, status(500))).toThrow(/whole number from 1, got 0/);
  });

  it("falls back to the rounded delay when no whole second lies within the jittered range", () => {
    // 10.5 × [0.99, 1.01] = [10.395, 10.605]: no whole second inside; the delay is 10.5 rounded.
    for (const draw of [0, 0.5, ALMOST_ONE]) expect(jitteredDelaySeconds(10.5, 0.01, () => draw)).toBe(11);
  });

  it("reads the last minute, second and hour of a day, January, and a date that is now", () => {
    expect(parseRetryAfter("Fri, 20 Nov 2026 09:59:00 GMT", NOW)).toBe(59 * 60);
    expect(parseRetryAfter("Fri, 20 Nov 2026 09:00:59 GMT", NOW)).toBe(59);
    expect(parseRetryAfter("Fri, 20 Nov 2026 23:00:00 GMT", NOW)).toBe(14 * 3600);
    expect(parseRetryAfter("Fri, 01 Jan 2027 09:00:00 GMT", NOW)).toBe(42 * 86_400);
    expect(parseRetryAfter("Fri, 20 Nov 2026 09:00:00 GMT", NOW)).toBe(0);
  });

  it.each([
    "Fri, 20 Nov 2026 09:60:00 GMT", // minute 60 would roll into the next hour, same day
    "Fri, 20 Nov 2026 09:02:60 GMT", // second 60 likewise
    "Sun, 31 Feb 2027 09:02:00 GMT", // a future day that does not exist (rolls into March)
  ])("is null for the out-of-range %j, even when it would roll over into a future date", (header) => {
    expect(parseRetryAfter(header, NOW)).toBeNull();
  });

  it("puts a two-digit RFC 850 year more than 50 years ahead in the past century (RFC 9110)", () => {
    // 2026 + 50 = 2076: '76' is 2076, '80' is 1980 (in the past: no wait).
    expect(parseRetryAfter("Friday, 20-Nov-76 09:00:00 GMT", NOW)).toBe(
      (Date.UTC(2076, 10, 20, 9) - NOW.getTime()) / 1000,
    );
    expect(parseRetryAfter("Wednesday, 20-Nov-80 09:00:00 GMT", NOW)).toBeNull();
  });

  it("ends the legacy profile's chain on an invalid destination, and retries its other transport errors", () => {
    const legacy = (outcome: AttemptOutcome) =>
      decideAfterAttempt({ attempt: 1, outcome, schedule, jitter: 0, now: NOW, profile: "legacy" }).kind;
    expect(legacy({ error: "invalid_destination" })).toBe("rejected");
    expect(legacy({ error: "timeout" })).toBe("retry");
    expect(legacy(status(503))).toBe("retry");
    expect(legacy(status(404))).toBe("rejected");
  });
});
