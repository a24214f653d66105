import { describe, expect, it } from "vitest";
import { FILTER_LIMITS, filterProblems, matchesFilter } from "#shared/domain/subscriptions/filter.ts";
import { subscriptionMatches } from "#shared/domain/subscriptions/subscription.ts";
import { createSubscriptionSchema } from "#shared/domain/subscriptions/validation.ts";

const data = {
  id: "5e4a0680-804e-11ec-8477-2fea5968d85b",
  status: "hangup",
  duration: 42,
  direction: "outgoing",
  hangup_reason: "normal",
  source: { type: "tel", target: "+821012345678" },
  destinations: [{ type: "tel", target: "+15551234567" }],
  tags: ["vip", "sales"],
  recording_id: null,
  tm_create: "2026-11-20 09:17:41.123456",
  flags: { recorded: true },
};

describe("matchesFilter: each operator", () => {
  // [filter, expected]
  const cases: [string, unknown, boolean][] = [
    ["bare value is $eq", { status: "hangup" }, true],
    ["bare value, other value", { status: "progressing" }, false],
    ["bare value on a missing field", { nope: "hangup" }, false],
    ["bare null equals null", { recording_id: null }, true],
    ["bare null does not equal a missing field", { nope: null }, false],
    ["bare object equals by value", { source: { type: "tel", target: "+821012345678" } }, true],
    ["bare object, key order irrelevant", { source: { target: "+821012345678", type: "tel" } }, true],
    ["bare object with one key more does not equal", { source: { type: "tel" } }, false],
    ["dotted nested field", { "source.type": "tel" }, true],
    ["array index in the path", { "destinations.0.target": "+15551234567" }, true],
    ["array index past the end", { "destinations.3.target": { $exist: true } }, false],
    ["non-numeric segment on an array", { "destinations.x": { $exist: true } }, false],
    ["path through a scalar", { "status.length": { $exist: true } }, false],
    ["prototype names are not fields", { constructor: { $exist: true } }, false],
    ["prototype names under a dotted path", { "source.toString": { $exist: true } }, false],
    ["$eq number", { duration: { $eq: 42 } }, true],
    ["$eq type mismatch: 42 vs '42'", { duration: { $eq: "42" } }, false],
    ["$eq array by value", { tags: { $eq: ["vip", "sales"] } }, true],
    ["$eq array order matters", { tags: { $eq: ["sales", "vip"] } }, false],
    ["$neq other value", { status: { $neq: "progressing" } }, true],
    ["$neq same value", { status: { $neq: "hangup" } }, false],
    ["$neq on a missing field matches", { nope: { $neq: "x" } }, true],
    ["$gt true", { duration: { $gt: 41 } }, true],
    ["$gt equal is false", { duration: { $gt: 42 } }, false],
    ["$gte equal", { duration: { $gte: 42 } }, true],
    ["$lt true", { duration: { $lt: 43 } }, true],
    ["$lt false", { duration: { $lt: 42 } }, false],
    ["$lte equal", { duration: { $lte: 42 } }, true],
    ["$gt string vs number does not compare", { status: { $gt: 1 } }, false],
    ["$lt number vs string does not compare", { duration: { $lt: "zzz" } }, false],
    ["$gte on a missing field", { nope: { $gte: 0 } }, false],
    ["$lt null does not compare", { recording_id: { $lt: 5 } }, false],
    ["$gte strings compare as text (times)", { tm_create: { $gte: "2026-11-20" } }, true],
    ["$lt strings compare as text", { tm_create: { $lt: "2026-11-20" } }, false],
    ["$in scalar", { direction: { $in: ["incoming", "outgoing"] } }, true],
    ["$in scalar absent", { direction: { $in: ["incoming"] } }, false],
    ["$in array field shares an element", { tags: { $in: ["sales", "x"] } }, true],
    ["$in array field shares nothing", { tags: { $in: ["x"] } }, false],
    ["$in on a missing field", { nope: { $in: ["x", null] } }, false],
    ["$in type mismatch", { duration: { $in: ["42"] } }, false],
    ["$nin not in the list", { direction: { $nin: ["incoming"] } }, true],
    ["$nin in the list", { direction: { $nin: ["outgoing"] } }, false],
    ["$nin array field with a shared element", { tags: { $nin: ["vip"] } }, false],
    ["$nin on a missing field matches", { nope: { $nin: ["x"] } }, true],
    ["$startsWith", { "source.target": { $startsWith: "+8210" } }, true],
    ["$startsWith no", { "source.target": { $startsWith: "+1" } }, false],
    ["$startsWith on a number", { duration: { $startsWith: "4" } }, false],
    ["$endsWith", { "source.target": { $endsWith: "5678" } }, true],
    ["$endsWith no", { "source.target": { $endsWith: "0000" } }, false],
    ["$endsWith on an array", { tags: { $endsWith: "s" } }, false],
    ["$exist true on a present field", { recording_id: { $exist: true } }, true],
    ["$exist true on a missing field", { nope: { $exist: true } }, false],
    ["$exist false on a missing field", { nope: { $exist: false } }, true],
    ["$exist false on a present null field", { recording_id: { $exist: false } }, false],
    ["several operators are all required", { duration: { $gt: 10, $lt: 40 } }, false],
    ["several operators, all true", { duration: { $gt: 10, $lt: 50 } }, true],
    ["several fields are all required", { status: "hangup", direction: "incoming" }, false],
    ["$and all true", { $and: [{ status: "hangup" }, { duration: { $gte: 30 } }] }, true],
    ["$and one false", { $and: [{ status: "hangup" }, { duration: { $gte: 60 } }] }, false],
    ["$or one true", { $or: [{ status: "x" }, { "flags.recorded": true }] }, true],
    ["$or none true", { $or: [{ status: "x" }, { "flags.recorded": false }] }, false],
    ["$not of a false filter", { $not: { status: "x" } }, true],
    ["$not of a true filter", { $not: { status: "hangup" } }, false],
    ["$not of a missing field", { $not: { nope: { $exist: true } } }, true],
    [
      "nested logic",
      { $or: [{ $and: [{ status: "hangup" }, { $not: { hangup_reason: "busy" } }] }, { duration: 0 }] },
      true,
    ],
    ["field beside $and", { status: "hangup", $and: [{ duration: { $gt: 100 } }] }, false],
  ];
  it.each(cases)("%s", (_name, filter, expected) => {
    expect(filterProblems(filter)).toEqual([]); // every case is a valid filter
    expect(matchesFilter(filter, data)).toBe(expected);
  });
});

describe("matchesFilter never throws", () => {
  const filters: unknown[] = [
    { status: "hangup" },
    { $bogus: 1 },
    { status: { $bogus: 1 } },
    { $and: "x" },
    { $or: [1, null] },
    { $not: [1] },
    { duration: { $in: "abc" } },
    { duration: { $nin: 3 } },
    null,
    [],
    "x",
    { "a.b": { $gt: {} } },
  ];
  const datas: unknown[] = [
    data,
    null,
    undefined,
    5,
    "s",
    [],
    [1, 2],
    { a: { b: [null] } },
    Object.create(null),
  ];
  it("returns a boolean for every pair, and an invalid filter matches nothing", () => {
    for (const filter of filters) {
      for (const d of datas) expect(typeof matchesFilter(filter, d)).toBe("boolean");
    }
    expect(matchesFilter({ $bogus: 1 }, data)).toBe(false);
    expect(matchesFilter({ status: { $bogus: 1 } }, data)).toBe(false);
    expect(matchesFilter({ $and: "x" }, data)).toBe(false);
    // Not widened by negation: an invalid part anywhere makes the whole filter match nothing.
    expect(matchesFilter({ $not: { $bogus: 1 } }, data)).toBe(false);
    expect(matchesFilter({ $not: { status: { $bogus: 1 } } }, data)).toBe(false);
    expect(matchesFilter({ $not: { nope: { $exist: "yes" } } }, data)).toBe(false);
    expect(matchesFilter({ $or: [{ status: "hangup" }, { status: { $gt: {} } }] }, data)).toBe(false);
    expect(matchesFilter({ $not: { status: "x", other: { $in: "abc" } } }, data)).toBe(false);
    expect(matchesFilter({}, data)).toBe(false);
    expect(matchesFilter({ $unreadable: true }, data)).toBe(false);
  });
});

describe("filterProblems lists every problem with its path", () => {
  it("accepts a valid filter", () => {
    expect(filterProblems({ status: "hangup", duration: { $gte: 30 } })).toEqual([]);
  });

  it("lists unknown operators, wrong operands and misplaced operators at once", () => {
    const problems = filterProblems({
      status: { $like: "h%" },
      duration: { $gt: true, $in: [] },
      "source.target": { $startsWith: 5 },
      recording_id: { $exist: "yes" },
      tags: { $nin: [{ a: 1 }] },
      $gt: 5,
      $and: [{ x: { $eq: 1 } }, 7, {}],
      $or: [],
      $not: { y: { $and: [] } },
      "a..b": 1,
      mixed: { $eq: 1, plain: 2 },
    });
    const byPath = Object.fromEntries(problems.map((p) => [p.path.join("/"), p.message]));
    expect(byPath).toEqual({
      "status/$like": expect.stringContaining("unknown operator"),
      "duration/$gt": "must be a number or a string (strings compare as text, e.g. RFC 3339 times)",
      "duration/$in": "must be a non-empty array of values",
      "source.target/$startsWith": "must be a string",
      "recording_id/$exist": "must be true or false",
      "tags/$nin": "must list strings, numbers, booleans or null",
      $gt: expect.stringContaining("applies to a field"),
      "$and/1": "must be an object (a filter)",
      "$and/2": "must have at least one condition",
      $or: "must be a non-empty array of filters",
      "$not/y/$and": expect.stringContaining("combines filters"),
      "a..b": expect.stringContaining("no empty segment"),
      "mixed/plain": expect.stringContaining("mixes a field name"),
    });
    expect(problems).toHaveLength(13);
  });

  it("refuses a non-object and an empty filter", () => {
    expect(filterProblems([])).toEqual([{ path: [], message: expect.stringContaining("JSON object") }]);
    expect(filterProblems("x")).toHaveLength(1);
    expect(filterProblems({})).toEqual([{ path: [], message: "must have at least one condition" }]);
  });

  it("enforces the depth limit (the filter itself is level 1)", () => {
    let filter: Record<string, unknown> = { a: 1 };
    for (let level = 1; level < FILTER_LIMITS.maxDepth; level++) filter = { $not: filter };
    expect(filterProblems(filter)).toEqual([]);
    expect(filterProblems({ $not: filter })).toEqual([
      { path: [], message: expect.stringContaining(`6 levels deep; at most ${FILTER_LIMITS.maxDepth}`) },
    ]);
  });

  it("enforces the clause limit, counting each operator and bare value", () => {
    const atLimit = Object.fromEntries(
      Array.from({ length: FILTER_LIMITS.maxClauses }, (_, i) => [`f${i}`, i]),
    );
    expect(filterProblems(atLimit)).toEqual([]);
    const over = { ...atLimit, extra: { $gt: 1, $lt: 5 } };
    expect(filterProblems(over)).toEqual([
      {
        path: [],
        message: `has ${FILTER_LIMITS.maxClauses + 2} conditions; at most ${FILTER_LIMITS.maxClauses}`,
      },
    ]);
  });

  it("enforces the byte limit in UTF-8 bytes", () => {
    const value = "한".repeat(1400); // 4200 bytes in UTF-8, 1400 characters
    const problems = filterProblems({ note: value });
    expect(problems).toEqual([
      { path: [], message: expect.stringContaining(`at most ${FILTER_LIMITS.maxBytes} bytes`) },
    ]);
    expect(filterProblems({ note: "a".repeat(4000) })).toEqual([]);
  });

  it("reports both the depth and the clause limit with other problems", () => {
    let filter: Record<string, unknown> = { a: { $oops: 1 } };
    for (let level = 0; level < FILTER_LIMITS.maxDepth; level++) filter = { $not: filter };
    const problems = filterProblems(filter);
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringContaining("unknown operator"),
      expect.stringContaining("levels deep"),
    ]);
  });
});

describe("the API schema carries the filter's problems with their paths", () => {
  it("prefixes each problem with `filter`", () => {
    const result = createSubscriptionSchema.safeParse({
      url: "https://example.com/hook",
      event_types: ["call_hangup"],
      filter: { status: { $like: "x" }, duration: { $gt: [] } },
    });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((issue) => issue.path.join(".")).sort();
    expect(paths).toEqual(["filter.duration.$gt", "filter.status.$like"]);
  });
});

describe("subscriptionMatches applies the filter after the type", () => {
  const sub = {
    status: "enabled" as const,
    activeflow_id: null,
    event_types: ["call_*"],
    filter: { duration: { $gte: 30 } },
  };
  it("delivers only matching data", () => {
    expect(subscriptionMatches(sub, "call_hangup", { duration: 42 })).toBe(true);
    expect(subscriptionMatches(sub, "call_hangup", { duration: 3 })).toBe(false);
    expect(subscriptionMatches(sub, "message_created", { duration: 42 })).toBe(false);
    const { filter: _, ...unfiltered } = sub;
    expect(subscriptionMatches(unfiltered, "call_hangup", { duration: 3 })).toBe(true);
  });
});

/**
 * What a mutation run over shared/ found unguarded (docs/benchmarks.md, "Mutation testing"), each
 * case as the customer meets it: which events a filter lets through, and the 400's problems.
 *
 * Equivalent mutants it reports in filter.ts, and why no filter can tell them apart:
 * - `$eq`'s `value !== MISSING` and `$neq`'s `value === MISSING`, and `$in`'s early return for a
 *   missing field: deepEqual of the private MISSING symbol and any JSON value is false anyway.
 * - matchesCondition's `if (!operator.startsWith("$")) invalid()` (removed or emptied): a key without
 *   `$` falls through to testOperator's default, which is the same invalid().
 * - walkCondition's `operatorKeys` for a non-object condition: read only when the condition is one.
 * - deepEqual's depth bound (`depth > 64`, and `depth + 1` made `depth - 1`): it only stops a cycle;
 *   an event's data nests at most 63 levels (MAX_DETAIL_DEPTH), so the bound is never reached.
 * - `if (depth > deepest)` made `>=`: the same maximum.
 */
describe("payload filters: the edges a mutation run found unguarded", () => {
  const event = { ...data, code: "10", note: "", list: Array.from({ length: 12 }, (_, i) => i) };
  const nest = (levels: number, key: "$not" | "$and", inner: unknown): unknown => {
    let filter = inner;
    for (let i = 0; i < levels; i++) filter = key === "$not" ? { $not: filter } : { $and: [filter] };
    return filter;
  };

  it.each([
    ["an array index", { "tags.0": "vip" }, true],
    ["an index of two digits", { "list.10": 10 }, true],
    ["an index of one digit past 0", { "tags.1": "sales" }, true],
    ["an index with a leading zero is no index", { "tags.00": { $exist: false } }, true],
    ["an index with a trailing letter is no index", { "tags.1x": { $exist: false } }, true],
    ["an index with a leading letter is no index", { "tags.x1": { $exist: false } }, true],
    ["an index past the end is missing", { "tags.2": { $exist: false } }, true],
    ["a list equals a list of the same values only", { tags: { $eq: ["vip", "x"] } }, false],
    [
      "a list does not equal a list-like object",
      { tags: { $eq: { 0: "vip", 1: "sales", length: 2 } } },
      false,
    ],
    [
      "an object with one key more than the field's",
      { source: { type: "tel", target: "+821012345678", extra: 1 } },
      false,
    ],
    ["an object with the same keys and another value", { source: { type: "tel", target: "+1" } }, false],
    ["an empty string does not equal an empty object", { note: {} }, false],
    ["a numeric string does not order against a number", { code: { $gt: 5 } }, false],
    ["a number does not order against a string", { duration: { $gte: "a" } }, false],
    ["strings order as text: greater", { status: { $gt: "hangu" } }, true],
    ["strings order as text: not greater than itself", { status: { $gt: "hangup" } }, false],
    ["strings order as text: less", { status: { $lt: "i" } }, true],
    ["strings order as text: not less than itself", { status: { $lt: "hangup" } }, false],
    ["strings order as text: at least itself", { status: { $gte: "hangup" } }, true],
    ["strings order as text: at most itself", { status: { $lte: "hangup" } }, true],
    ["strings order as text: not at most a smaller one", { status: { $lte: "h" } }, false],
    ["numbers: at most a greater one", { duration: { $lte: 50 } }, true],
    ["a prefix must be a string", { id: { $startsWith: 5 } }, false],
    [
      "a number has no prefix (and that is no error under $not)",
      { $not: { duration: { $startsWith: "4" } } },
      true,
    ],
    [
      "a number has no suffix (and that is no error under $not)",
      { $not: { duration: { $endsWith: "2" } } },
      true,
    ],
    [
      "operators mixed with a field name are invalid, also under $not",
      { $not: { duration: { $eq: 42, x: 1 } } },
      false,
    ],
    ["an empty $and is invalid", { $and: [] }, false],
    ["an empty $or is invalid, also under $not", { $not: { $or: [] } }, false],
    ["a non-object inside $and is invalid, also under $not", { $not: { $and: ["x"] } }, false],
    ["four $not deep (level 5) is evaluated", nest(4, "$not", { status: "hangup" }), true],
    ["five $not deep (level 6) is invalid", nest(5, "$not", { status: "x" }), false],
    ["five $and deep (level 6) is invalid", nest(5, "$and", { status: "hangup" }), false],
  ] as const)("%s", (_label, filter, expected) => {
    expect(matchesFilter(filter, event)).toBe(expected);
  });

  it("names each problem a customer must fix, at the exact limits", () => {
    const fits = { a: "x".repeat(FILTER_LIMITS.maxBytes - 8) };
    expect(JSON.stringify(fits)).toHaveLength(FILTER_LIMITS.maxBytes);
    expect(filterProblems(fits)).toEqual([]);
    expect(filterProblems({ a: `${fits.a}x` })).toEqual([
      {
        path: [],
        message: `must be at most ${FILTER_LIMITS.maxBytes} bytes as JSON (is ${FILTER_LIMITS.maxBytes + 1})`,
      },
    ]);
    expect(filterProblems({ ["f".repeat(256)]: 1 })).toEqual([]);
    expect(filterProblems({ ["f".repeat(257)]: 1 })).toEqual([
      { path: ["f".repeat(257)], message: "field names must be at most 256 characters" },
    ]);
    expect(filterProblems({ $foo: 1 })).toEqual([
      {
        path: ["$foo"],
        message: expect.stringMatching(/^unknown operator; use one of \$eq, \$neq, .*\$and, \$or, \$not$/),
      },
    ]);
    expect(filterProblems({ tags: { $in: [null, "a", 1, true] } })).toEqual([]);
    expect(filterProblems({ tags: { $in: ["a", {}] } })).toEqual([
      { path: ["tags", "$in"], message: "must list strings, numbers, booleans or null" },
    ]);
    const hundred = Array.from({ length: FILTER_LIMITS.maxListEntries }, (_, i) => i);
    expect(filterProblems({ n: { $nin: hundred } })).toEqual([]);
    expect(filterProblems({ n: { $nin: [...hundred, 100] } })).toEqual([
      { path: ["n", "$nin"], message: `must list at most ${FILTER_LIMITS.maxListEntries} values` },
    ]);
  });

  it("reports how deep $and/$or/$not nest, whichever branch is deepest", () => {
    const tooDeep = `nests $and/$or/$not 6 levels deep; at most ${FILTER_LIMITS.maxDepth} (the filter itself is level 1)`;
    expect(filterProblems(nest(5, "$and", { a: 1 }))).toEqual([{ path: [], message: tooDeep }]);
    expect(filterProblems({ $or: [nest(4, "$and", { a: 1 }), { b: 1 }] })).toEqual([
      { path: [], message: tooDeep },
    ]);
    expect(filterProblems(nest(4, "$and", { a: 1 }))).toEqual([]);
  });
});
