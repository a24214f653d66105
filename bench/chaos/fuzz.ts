import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { EVENT_CATALOGUE } from "#shared/domain/events/catalogue.ts";
import { UUID_PATTERN } from "#shared/domain/ids.ts";
import { createRandom } from "./random.ts";

/**
 * The fuzz stage's events: fast-check-generated EventBridge entries — catalogue and non-catalogue
 * types, good and bad customer ids, odd Unicode, deep and huge payloads — with what the router must
 * do with each, decided by this module's own reading of PRODUCT §2 (not by the router's parser).
 */

const CATALOGUE_TYPES: ReadonlySet<string> = new Set(EVENT_CATALOGUE.map((e) => e.type as string));
/** EventBridge's limit on the entries of one PutEvents request (the local bus enforces it too). */
export const MAX_ENTRY_BYTES = 256 * 1024;

export type FuzzExpectation =
  | { readonly outcome: "delivered"; readonly type: string; readonly data: unknown }
  | { readonly outcome: "unroutable"; readonly reason: string }
  | { readonly outcome: "rejected_by_bus" };

export interface FuzzCase {
  readonly key: string;
  readonly kind: string;
  readonly entry: { readonly Source: string; readonly DetailType: string; readonly Detail: string };
  readonly expect: FuzzExpectation;
}

/**
 * The documented depth limit (docs/decisions.md, "too_deep"): a detail nesting deeper than this is
 * unroutable, whatever else is wrong with it. Stated here on its own, not imported from the router.
 */
export const DOCUMENTED_MAX_DETAIL_DEPTH = 64;

/** Nesting depth of a parsed JSON value ({} or [] is 1), measured without recursion. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== "object" || node === null) continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * PRODUCT §2: too deep to handle first, then unknown type, then a detail that is not an object,
 * then a bad customer id, then bad data.
 */
export function expectedRouting(detailType: string, detail: unknown): FuzzExpectation {
  if (jsonDepth(detail) > DOCUMENTED_MAX_DETAIL_DEPTH) return { outcome: "unroutable", reason: "too_deep" };
  if (!CATALOGUE_TYPES.has(detailType)) return { outcome: "unroutable", reason: "unknown_event_type" };
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) {
    return { outcome: "unroutable", reason: "invalid_detail" };
  }
  const { customer_id: customerId, data } = detail as { customer_id?: unknown; data?: unknown };
  if (typeof customerId !== "string" || !UUID_PATTERN.test(customerId)) {
    return { outcome: "unroutable", reason: "invalid_customer_id" };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { outcome: "unroutable", reason: "invalid_detail" };
  }
  return { outcome: "delivered", type: detailType, data };
}

const ODD_STRINGS = [
  "\u0000",
  "\ud800",
  "lone \udfff surrogate",
  "\u2028\u2029",
  "\u202eevil\u202c",
  "\ufeffbom",
  "👩‍👩‍👧‍👦",
  "e\u0301\u0302\u0303",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "日本語のテキスト",
  '"quoted" \\ back\\slash',
  "</script><script>alert(1)</script>",
];

const oddString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.constantFrom(...ODD_STRINGS),
);

const jsonLeaf = fc.oneof(
  oddString,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

const smallData = fc.dictionary(oddString, fc.oneof(jsonLeaf, fc.array(jsonLeaf, { maxLength: 4 })), {
  maxKeys: 8,
});

function deep(depth: number, leaf: unknown): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { nested: value } : [value];
  return value;
}

const badCustomerIds: unknown[] = [
  "not-a-uuid",
  "",
  "5e4a0680-804e-11ec-8477-2fea5968d85",
  "5e4a0680-804e-11ec-8477-2fea5968d85bb",
  "５e4a0680-804e-11ec-8477-2fea5968d85b",
  "5e4a0680804e11ec84772fea5968d85b",
  "5e4a0680-804e-11ec-8477-2fea5968d85b\n",
  " 5e4a0680-804e-11ec-8477-2fea5968d85b",
  42,
  null,
  ["5e4a0680-804e-11ec-8477-2fea5968d85b"],
  { id: "5e4a0680-804e-11ec-8477-2fea5968d85b" },
];

const badTypes = fc.oneof(
  oddString.filter((s) => s.length > 0 && !CATALOGUE_TYPES.has(s)),
  fc.constantFrom(
    "CALL_HANGUP",
    "call_hangup ",
    " call_hangup",
    "call_*",
    "*",
    "call_hangup\u0000",
    "cаll_hangup",
  ),
);

/**
 * `count` cases drawn by fast-check from `seed`, for a customer who has a `*` subscription. Each
 * case's `key` is put at data.chaos_key (where data is an object) and at detail.fuzz_key.
 */
export function fuzzCases(count: number, seed: number, customerId: string): FuzzCase[] {
  const random = createRandom(seed);
  const types = [...CATALOGUE_TYPES];
  const kinds = fc.constantFrom(
    "valid",
    "valid",
    "valid_upper_case_customer",
    "bad_type",
    "bad_customer_id",
    "missing_customer_id",
    "data_not_object",
    "missing_data",
    "deep",
    "very_deep",
    "wide",
    "huge",
    "too_big_for_the_bus",
    "proto_keys",
  );
  const samples = fc.sample(fc.tuple(kinds, smallData, badTypes, fc.integer({ min: 0, max: 1_000_000 })), {
    numRuns: count,
    seed,
  });
  return samples.map(([kind, generated, badType, n], i) => {
    const key = `f${i}`;
    let type = types[n % types.length] as string;
    let customer: unknown = customerId;
    let data: unknown = { ...generated, chaos_key: key };
    switch (kind) {
      case "valid_upper_case_customer":
        customer = customerId.toUpperCase();
        break;
      case "bad_type":
        type = badType;
        break;
      case "bad_customer_id":
        customer = badCustomerIds[n % badCustomerIds.length];
        break;
      case "missing_customer_id":
        customer = undefined;
        break;
      case "data_not_object":
        data = [null, "a string", 12, [1, 2, 3], true][n % 5];
        break;
      case "missing_data":
        data = undefined;
        break;
      case "deep":
        // Around the limit: data's own value sits two levels below detail.
        data = { chaos_key: key, deep: deep(50 + (n % 30), random.pick(ODD_STRINGS)) };
        break;
      case "very_deep":
        // Written as text below: JSON.stringify cannot serialise what is this deep.
        data = { chaos_key: key };
        break;
      case "wide":
        data = Object.fromEntries([
          ["chaos_key", key],
          ...Array.from({ length: 2000 + (n % 8000) }, (_, j) => [`k${j}`, j % 3 === 0 ? [j] : j]),
        ]);
        break;
      case "huge":
        // Quotes and backslashes double in size each time the payload is embedded in JSON again.
        data = { chaos_key: key, blob: '"\\'.repeat(20_000 + (n % 30_000)), text: "x".repeat(60_000) };
        break;
      case "too_big_for_the_bus":
        data = { chaos_key: key, blob: "y".repeat(MAX_ENTRY_BYTES + 1000) };
        break;
      case "proto_keys":
        data = JSON.parse(
          `{"__proto__":{"polluted":true},"constructor":{"prototype":1},"chaos_key":"${key}"}`,
        );
        break;
    }
    const detail: Record<string, unknown> = { fuzz_key: key };
    if (customer !== undefined) detail.customer_id = customer;
    if (data !== undefined) detail.data = data;
    let detailJson = JSON.stringify(detail);
    if (kind === "very_deep") {
      // 2,000–20,000 levels (the reported crash was 5,000 levels in 10 KB), spliced in as text.
      const levels = 2000 + (n % 18_000);
      const tower = `${'{"d":['.repeat(levels)}1${"]}".repeat(levels)}`;
      detailJson = `${detailJson.slice(0, -2)},"deep":${tower}}}`;
    }
    const entry = { Source: "voipbin.chaos-fuzz", DetailType: type, Detail: detailJson };
    const bytes =
      Buffer.byteLength(entry.Source) + Buffer.byteLength(entry.DetailType) + Buffer.byteLength(detailJson);
    const expect: FuzzExpectation =
      bytes > MAX_ENTRY_BYTES || type.length === 0
        ? { outcome: "rejected_by_bus" }
        : expectedRouting(type, JSON.parse(detailJson));
    return { key, kind, entry, expect };
  });
}

/** A delivered body must be the envelope `{"type","data"}` with data exactly as put on the bus. */
export function bodyMatches(body: string, expect: { type: string; data: unknown }): boolean {
  try {
    const parsed = JSON.parse(body) as { type?: unknown; data?: unknown };
    return (
      Object.keys(parsed).join(",") === "type,data" &&
      parsed.type === expect.type &&
      isDeepStrictEqual(parsed.data, expect.data)
    );
  } catch {
    return false;
  }
}
