/**
 * The JSON helpers every parked message, log line and queued job passes through
 * (shared/domain/json.ts), checked on the text they produce. Written for the mutation run over
 * shared/ (docs/benchmarks.md, "Mutation testing"); routing.test.ts has the deep-event cases.
 *
 * Equivalent mutants a run reports in json.ts, and why no test can tell them apart:
 * - nestsDeeperThan's child check (`typeof child === "object" && child !== null`) forced true or
 *   turned into `||`: a scalar child pushed on the stack is skipped by the check at the top of the
 *   loop, so the answer is the same.
 * - depthBoundedReplacer's `typeof this === "object" && this !== null`: JSON.stringify always calls
 *   a replacer with the holder object as `this` (the root's holder is `{"": value}`), never a scalar.
 * - cutBelowDepth's `writable`/`configurable` of the copied properties: the copy is only ever
 *   serialised or logged, which reads enumerable values alone.
 */
import { describe, expect, it } from "vitest";
import {
  cutBelowDepth,
  DEPTH_CUT_MARKER,
  depthBoundedReplacer,
  nestsDeeperThan,
  sqsSafeJson,
} from "#shared/domain/json.ts";

describe("JSON an SQS message body may carry", () => {
  it("escapes astral characters as their surrogate pair and U+FFFE/U+FFFF, parsing back the same", () => {
    const value = { sms: "hi 😀", odd: "\uFFFE\uFFFF", plain: "é☎" };
    const text = sqsSafeJson(value);
    expect(text).toBe('{"sms":"hi \\ud83d\\ude00","odd":"\\ufffe\\uffff","plain":"é☎"}');
    expect(JSON.parse(text)).toEqual(value);
  });
});

describe("depth bounds", () => {
  it("measures nesting without counting scalars as a level", () => {
    expect(nestsDeeperThan(5, 0)).toBe(false);
    expect(nestsDeeperThan(null, 0)).toBe(false);
    expect(nestsDeeperThan("text", 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({ a: [1, null, "x"] }, 2)).toBe(false);
    expect(nestsDeeperThan({ a: [1, { b: null }] }, 2)).toBe(true);
  });

  it("cuts objects and arrays below the limit, keeping arrays arrays and scalars as they are", () => {
    expect(cutBelowDepth(null, 0)).toBeNull();
    expect(cutBelowDepth(7, 0)).toBe(7);
    expect(cutBelowDepth({ a: { b: { c: 1 } }, n: null }, 2)).toEqual({
      a: { b: DEPTH_CUT_MARKER },
      n: null,
    });
    const cutArray = cutBelowDepth([[1, [2]], 3], 2);
    expect(JSON.stringify(cutArray)).toBe(`[[1,"${DEPTH_CUT_MARKER}"],3]`);
    const error = new Error("kept");
    expect(cutBelowDepth({ error }, 1)).toEqual({ error });
  });

  it("writes the marker for containers below the limit while stringifying scalars and nulls as usual", () => {
    const text = JSON.stringify({ a: { b: { c: 1 } }, n: null, s: "x", k: 2 }, depthBoundedReplacer(2));
    expect(text).toBe(`{"a":{"b":"${DEPTH_CUT_MARKER}"},"n":null,"s":"x","k":2}`);
    expect(JSON.stringify([null, [1]], depthBoundedReplacer(1))).toBe(`[null,"${DEPTH_CUT_MARKER}"]`);
  });
});
