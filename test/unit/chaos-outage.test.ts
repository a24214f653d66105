import { describe, expect, it } from "vitest";
import { attemptsWithinLoad } from "../../bench/chaos/outage.ts";

describe("chaos outage stage: the baseline's fan-out", () => {
  it("counts a failing event's attempts that fall within the load, on average", () => {
    // Quick sizes: the attempt and the 1 s retry fall within 12 s; the 10 s retries mostly after.
    expect(attemptsWithinLoad({ durationS: 12, retrySchedule: [1, 10, 10] })).toBe(2);
    // Full sizes: (60 + 58 + 38 + 18) / 60 = 2.9.
    expect(attemptsWithinLoad({ durationS: 60, retrySchedule: [2, 20, 20] })).toBe(3);
    // Every retry within a long load: the schedule's whole length.
    expect(attemptsWithinLoad({ durationS: 1_000, retrySchedule: [1, 1, 1] })).toBe(4);
    // Retries all after the load: the first attempt only.
    expect(attemptsWithinLoad({ durationS: 5, retrySchedule: [30] })).toBe(1);
  });
});
