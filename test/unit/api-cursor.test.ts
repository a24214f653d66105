/**
 * Pagination cursors as an API client meets them (shared/api/cursor.ts): a cursor a list returned
 * brings the next page of that list only, and anything else is a 400 naming `cursor`. Written for
 * the mutation run over shared/ (docs/benchmarks.md, "Mutation testing"); the API integration tests
 * page through real lists.
 */
import { describe, expect, it } from "vitest";
import {
  decodeActiveflowDestinationsCursor,
  decodeDeliveriesCursor,
  decodeSubscriptionsCursor,
  encodeActiveflowDestinationsCursor,
  encodeDeliveriesCursor,
  encodeSubscriptionsCursor,
} from "#shared/api/cursor.ts";
import type { ApiError } from "#shared/api/errors.ts";

const CUSTOMER = "5e4a0680-804e-11ec-8477-2fea5968d85b";
const OTHER = "6e4a0680-804e-11ec-8477-2fea5968d85b";
const ITEM = "0196f1a2-0000-7000-8000-000000000001";

function answerTo(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return (error as ApiError).toBody();
  }
  throw new Error("expected a 400");
}
const notACursor = {
  error: {
    code: "VALIDATION_FAILED",
    message: "The request is not valid; see details.",
    details: [{ path: "cursor", message: "is not a cursor this list returned" }],
  },
};
const anotherList = {
  error: { ...notACursor.error, details: [{ path: "cursor", message: "belongs to another list" }] },
};
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

describe("pagination cursors", () => {
  it("bring back the position they were issued for, to the list they were issued for", () => {
    expect(decodeSubscriptionsCursor(encodeSubscriptionsCursor(CUSTOMER, ITEM), CUSTOMER)).toBe(ITEM);
    expect(
      decodeActiveflowDestinationsCursor(encodeActiveflowDestinationsCursor(CUSTOMER, ITEM), CUSTOMER),
    ).toBe(ITEM);
    const position = { created_at: "2026-12-01T00:00:00.000Z", id: ITEM };
    expect(decodeDeliveriesCursor(encodeDeliveriesCursor(CUSTOMER, position), CUSTOMER)).toEqual(position);
    expect(encodeSubscriptionsCursor(CUSTOMER, ITEM)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it("refuse a cursor of another customer's or subscription's list", () => {
    expect(
      answerTo(() => decodeSubscriptionsCursor(encodeSubscriptionsCursor(OTHER, ITEM), CUSTOMER)),
    ).toEqual(anotherList);
    expect(
      answerTo(() =>
        decodeActiveflowDestinationsCursor(encodeActiveflowDestinationsCursor(OTHER, ITEM), CUSTOMER),
      ),
    ).toEqual(anotherList);
    const position = { created_at: "2026-12-01T00:00:00.000Z", id: ITEM };
    expect(answerTo(() => decodeDeliveriesCursor(encodeDeliveriesCursor(OTHER, position), CUSTOMER))).toEqual(
      anotherList,
    );
  });

  it("refuse a cursor of another kind of list, garbage, and anything edited out of shape", () => {
    const subscriptions = encodeSubscriptionsCursor(CUSTOMER, ITEM);
    for (const cursor of [
      encodeActiveflowDestinationsCursor(CUSTOMER, ITEM),
      "not a cursor!",
      "A".repeat(513),
      `${subscriptions}=`,
      b64("text"),
      "eyJ2IjoxLCJj",
      b64({ v: 2, c: CUSTOMER, after: ITEM }),
      b64({ v: 1, c: CUSTOMER, after: ITEM.toUpperCase() }),
      b64({ v: 1, c: CUSTOMER, after: ITEM, extra: 1 }),
    ]) {
      expect(
        answerTo(() => decodeSubscriptionsCursor(cursor, CUSTOMER)),
        cursor.slice(0, 30),
      ).toEqual(notACursor);
    }
    expect(answerTo(() => decodeActiveflowDestinationsCursor(subscriptions, CUSTOMER))).toEqual(notACursor);
    for (const at of ["2026-12-01T00:00:00Z", "x2026-12-01T00:00:00.000Z", "2026-12-01T00:00:00.000Zx"]) {
      expect(
        answerTo(() => decodeDeliveriesCursor(b64({ v: 1, s: CUSTOMER, at, id: ITEM }), CUSTOMER)),
        at,
      ).toEqual(notACursor);
    }
  });
});
