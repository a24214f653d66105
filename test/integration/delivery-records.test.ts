import { randomBytes, randomUUID } from "node:crypto";
import { GetItemCommand, PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { createDeliveryBatchLoader } from "#shared/adapters/dynamodb/delivery-batch-loader.ts";
import { encodePayload } from "#shared/adapters/dynamodb/payload-codec.ts";
import { keys } from "#shared/adapters/dynamodb/table.ts";
import type { DeliveryIdentity } from "#shared/domain/delivery/delivery.ts";
import { DependencyError } from "#shared/domain/errors.ts";
import { deriveDeliveryIds, deriveLegacyDeliveryIds } from "#shared/domain/ids.ts";
import type { RecordAttemptInput } from "#shared/domain/ports/deliveries.ts";
import { itemSize, writeUnits } from "../../bench/lib/dynamo-units.ts";
import { createTestEnvironment, deliveryTablesOf, type TestEnvironment } from "../support/aws-env.ts";
import { repositoriesFor } from "../support/pipeline.ts";

let env: TestEnvironment;
let repos: ReturnType<typeof repositoriesFor>;

beforeAll(async () => {
  env = await createTestEnvironment();
  repos = repositoriesFor(env);
});

afterAll(() => env?.close());

type Layout = "layout 3" | "layout 2";

/**
 * A delivery as the router names it: layout 3 (today's ids, derived with the event's time) or
 * layout 2 (the ids jobs queued before the upgrade carry).
 */
function identity(
  payload = '{"type":"call_hangup","data":{}}',
  layout: Layout = "layout 3",
  subscriptionId: string = randomUUID(),
  customerId: string = randomUUID(),
  eventTime: Date = new Date(),
): DeliveryIdentity {
  const eventId = randomUUID();
  const ids =
    layout === "layout 3"
      ? deriveDeliveryIds(eventId, subscriptionId, eventTime)
      : deriveLegacyDeliveryIds(eventId, subscriptionId);
  return {
    delivery_id: ids.deliveryId,
    webhook_id: ids.webhookId,
    subscription_id: subscriptionId,
    customer_id: customerId,
    event_id: eventId,
    event_type: "call_hangup",
    payload,
  };
}

let tick = Date.now();

function attempt(
  delivery: DeliveryIdentity,
  status: RecordAttemptInput["status"],
  statusCode: number,
  extra: Partial<RecordAttemptInput> = {},
): RecordAttemptInput {
  const at = new Date(++tick);
  return {
    delivery,
    liveJob: "msg:first",
    attempt: {
      at: at.toISOString(),
      status_code: statusCode,
      error: null,
      latency_ms: 3,
      response_body: "",
      request: {
        method: "POST",
        url: "https://hooks.example.com/",
        headers: { "webhook-id": delivery.webhook_id },
      },
    },
    status,
    deadReason: status === "dead" ? "attempts_exhausted" : null,
    nextAttemptAt: status === "failed" ? new Date(Date.now() + 5000).toISOString() : null,
    now: at,
    redeliverAfter: undefined,
    retentionDays: 30,
    existing: {
      event_id: delivery.event_id,
      status: "failed",
      dead_reason: null,
      succeeded_at: null,
      next_attempt_at: null,
      chain_attempts: 1,
      live_job: "msg:first",
      prev_job: null,
      dead_lettered_at: null,
      held_ms: 0,
    },
    ...extra,
  };
}

const FIRST = { existing: undefined } as const;

describe.each<Layout>(["layout 3", "layout 2"])("delivery records (%s)", (layout) => {
  it("creates the record on the first attempt and adds later ones, with the request each sent", async () => {
    const delivery = identity(undefined, layout);
    await repos.deliveries.putPayload(
      delivery.customer_id,
      delivery.event_id,
      delivery.payload,
      new Date(),
      30,
      new Date(),
    );
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, FIRST))).toBe("recorded");
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200))).toBe("recorded");
    const record = await repos.deliveries.get(delivery.customer_id, delivery.delivery_id);
    expect(record?.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(record?.attempts[0]?.request).toEqual({
      method: "POST",
      url: "https://hooks.example.com/",
      headers: { "webhook-id": delivery.webhook_id },
    });
    expect(record?.status).toBe("succeeded");
    expect(record?.payload).toBe(delivery.payload);
    expect(record?.succeeded_at).not.toBeNull();
    expect(record?.chain_attempts).toBe(2);
  });

  it("falls back to an update when a duplicate created the record after it was read", async () => {
    const delivery = identity(undefined, layout);
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 503, FIRST));
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 502, FIRST));
    const record = await repos.deliveries.get(delivery.customer_id, delivery.delivery_id);
    expect(record?.attempts.map((a) => a.status_code)).toEqual([503, 502]);
  });

  it("never lets a late failure overwrite a success, except for a manual retry", async () => {
    const delivery = identity(undefined, layout);
    await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200, FIRST));
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, FIRST))).toBe("superseded");
    expect((await repos.deliveries.get(delivery.customer_id, delivery.delivery_id))?.status).toBe(
      "succeeded",
    );
    const retryRequestedAt = new Date(Date.now() + 1000).toISOString();
    expect(
      await repos.deliveries.recordAttempt(
        attempt(delivery, "failed", 500, { redeliverAfter: retryRequestedAt }),
      ),
    ).toBe("recorded");
    const record = await repos.deliveries.get(delivery.customer_id, delivery.delivery_id);
    expect(record?.status).toBe("failed");
    // The superseded attempt was sent, so it is recorded too; the status is not its.
    expect(record?.attempts.map((a) => a.status_code)).toEqual([200, 500, 500]);
  });

  it("answers stale, and keeps the status, when another job became the live one", async () => {
    const delivery = identity(undefined, layout);
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, FIRST));
    const requeued = await repos.deliveries.requeue(delivery.customer_id, delivery.delivery_id, {
      from: ["failed"],
      token: "retry-token",
      now: new Date(),
    });
    expect(requeued.kind).toBe("requeued");
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "failed", 502))).toBe("stale");
    const record = await repos.deliveries.get(delivery.customer_id, delivery.delivery_id);
    expect(record?.status).toBe("pending");
    expect(record?.live_job).toBe("retry-token");
    expect(record?.chain_attempts).toBe(0);
  });

  it("refuses no write for a 256 KB payload and 70 attempts with 4 KiB bodies, and stores the payload once", async () => {
    // Random text: the worst case for compression.
    const payload = JSON.stringify({
      type: "call_hangup",
      data: { blob: randomBytes(190_000).toString("base64") },
    });
    expect(Buffer.byteLength(payload)).toBeGreaterThan(250_000);
    const delivery = identity(payload, layout);
    await repos.deliveries.putPayload(
      delivery.customer_id,
      delivery.event_id,
      payload,
      new Date(),
      30,
      new Date(),
    );
    const body = randomBytes(3072).toString("base64"); // 4 KiB of incompressible text
    for (let i = 0; i < 70; i++) {
      const input = attempt(delivery, "failed", 503, i === 0 ? FIRST : {});
      expect(
        await repos.deliveries.recordAttempt({
          ...input,
          attempt: { ...input.attempt, response_body: body },
        }),
      ).toBe("recorded");
    }
    const record = await repos.deliveries.get(delivery.customer_id, delivery.delivery_id);
    expect(record?.attempts).toHaveLength(70);
    expect(record?.attempts.every((a) => a.response_body === body)).toBe(true);
    expect(record?.payload).toBe(payload);
    // Layout 3 in the deliveries table; layout 2 (version 8 ids) stays in the main table.
    const table = layout === "layout 2" ? env.tableName : env.deliveriesTableName;
    const partition = await env.dynamodb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "PK = :pk",
        ExpressionAttributeValues: { ":pk": { S: `DELIVERY#${delivery.delivery_id}` } },
      }),
    );
    // One item per attempt (the head beside them in layout 2, in the log partition in layout 3);
    // none holds the payload.
    const attemptItems = partition.Items?.filter((item) => item.SK?.S?.startsWith("A#")) ?? [];
    expect(attemptItems).toHaveLength(70);
    expect(partition.Items).toHaveLength(layout === "layout 2" ? 71 : 70);
    const head = await env.dynamodb.send(
      new GetItemCommand({
        TableName: table,
        Key: marshall(keys.deliveryHead(delivery.customer_id, delivery.delivery_id)),
      }),
    );
    expect(
      [...(partition.Items ?? []), head.Item ?? {}].some((i) => "payload_z" in i || "payload" in i),
    ).toBe(false);
  });
});

describe("delivery records (layout 3): the head is its subscription's log entry", () => {
  it("keeps the head in the log partition, outside GSI1, dated by the event; another customer finds nothing", async () => {
    const eventTime = new Date(Date.now() - 5_000);
    const delivery = identity(undefined, "layout 3", randomUUID(), randomUUID(), eventTime);
    expect(await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200, FIRST))).toBe("recorded");
    const key = keys.deliveryHead(delivery.customer_id, delivery.delivery_id);
    expect(key.PK).toMatch(new RegExp(`^LOG#${delivery.customer_id}#[0-9a-f]{4}#S[0-3]$`));
    expect(key.SK).toBe(`${eventTime.toISOString()}#${delivery.delivery_id}`);
    const { Item } = await env.dynamodb.send(
      new GetItemCommand({ TableName: env.deliveriesTableName, Key: marshall(key), ConsistentRead: true }),
    );
    // Not in the index: creating it wrote one item and no index copy.
    expect(Item && "GSI1PK" in Item).toBe(false);
    expect(Item && "GSI1SK" in Item).toBe(false);
    const record = await repos.deliveries.get(delivery.customer_id, delivery.delivery_id);
    expect(record).toMatchObject({ status: "succeeded", created_at: eventTime.toISOString(), payload: null });
    expect(record?.attempts.map((a) => a.status_code)).toEqual([200]);
    expect(await repos.deliveries.get(randomUUID(), delivery.delivery_id)).toBeNull();
  });

  it("keeps a head with a successful first attempt inline within 1 KB (one write unit)", async () => {
    const delivery = identity();
    const signature = () => `v1,${randomBytes(32).toString("base64")}`;
    const input = attempt(delivery, "succeeded", 200, FIRST);
    await repos.deliveries.recordAttempt({
      ...input,
      attempt: {
        ...input.attempt,
        latency_ms: 182,
        response_body: '{"received":true}',
        request: {
          method: "POST",
          url: "https://webhooks.customer-example.com/voipbin/events/receive",
          headers: {
            "content-type": "application/json",
            "user-agent": "voipbin-webhooks/0.1.0",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
            // During a rotation: both secrets sign.
            "webhook-signature": `${signature()} ${signature()}`,
            "x-voipbin-signature": `sha256=${randomBytes(32).toString("hex")}`,
          },
        },
      },
    });
    const { Item } = await env.dynamodb.send(
      new GetItemCommand({
        TableName: env.deliveriesTableName,
        Key: marshall(keys.deliveryHead(delivery.customer_id, delivery.delivery_id)),
        ConsistentRead: true,
      }),
    );
    expect(Item?.a1z).toBeDefined();
    expect(writeUnits(itemSize(Item as unknown as Parameters<typeof itemSize>[0]))).toBe(1);
  });

  it("reads one log newest first across layout-2 and layout-3 records of the subscription", async () => {
    const subscriptionId = randomUUID();
    const customerId = randomUUID();
    const made: DeliveryIdentity[] = [];
    for (let i = 0; i < 6; i++) {
      const at = new Date(++tick);
      const delivery =
        i % 2 === 0
          ? identity(undefined, "layout 2", subscriptionId, customerId)
          : identity(undefined, "layout 3", subscriptionId, customerId, at);
      await repos.deliveries.recordAttempt({ ...attempt(delivery, "failed", 500, FIRST), now: at });
      made.push(delivery);
    }
    const newestFirst = made.map((d) => d.delivery_id).reverse();
    const seen: string[] = [];
    let after: Parameters<typeof repos.deliveries.queryLog>[0]["after"];
    for (let page = 0; page < 10; page++) {
      const result = await repos.deliveries.queryLog({
        customerId,
        subscriptionId,
        order: "newest_first",
        limit: 2,
        after,
      });
      seen.push(...result.records.map((r) => r.id));
      if (result.next === null) break;
      after = result.next;
    }
    expect(seen).toEqual(newestFirst);
  });
});

describe("delivery records (old layout)", () => {
  it("reads a record of the old layout, and converts it on its next attempt", async () => {
    const delivery = identity(undefined, "layout 2");
    const now = new Date(tick - 60_000).toISOString();
    await env.dynamodb.send(
      new PutItemCommand({
        TableName: env.tableName,
        Item: marshall({
          PK: `DELIVERY#${delivery.delivery_id}`,
          SK: "DELIVERY",
          entity: "delivery",
          id: delivery.delivery_id,
          subscription_id: delivery.subscription_id,
          customer_id: delivery.customer_id,
          event_id: delivery.event_id,
          event_type: delivery.event_type,
          webhook_id: delivery.webhook_id,
          payload_z: encodePayload(delivery.payload),
          status: "failed",
          attempts: [{ at: now, status_code: 500, error: null, latency_ms: 4, response_body: "no" }],
          attempt_count: 1,
          next_attempt_at: now,
          created_at: now,
          updated_at: now,
          GSI1PK: `SUBSCRIPTION#${delivery.subscription_id}`,
          GSI1SK: `${now}#${delivery.delivery_id}`,
          expires_at: Math.floor(Date.now() / 1000) + 86_400,
        }),
      }),
    );
    const old = await repos.deliveries.get(delivery.customer_id, delivery.delivery_id);
    expect(old).toMatchObject({
      status: "failed",
      chain_attempts: 1,
      live_job: null,
      payload: delivery.payload,
    });
    expect(old?.attempts).toEqual([
      { at: now, status_code: 500, error: null, latency_ms: 4, response_body: "no", request: null },
    ]);
    const page = await repos.deliveries.queryLog({
      customerId: delivery.customer_id,
      subscriptionId: delivery.subscription_id,
      order: "newest_first",
      limit: 10,
    });
    expect(page.records.map((r) => r.id)).toEqual([delivery.delivery_id]);

    expect(
      await repos.deliveries.recordAttempt(attempt(delivery, "succeeded", 200, { existing: undefined })),
    ).toBe("recorded");
    const converted = await repos.deliveries.get(delivery.customer_id, delivery.delivery_id);
    expect(converted?.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(converted).toMatchObject({ status: "succeeded", chain_attempts: 2, live_job: "msg:first" });
  });
});

/** The real document client, with every command passed through `intercept` (which may send it on). */
function interceptedDoc(
  intercept: (command: unknown, send: (command: unknown) => Promise<unknown>) => Promise<unknown>,
): DynamoDBDocumentClient {
  const doc = DynamoDBDocumentClient.from(env.dynamodb);
  const send = doc.send.bind(doc) as (command: unknown) => Promise<unknown>;
  return new Proxy(doc, {
    get(target, property, receiver) {
      if (property !== "send") return Reflect.get(target, property, receiver);
      return (command: unknown) => intercept(command, send);
    },
  });
}

describe("reads of a delivery's head that decide what happens next are strongly consistent", () => {
  // dynalite is always consistent, so only the commands sent can show it. A stale head would let a
  // batch attempt a delivery that already succeeded, or sign with a secret rotated away.
  function recording() {
    const sent: { name: string; input: Record<string, unknown> }[] = [];
    const doc = interceptedDoc((command, send) => {
      sent.push({
        name: (command as object).constructor.name,
        input: (command as { input: Record<string, unknown> }).input,
      });
      return send(command);
    });
    return { doc, sent };
  }

  it.each<Layout>(["layout 3", "layout 2"])(
    "the delivery batch's BatchGetItem and a record's own read (%s)",
    async (layout) => {
      const delivery = identity(undefined, layout);
      await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, FIRST));
      await repos.deliveries.recordAttempt(attempt(delivery, "failed", 502));
      const { doc, sent } = recording();
      const state = await createDeliveryBatchLoader(
        doc,
        deliveryTablesOf(env, doc),
      )({
        subscriptions: [{ customerId: delivery.customer_id, subscriptionId: delivery.subscription_id }],
        deliveries: [{ customerId: delivery.customer_id, deliveryId: delivery.delivery_id }],
      });
      expect(state.deliveries.get(delivery.delivery_id)).toBeDefined();
      const batchGets = sent.filter((command) => command.name === "BatchGetCommand");
      expect(batchGets).toHaveLength(1);
      for (const command of batchGets) {
        const requests = Object.values(
          command.input.RequestItems as Record<string, { ConsistentRead?: boolean }>,
        );
        for (const request of requests) expect(request.ConsistentRead).toBe(true);
      }

      sent.length = 0;
      const record = await new DeliveryRepository(doc, deliveryTablesOf(env, doc)).get(
        delivery.customer_id,
        delivery.delivery_id,
      );
      expect(record?.attempts).toHaveLength(2);
      // Every read of the delivery's own partition (its head and its attempts); the payload is immutable.
      const ownReads = sent.filter((command) => JSON.stringify(command.input).includes(delivery.delivery_id));
      expect(ownReads.length).toBeGreaterThanOrEqual(1);
      for (const command of ownReads) expect(command.input.ConsistentRead, command.name).toBe(true);
    },
  );
});

describe("the delivery batch's one BatchGetItem over both tables", () => {
  it("names both tables in one request, and asks again for the keys DynamoDB left unprocessed in either", async () => {
    const delivery = identity(undefined, "layout 3");
    await repos.deliveries.recordAttempt(attempt(delivery, "failed", 500, FIRST));
    const requests: string[][] = [];
    const doc = interceptedDoc(async (command, send) => {
      if (!(command instanceof BatchGetCommand)) return send(command);
      const asked = command.input.RequestItems ?? {};
      requests.push(Object.keys(asked).sort());
      if (requests.length > 1) return send(command);
      // The first call: the main table's keys answered, the deliveries table's handed back.
      const answer = (await send(
        new BatchGetCommand({ RequestItems: { [env.tableName]: asked[env.tableName] as never } }),
      )) as { Responses?: Record<string, unknown[]> };
      return { ...answer, UnprocessedKeys: { [env.deliveriesTableName]: asked[env.deliveriesTableName] } };
    });
    const state = await createDeliveryBatchLoader(
      doc,
      deliveryTablesOf(env, doc),
    )({
      subscriptions: [{ customerId: delivery.customer_id, subscriptionId: delivery.subscription_id }],
      deliveries: [{ customerId: delivery.customer_id, deliveryId: delivery.delivery_id }],
    });
    expect(state.deliveries.get(delivery.delivery_id)?.status).toBe("failed");
    expect(requests).toEqual([[env.deliveriesTableName, env.tableName].sort(), [env.deliveriesTableName]]);
  });
});

describe("a delivery log page whose heads DynamoDB answers only in part (UnprocessedKeys)", () => {
  /**
   * The real client, except that each BatchGetItem is answered for at most `answered(call)` of its
   * keys and hands the rest back as UnprocessedKeys, as a throttled table does.
   */
  function throttledRepository(answered: (call: number) => number) {
    let calls = 0;
    const throttled = interceptedDoc(async (command, send) => {
      if (!(command instanceof BatchGetCommand)) return send(command);
      calls += 1;
      const request = command.input.RequestItems?.[env.tableName];
      const allKeys = request?.Keys ?? [];
      const take = Math.min(allKeys.length, answered(calls));
      const answer = (
        take > 0
          ? await send(
              new BatchGetCommand({
                RequestItems: { [env.tableName]: { ...request, Keys: allKeys.slice(0, take) } },
              }),
            )
          : { Responses: { [env.tableName]: [] } }
      ) as { Responses?: Record<string, unknown[]> };
      const rest = allKeys.slice(take);
      return {
        ...answer,
        UnprocessedKeys: rest.length > 0 ? { [env.tableName]: { ...request, Keys: rest } } : {},
      };
    });
    return { deliveries: new DeliveryRepository(throttled, env.tableName), calls: () => calls };
  }

  /** `count` pre-upgrade (layout-2) deliveries of one subscription: their log entries are GSI1 copies. */
  async function layout2Log(count: number) {
    const subscriptionId = randomUUID();
    const customerId = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const delivery = identity(undefined, "layout 2", subscriptionId, customerId);
      await repos.deliveries.recordAttempt({ ...attempt(delivery, "failed", 500, FIRST) });
      ids.push(delivery.delivery_id);
    }
    return { customerId, subscriptionId, ids };
  }

  it("keeps asking for the unprocessed heads until every record of the page is there", async () => {
    const log = await layout2Log(8);
    const { deliveries, calls } = throttledRepository(() => 1);
    const page = await deliveries.queryLog({
      customerId: log.customerId,
      subscriptionId: log.subscriptionId,
      order: "oldest_first",
      limit: 20,
    });
    expect(page.records.map((record) => record.id).sort()).toEqual([...log.ids].sort());
    // One head per call: more calls than the five rounds the page used to stop after.
    expect(calls()).toBe(8);
  });

  it("backs off through calls that answer nothing, and fails loudly when they go on", async () => {
    const log = await layout2Log(3);
    const stalls = throttledRepository((call) => (call <= 3 ? 0 : 10));
    const page = await stalls.deliveries.queryLog({
      customerId: log.customerId,
      subscriptionId: log.subscriptionId,
      order: "oldest_first",
      limit: 20,
    });
    expect(page.records).toHaveLength(3);

    const never = throttledRepository(() => 0);
    const failure = await never.deliveries
      .queryLog({
        customerId: log.customerId,
        subscriptionId: log.subscriptionId,
        order: "oldest_first",
        limit: 20,
      })
      .then(
        () => null,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(DependencyError);
    expect((failure as DependencyError).code).toBe("DEPENDENCY_FAILED");
    expect((failure as Error).message).toMatch(/3 key\(s\) still unprocessed/);
    expect(never.calls()).toBe(5);
  });
});
