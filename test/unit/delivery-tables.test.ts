import { randomUUID } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { DeliveryTables, SPLIT_MARGIN_MS } from "#shared/adapters/dynamodb/delivery-tables.ts";
import { DependencyError } from "#shared/domain/errors.ts";
import { deriveDeliveryIds, deriveLegacyDeliveryIds } from "#shared/domain/ids.ts";

const DAY = 86_400_000;
const split = new Date("2026-12-08T03:00:00.000Z");
const idAt = (at: Date) => deriveDeliveryIds(randomUUID(), randomUUID(), at).deliveryId;
/** A client that answers DescribeTable with these answers in turn (an Error is thrown). */
function describing(...answers: (Date | Error)[]): { doc: DynamoDBDocumentClient; calls: () => number } {
  let calls = 0;
  const doc = {
    send: async () => {
      const answer = answers[Math.min(calls++, answers.length - 1)];
      if (answer instanceof Error) throw answer;
      return { Table: { CreationDateTime: answer } };
    },
  } as unknown as DynamoDBDocumentClient;
  return { doc, calls: () => calls };
}

describe("where delivery records are (the table split)", () => {
  it("writes layout 3 to the deliveries table, layouts 1 and 2 where they are", () => {
    const tables = new DeliveryTables(describing(split).doc, "main", "deliveries", 30, split);
    expect(tables.isSplit).toBe(true);
    expect(tables.tableOf(idAt(new Date()))).toBe("deliveries");
    expect(tables.tableOf(deriveLegacyDeliveryIds(randomUUID(), randomUUID()).deliveryId)).toBe("main");
  });

  it("looks in the main table only for ids dated before the split and its margin", async () => {
    const tables = new DeliveryTables(describing(split).doc, "main", "deliveries", 30, split);
    expect(await tables.mayBeInMain(idAt(new Date(split.getTime() - 2 * DAY)))).toBe(true);
    expect(await tables.mayBeInMain(idAt(new Date(split.getTime() + SPLIT_MARGIN_MS - 1)))).toBe(true);
    expect(await tables.mayBeInMain(idAt(new Date(split.getTime() + SPLIT_MARGIN_MS)))).toBe(false);
    // Layout 1 and 2 records are read in the main table, not through the fallback.
    expect(await tables.mayBeInMain(deriveLegacyDeliveryIds(randomUUID(), randomUUID()).deliveryId)).toBe(
      false,
    );
  });

  it("keeps the fallback open until the last record of before the split has expired", async () => {
    const tables = new DeliveryTables(describing(split).doc, "main", "deliveries", 30, split);
    const closes = split.getTime() + SPLIT_MARGIN_MS + 31 * DAY;
    expect(await tables.fallbackOpen(new Date(closes - 1))).toBe(true);
    expect(await tables.fallbackOpen(new Date(closes))).toBe(false);
  });

  it("has no fallback with one table", async () => {
    const tables = DeliveryTables.single(describing(split).doc, "one");
    expect(tables.isSplit).toBe(false);
    expect(tables.tableOf(idAt(new Date(0)))).toBe("one");
    expect(await tables.mayBeInMain(idAt(new Date(0)))).toBe(false);
    expect(await tables.fallbackOpen(new Date())).toBe(false);
  });

  it("asks DescribeTable once, and again after a failure, which it reports as a DependencyError", async () => {
    const { doc, calls } = describing(new Error("Rate exceeded"), split);
    const tables = new DeliveryTables(doc, "main", "deliveries");
    const old = idAt(new Date(split.getTime() - DAY));
    await expect(tables.mayBeInMain(old)).rejects.toBeInstanceOf(DependencyError);
    expect(await tables.mayBeInMain(old)).toBe(true);
    expect(await tables.splitAt()).toEqual(split);
    expect(calls()).toBe(2);
  });
});
