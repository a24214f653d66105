import type { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { createRouterHandler } from "#handlers/router.ts";
import { DepthBoundedLogger } from "#shared/adapters/observability.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { ROUTER_MESSAGE_GROUP_PATH, routerRules } from "#shared/domain/events/catalogue.ts";
import type { RoutingSubscription } from "#shared/domain/ports/subscriptions.ts";
import { compileEventPattern } from "../../local/event-pattern.ts";
import type { BusEvent } from "../../local/eventbridge.ts";
import { SqsTargetError, sqsRuleTarget } from "../../local/eventbridge-sqs-target.ts";
import { originalEvent, summarize } from "../../scripts/ops/parked-kinds.ts";
import { CUSTOMER_A, eventBridgeEvent, loadFixtureEvents, routerQueueRecord } from "../support/fixtures.ts";
import { idleRouterPorts } from "../support/router-ports.ts";

const callHangup = loadFixtureEvents().get("call_hangup");
if (!callHangup) throw new Error("fixture call_hangup missing");

function busEvent(detail: Record<string, unknown>, source = "voipbin.call-manager"): BusEvent {
  return {
    version: "0",
    id: crypto.randomUUID(),
    "detail-type": "call_hangup",
    source,
    account: "000000000000",
    time: "2026-12-07T10:00:00Z",
    region: "us-east-1",
    resources: [],
    detail,
  };
}

/** Which of the router's rules take an event (by id). */
function rulesTaking(event: BusEvent): string[] {
  return routerRules()
    .filter((rule) => compileEventPattern(rule.eventPattern)(event))
    .map((rule) => rule.id);
}

describe("the bus rules in front of the router's fair queue", () => {
  it("send an event with a customer id grouped by that customer, and every other voipbin.* event ungrouped", () => {
    expect(rulesTaking(busEvent({ customer_id: CUSTOMER_A, data: {} }))).toEqual(["ToRouterFair"]);
    for (const customer_id of [undefined, 42, -1, 0, true, false, null, "not-a-uuid", { id: CUSTOMER_A }]) {
      const detail = customer_id === undefined ? { data: {} } : { customer_id, data: {} };
      expect(rulesTaking(busEvent(detail)), JSON.stringify(detail)).toEqual(["ToRouterUngrouped"]);
    }
    // Not a customer-facing source: neither rule (the catalogue's source pattern).
    expect(rulesTaking(busEvent({ customer_id: CUSTOMER_A }, "aws.ec2"))).toEqual([]);
    expect(routerRules().find((rule) => rule.id === "ToRouterFair")?.messageGroupIdPath).toBe(
      ROUTER_MESSAGE_GROUP_PATH,
    );
    expect(routerRules().find((rule) => rule.id === "ToRouterUngrouped")?.messageGroupIdPath).toBeUndefined();
  });

  /** An SQS client that records each SendMessageBatch and refuses the entries `refuse` names. */
  function recordingSqs(refuse: (body: string) => boolean = () => false) {
    const calls: SendMessageBatchCommand["input"][] = [];
    const sqs = {
      send: async (command: SendMessageBatchCommand) => {
        calls.push(command.input);
        return {
          Failed: (command.input.Entries ?? [])
            .filter((entry) => refuse(entry.MessageBody ?? ""))
            .map((entry) => ({ Id: entry.Id, Code: "InvalidMessageContents", SenderFault: true })),
        };
      },
    } as unknown as SQSClient;
    return { sqs, calls, sent: () => calls.flatMap((call) => call.Entries ?? []) };
  }

  it("the local SQS target sends the whole event, with the customer id as MessageGroupId", async () => {
    const { sqs, sent } = recordingSqs();
    const grouped = sqsRuleTarget({ sqs, queueUrl: "q", messageGroupIdPath: ROUTER_MESSAGE_GROUP_PATH });
    const ungrouped = sqsRuleTarget({ sqs, queueUrl: "q" });
    const event = busEvent({ customer_id: CUSTOMER_A, data: { x: "\uFFFE" } });
    await grouped(event, JSON.stringify(event));
    await ungrouped(event, JSON.stringify(event));
    expect(sent()[0]?.MessageGroupId).toBe(CUSTOMER_A);
    expect(JSON.parse(sent()[0]?.MessageBody ?? "")).toEqual(event);
    expect(sent()[0]?.MessageBody).not.toContain("\uFFFE");
    expect(sent()[1]?.MessageGroupId).toBeUndefined();
    // A path that names no string: the target fails (the ungrouped rule takes such events).
    const odd = busEvent({ customer_id: 7 });
    await expect(grouped(odd, JSON.stringify(odd))).rejects.toThrow(SqsTargetError);
    expect(sent()).toHaveLength(2);
  });

  it("sends the events of one PutEvents call in batches of 10 (one alone at once), each settling with its own entry's result", async () => {
    const refused = busEvent({ customer_id: CUSTOMER_A, data: { n: 3 } });
    const { sqs, calls, sent } = recordingSqs((body) => body.includes(refused.id));
    const target = sqsRuleTarget({ sqs, queueUrl: "q", messageGroupIdPath: ROUTER_MESSAGE_GROUP_PATH });
    const events = Array.from({ length: 12 }, (_, n) =>
      n === 3 ? refused : busEvent({ customer_id: CUSTOMER_A, data: { n } }),
    );
    // Handed over in one turn, as the local bus hands over a PutEvents call's entries.
    const results = await Promise.allSettled(events.map((event) => target(event, JSON.stringify(event))));
    expect(calls.map((call) => call.Entries?.length)).toEqual([10, 2]);
    expect(sent().map((entry) => (JSON.parse(entry.MessageBody ?? "") as BusEvent).id)).toEqual(
      events.map((event) => event.id),
    );
    expect(results.map((result) => result.status)).toEqual(
      events.map((event) => (event === refused ? "rejected" : "fulfilled")),
    );
    // An event on its own goes alone; bodies past 256 KiB together are split.
    calls.length = 0;
    await target(events[0] as BusEvent, JSON.stringify(events[0]));
    const big = (n: number) => busEvent({ customer_id: CUSTOMER_A, data: { pad: "x".repeat(100_000), n } });
    await Promise.all([big(1), big(2), big(3)].map((event) => target(event, JSON.stringify(event))));
    expect(calls.map((call) => call.Entries?.length)).toEqual([1, 2, 1]);
  });
});

describe("the router on its event source mapping", () => {
  const record = routerQueueRecord;

  const subscription = (customer_id: string): RoutingSubscription => ({
    id: "0196f1a2-0000-7000-8000-000000000001",
    customer_id,
    event_types: ["*"],
    activeflow_id: null,
    status: "enabled",
  });

  /** A router over in-memory ports: what it enqueued and parked, and its subscriptions reads. */
  function router(listForRouting: (customerId: string) => Promise<RoutingSubscription[]>) {
    const enqueued: DeliveryJob[] = [];
    const parked: unknown[] = [];
    const reads: string[] = [];
    const handler = createRouterHandler(
      {
        subscriptions: {
          listForRouting: (customerId) => {
            reads.push(customerId);
            return listForRouting(customerId);
          },
        },
        deliveryQueue: {
          enqueue: async (jobs) => {
            enqueued.push(...jobs);
            return { sent: jobs.length, requests: 1 };
          },
        },
        unroutableQueue: { send: async (message) => void parked.push(message) },
        ...idleRouterPorts(),
      },
      new DepthBoundedLogger({ serviceName: "test", logLevel: "SILENT" }),
    );
    return { handler, enqueued, parked, reads };
  }

  /** The fixture event as `customerId`'s, with an id of its own. */
  const eventOf = (customerId: string) => {
    const event = JSON.parse(JSON.stringify(eventBridgeEvent(callHangup))) as {
      id: string;
      detail: { customer_id: string };
    };
    event.id = crypto.randomUUID();
    event.detail.customer_id = customerId;
    return event;
  };

  it("routes each record, parks an unreadable one, and reports only the records whose routing failed", async () => {
    const failing = crypto.randomUUID();
    const { handler, enqueued, parked } = router(async (customerId) => {
      if (customerId === failing) throw new Error("DynamoDB unavailable");
      return [subscription(customerId)];
    });
    const good = eventBridgeEvent(callHangup);
    const bad = eventOf(failing);
    const batch: SQSEvent = {
      Records: [
        record(JSON.stringify(good), "m1"),
        record(JSON.stringify(bad), "m2"),
        record("not json {", "m3"),
      ],
    };
    const response = await handler(batch);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m2" }] });
    expect(enqueued.map((job) => job.event_id)).toEqual([good.id]);
    expect(parked).toHaveLength(1);
    // Invoked directly with one event (an operator's redrive), an error propagates.
    await expect(handler(bad)).rejects.toThrow("DynamoDB unavailable");
  });

  it("reads a bursting customer's subscriptions once per batch, and again in the next batch", async () => {
    const bursting = crypto.randomUUID();
    const quiet = crypto.randomUUID();
    let version = 0;
    const { handler, enqueued, reads } = router(async (customerId) => [
      { ...subscription(customerId), id: `0196f1a2-0000-7000-8000-00000000000${version}` },
    ]);
    const burst = Array.from({ length: 9 }, () => eventOf(bursting));
    const other = eventOf(quiet);
    const batch = (events: { id: string }[]): SQSEvent => ({
      Records: events.map((event, i) => record(JSON.stringify(event), `m${i}`)),
    });
    expect(await handler(batch([...burst, other]))).toEqual({ batchItemFailures: [] });
    // Every event got its job, each with the subscription read for its own customer.
    expect(enqueued.map((job) => job.event_id).sort()).toEqual([...burst, other].map((e) => e.id).sort());
    expect(enqueued.every((job) => job.customer_id === (job.event_id === other.id ? quiet : bursting))).toBe(
      true,
    );
    expect(reads.sort()).toEqual([bursting, quiet].sort());
    // Nothing is kept beyond the batch: the next one reads again and routes to what it finds.
    version = 2;
    reads.length = 0;
    enqueued.length = 0;
    const next = eventOf(bursting);
    await handler(batch([next]));
    expect(reads).toEqual([bursting]);
    expect(enqueued.map((job) => job.subscription_id)).toEqual(["0196f1a2-0000-7000-8000-000000000002"]);
  });
});

describe("npm run ops -- router-failed: both shapes of a router-failed message", () => {
  const event = busEvent({ customer_id: CUSTOMER_A, data: {} });
  const message = (body: unknown) => ({
    messageId: "m",
    body: JSON.stringify(body),
    sentAt: undefined,
    attributes: {},
  });

  it("reads the event of a router queue dead letter (the body) and of Lambda's on-failure record", () => {
    const record = {
      version: "1.0",
      requestContext: { requestId: "r", condition: "RetriesExhausted" },
      requestPayload: event,
      responsePayload: { errorType: "EnqueueFailedError", errorMessage: "could not enqueue" },
    };
    expect(originalEvent("router-failed", JSON.stringify(event))).toEqual(event);
    expect(originalEvent("router-failed", JSON.stringify(record))).toEqual(event);
    expect(summarize("router-failed", message(event) as never)).toEqual(
      expect.objectContaining({ event_id: event.id, customer_id: CUSTOMER_A, error: null }),
    );
    expect(summarize("router-failed", message(record) as never)).toEqual(
      expect.objectContaining({
        event_id: event.id,
        customer_id: CUSTOMER_A,
        error: "EnqueueFailedError: could not enqueue",
      }),
    );
  });
});
