import { describe, expect, it } from "vitest";
import { deliveryStorage } from "../../bench/e2e.ts";
import {
  type Item,
  indexCopy,
  itemSize,
  queriedItems,
  readUnits,
  requestUnits,
  snapshotOf,
  withoutSplitFallback,
  writeUnits,
} from "../../bench/lib/dynamo-units.ts";
import { ALTERNATIVES, computeCost, PRICE_TABLE, type UsageCounts } from "../../bench/lib/pricing.ts";

/** A BatchGetItem of these keys from one table, as the meter records it. */
function batchGet(consistentRead: boolean, keys: Item[]) {
  return {
    operation: "BatchGetItem",
    body: { RequestItems: { t: { ...(consistentRead ? { ConsistentRead: true } : {}), Keys: keys } } },
  };
}

describe("DynamoDB item sizes and units", () => {
  it("sizes items as DynamoDB bills them", () => {
    expect(itemSize({ PK: { S: "abc" } })).toBe(5); // name 2 + value 3
    expect(itemSize({ n: { N: "12345" } })).toBe(1 + 4); // 5 digits → 3 + 1
    expect(itemSize({ b: { BOOL: true }, z: { NULL: true } })).toBe(4);
    expect(itemSize({ l: { L: [{ S: "ab" }, { S: "c" }] } })).toBe(1 + 3 + (1 + 2) + (1 + 1));
    expect(itemSize({ m: { M: { k: { S: "v" } } } })).toBe(1 + 3 + 1 + 1 + 1);
    expect(itemSize({ s: { S: "é" } })).toBe(1 + 2);
  });

  it("rounds units up per KB written and per 4 KB read", () => {
    expect(writeUnits(1)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
    expect(readUnits(0, false)).toBe(0.5);
    expect(readUnits(4097, false)).toBe(1);
    expect(readUnits(4097, true)).toBe(2);
  });

  it("counts index writes, consistent batch reads (missing items too) and whole-result queries", () => {
    const big = "x".repeat(1500);
    const delivery: Item = {
      PK: { S: "DELIVERY#1" },
      SK: { S: "DELIVERY" },
      GSI1PK: { S: "S#1" },
      status: { S: big }, // projected into GSI1
      payload_z: { S: big }, // not projected
    };
    const sub = (id: string): Item => ({
      PK: { S: "CUSTOMER#c" },
      SK: { S: `SUBSCRIPTION#${id}` },
      u: { S: "y".repeat(1500) },
    });
    const table = snapshotOf([delivery, sub("a"), sub("b"), sub("c")]);
    const units = requestUnits(
      [
        { operation: "PutItem", body: { Item: delivery } }, // 3 KB → 3 WRU, + GSI1 (keys + status) 2 WRU
        {
          operation: "UpdateItem",
          body: {
            Key: { PK: { S: "DELIVERY#1" }, SK: { S: "DELIVERY" } },
            UpdateExpression: "SET #status = :s",
            ExpressionAttributeNames: { "#status": "status" },
          },
        }, // names a projected attribute: 3 + 2 WRU
        {
          operation: "UpdateItem",
          body: {
            Key: { PK: { S: "DELIVERY#1" }, SK: { S: "DELIVERY" } },
            UpdateExpression:
              "SET next_at = :n, att_n = if_not_exists(att_n, :zero) + :one REMOVE dead_reason",
          },
        }, // names nothing GSI1 holds: the table's 3 WRU only (DynamoDB writes no index copy)
        { operation: "UpdateItem", body: { Key: { PK: { S: "CUSTOMER#c" }, SK: { S: "SUBSCRIPTION#a" } } } }, // 2 WRU
        batchGet(true, [
          { PK: { S: "DELIVERY#1" }, SK: { S: "DELIVERY" } },
          { PK: { S: "DELIVERY#missing" }, SK: { S: "DELIVERY" } },
        ]), // 1 + 1 RRU
        {
          operation: "Query",
          body: {
            KeyConditionExpression: "PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues: { ":pk": { S: "CUSTOMER#c" }, ":sk": { S: "SUBSCRIPTION#" } },
          },
        }, // 3 × ~1.5 KB = 4.6 KB → 2 × 0.5 RRU
      ],
      table,
    );
    expect(units).toEqual({ wru: 15, rru: 3, indexWru: 4 });
  });

  it("breaks the read units down by what was read, so each read of the subtotal has a purpose", () => {
    const sub: Item = { PK: { S: "CUSTOMER#c" }, SK: { S: "SUBSCRIPTION#a" }, u: { S: "y".repeat(5000) } };
    const table = snapshotOf([sub]);
    const reads: Record<string, number> = {};
    const byTable: Record<string, { wru: number; rru: number }> = {};
    const { rru } = requestUnits(
      [
        batchGet(true, [
          { PK: { S: "CUSTOMER#c" }, SK: { S: "SUBSCRIPTION#a" } }, // 5 KB consistent: 2 RRU
          { PK: { S: "DELIVERY#d" }, SK: { S: "DELIVERY" } }, // missing: 1 RRU
          { PK: { S: "LOG#c#00ff#S1" }, SK: { S: "2026-12-01T10:00:00.001Z#a" } }, // 1 RRU
        ]),
        batchGet(false, [{ PK: { S: "ENDPOINT#e" }, SK: { S: "HEALTH" } }]), // missing, eventually consistent: 0.5 RRU
        {
          operation: "GetItem",
          body: { TableName: "main", Key: { PK: { S: "DELIVERY#d" }, SK: { S: "DELIVERY" } } },
        },
      ],
      table,
      reads,
      byTable,
    );
    expect(reads).toEqual({
      "BatchGetItem CUSTOMER/SUBSCRIPTION": 2,
      "BatchGetItem DELIVERY/DELIVERY": 1,
      "BatchGetItem LOG/*": 1,
      "BatchGetItem ENDPOINT/HEALTH": 0.5,
      "GetItem DELIVERY/DELIVERY": 0.5,
    });
    expect(rru).toBe(5);
    // By table: the BatchGetItems name theirs in RequestItems ("t"), the GetItem its TableName.
    expect(byTable).toEqual({ t: { wru: 0, rru: 4.5 }, main: { wru: 0, rru: 0.5 } });
  });
});

describe("the table split's transition reads", () => {
  it("are left out: delivery records asked of the main table, never its own items or the deliveries table's", () => {
    const sub = { PK: { S: "CUSTOMER#c" }, SK: { S: "SUBSCRIPTION#a" } };
    const head = { PK: { S: "LOG#c#00ff#S1" }, SK: { S: "2026-12-01T10:00:00.001Z#a" } };
    const steady = withoutSplitFallback(
      [
        {
          operation: "BatchGetItem",
          body: {
            RequestItems: { main: { ConsistentRead: true, Keys: [sub, head] }, deliveries: { Keys: [head] } },
          },
        },
        { operation: "BatchGetItem", body: { RequestItems: { main: { Keys: [head] } } } },
        {
          operation: "GetItem",
          body: { TableName: "main", Key: { PK: { S: "DELIVERY#d" }, SK: { S: "DELIVERY" } } },
        },
        { operation: "GetItem", body: { TableName: "deliveries", Key: head } },
        {
          operation: "Query",
          body: { TableName: "main", ExpressionAttributeValues: { ":pk": { S: "LOG#c#00ff#S1" } } },
        },
        {
          operation: "Query",
          body: { TableName: "main", ExpressionAttributeValues: { ":pk": { S: "CUSTOMER#c" } } },
        },
      ],
      "main",
    );
    expect(steady).toEqual([
      {
        operation: "BatchGetItem",
        body: { RequestItems: { deliveries: { Keys: [head] }, main: { ConsistentRead: true, Keys: [sub] } } },
      },
      { operation: "GetItem", body: { TableName: "deliveries", Key: head } },
      {
        operation: "Query",
        body: { TableName: "main", ExpressionAttributeValues: { ":pk": { S: "CUSTOMER#c" } } },
      },
    ]);
  });
});

describe("Query units follow the key condition and Limit (the layout-3 log is a table Query)", () => {
  const head = (sk: string, extra: Item = {}): Item => ({
    PK: { S: "LOG#c#00ff#S1" },
    SK: { S: sk },
    blob: { S: "h".repeat(1400) },
    ...extra,
  });
  const table = snapshotOf([
    head("2026-12-01T10:00:00.001Z#a"),
    head("2026-12-01T10:00:00.002Z#b"),
    head("2026-12-01T10:00:00.003Z#c"),
    head("2026-12-01T10:00:00.004Z#d"),
    // A layout-2 head: 4 KB in the table, its GSI1 copy small (keys and projected attributes only).
    {
      PK: { S: "DELIVERY#x" },
      SK: { S: "DELIVERY" },
      GSI1PK: { S: "SUBSCRIPTION#s#S0" },
      GSI1SK: { S: "2026-12-01T10:00:00.000Z#x" },
      status: { S: "failed" },
      z: { S: "p".repeat(4000) },
    },
  ]);
  const query = (body: Record<string, unknown>) => requestUnits([{ operation: "Query", body }], table).rru;

  it("reads only the items a sort-key condition and Limit select, in the order asked", () => {
    const page = {
      KeyConditionExpression: "PK = :pk AND SK < :after",
      ExpressionAttributeValues: {
        ":pk": { S: "LOG#c#00ff#S1" },
        ":after": { S: "2026-12-01T10:00:00.004Z#d" },
      },
      ScanIndexForward: false,
      Limit: 2,
    };
    const read = queriedItems(page, table).map((item) => item.SK?.S);
    expect(read).toEqual(["2026-12-01T10:00:00.003Z#c", "2026-12-01T10:00:00.002Z#b"]);
    // Two ~1.4 KB heads: 2.9 KB → one 4 KB unit, halved (eventually consistent).
    expect(query(page)).toBe(0.5);
    // The whole partition: 4 × ~1.4 KB = 5.7 KB → two units.
    expect(query({ ...page, KeyConditionExpression: "PK = :pk", Limit: undefined })).toBe(1);
    expect(
      queriedItems(
        {
          KeyConditionExpression: "PK = :pk AND SK >= :since",
          ExpressionAttributeValues: {
            ":pk": { S: "LOG#c#00ff#S1" },
            ":since": { S: "2026-12-01T10:00:00.003Z" },
          },
        },
        table,
      ).length,
    ).toBe(2);
  });

  it("reads GSI1 items as their index copies, not the table items", () => {
    const index = {
      IndexName: "GSI1",
      KeyConditionExpression: "GSI1PK = :pk",
      ExpressionAttributeValues: { ":pk": { S: "SUBSCRIPTION#s#S0" } },
    };
    expect(queriedItems(index, table)).toHaveLength(1);
    expect(queriedItems(index, table)[0]?.z).toBeUndefined();
    expect(query(index)).toBe(0.5);
  });
});

describe("cost model", () => {
  const usage: UsageCounts = {
    deliveries: 3000,
    aws_requests: {
      "sqs.SendMessageBatch": 1000,
      "sqs.ReceiveMessage": 300,
      "sqs.DeleteMessageBatch": 300,
      "dynamodb.Query": 1000,
      "eventbridge.PutEvents": 1000,
    },
    eventbridge_events: 1000,
    lambda: {
      router: { invocations: 1000, gb_seconds: 10 },
      delivery: { invocations: 300, gb_seconds: 15 },
    },
    dynamodb: { wru: 12_000, rru: 3500 },
    log_bytes: 3 * 1024 ** 3 * 0.001,
  };

  it("prices each line per million deliveries and sums all but logs", () => {
    const cost = computeCost(usage);
    const b = cost.breakdown;
    expect(b.eventbridge_putevents?.usd_per_million_deliveries).toBeCloseTo(1 / 3, 3);
    expect(b.sqs_requests?.quantity_per_million_deliveries).toBeCloseTo(533_333.3, 0);
    expect(b.sqs_requests?.usd_per_million_deliveries).toBeCloseTo(0.2133, 4);
    expect(b.dynamodb_writes?.usd_per_million_deliveries).toBeCloseTo(4 * 0.625, 4);
    expect(b.dynamodb_reads?.usd_per_million_deliveries).toBeCloseTo((3500 / 3000) * 0.125, 4);
    expect(b.lambda_router_requests?.usd_per_million_deliveries).toBeCloseTo(0.2 / 3, 4);
    expect(b.lambda_delivery_duration?.usd_per_million_deliveries).toBeCloseTo(
      5000 * PRICE_TABLE.lambda_usd_per_gb_second_arm,
      4,
    );
    expect(b.cloudwatch_logs?.usd_per_million_deliveries).toBeCloseTo(0.5, 3);
    const withoutLogs = Object.entries(b)
      .filter(([k]) => k !== "cloudwatch_logs")
      .reduce((t, [, l]) => t + l.usd_per_million_deliveries, 0);
    expect(cost.usd_per_million_deliveries).toBeCloseTo(withoutLogs, 3);
    expect(cost.usd_per_million_deliveries_with_logs).toBeCloseTo(withoutLogs + 0.5, 2);
    expect(cost.prices.region).toBe("us-east-1");
  });

  it("prices the records' storage for their retention outside the goal's total", () => {
    const plain = computeCost(usage);
    const cost = computeCost({ ...usage, storage_bytes_per_delivery: 3000, retention_days: 30 });
    // 1 M deliveries × 3000 B = 2.794 GB kept one month.
    expect(cost.breakdown.dynamodb_storage?.usd_per_million_deliveries).toBeCloseTo(
      (3e9 / 1024 ** 3) * 0.25,
      3,
    );
    expect(cost.usd_per_million_deliveries).toBe(plain.usd_per_million_deliveries);
    expect(cost.usd_per_million_deliveries_with_logs_and_storage).toBeCloseTo(
      plain.usd_per_million_deliveries_with_logs + (3e9 / 1024 ** 3) * 0.25,
      2,
    );
  });

  it("refuses to price a run without deliveries", () => {
    expect(() => computeCost({ ...usage, deliveries: 0 })).toThrow();
  });

  it("names a source for every alternative", () => {
    for (const alt of ALTERNATIVES) expect(alt.source).toMatch(/^https:\/\//);
  });
});

describe("bytes kept per delivery", () => {
  it("counts each head, its attempts and its share of the event's payload; PITR's figure without GSI1's copies", () => {
    const head = (n: number, indexed: boolean): Item => ({
      PK: { S: `LOG#c#0001#S${n}` },
      SK: { S: `2026-12-07T00:00:00.000Z#d${n}` },
      entity: { S: "delivery" },
      status: { S: "succeeded" },
      ...(indexed ? { GSI1PK: { S: `SUBSCRIPTION#s${n}#S0` }, GSI1SK: { S: "2026#d" } } : {}),
    });
    const attempt: Item = { PK: { S: "DELIVERY#d0" }, SK: { S: "A#2026#n" }, status_code: { N: "500" } };
    const payload: Item = { PK: { S: "EVENT#e1" }, SK: { S: "PAYLOAD#c" }, body: { S: "x".repeat(900) } };
    const subscription: Item = {
      PK: { S: "CUSTOMER#c" },
      SK: { S: "SUBSCRIPTION#s" },
      url: { S: "https://x" },
    };
    const heads = [head(0, true), head(1, false), head(2, false)];
    const items = [...heads, attempt, payload, subscription];
    const table = [...heads, attempt, payload].reduce((t, i) => t + itemSize(i) + 100, 0);
    const index = itemSize(indexCopy(heads[0]) as Item) + 100;
    // Three deliveries (heads) share one event's payload; the subscription is not a delivery's.
    expect(deliveryStorage(items)).toEqual({
      bytes: Math.round((table + index) / 3),
      tableBytes: Math.round(table / 3),
    });
    expect(deliveryStorage([subscription])).toEqual({ bytes: 0, tableBytes: 0 });
  });
});

describe("the cost bench's function environment", () => {
  it("drops the Powertools and Lambda logging settings other sections left behind and puts the template's in", async () => {
    const { functionEnvironment, powertoolsEnvironmentOf } = await import("../../bench/cost.ts");
    const template = {
      Resources: {
        RouterFunctionABC: {
          Type: "AWS::Lambda::Function",
          Properties: {
            Environment: {
              Variables: {
                TABLE_NAME: { Ref: "Table" },
                POWERTOOLS_SERVICE_NAME: "router",
                POWERTOOLS_LOG_LEVEL: "INFO",
                POWERTOOLS_METRICS_NAMESPACE: "VoipbinWebhooks",
              },
            },
          },
        },
      },
    };
    const deployed = powertoolsEnvironmentOf(template, "router");
    expect(deployed).toEqual({
      POWERTOOLS_SERVICE_NAME: "router",
      POWERTOOLS_LOG_LEVEL: "INFO",
      POWERTOOLS_METRICS_NAMESPACE: "VoipbinWebhooks",
    });
    // What the local stack leaves in the bench's process after the e2e section.
    const leftover = {
      PATH: "/usr/bin",
      POWERTOOLS_METRICS_DISABLED: "true",
      POWERTOOLS_DEV: "true",
      POWERTOOLS_LOG_LEVEL: "ERROR",
      AWS_LAMBDA_LOG_LEVEL: "ERROR",
    };
    expect(functionEnvironment(leftover, { ...deployed, AWS_LAMBDA_LOG_LEVEL: "INFO" })).toEqual({
      PATH: "/usr/bin",
      ...deployed,
      AWS_LAMBDA_LOG_LEVEL: "INFO",
    });
    expect(() => powertoolsEnvironmentOf(template, "delivery")).toThrow(/no delivery function/);
  });
});
