import type { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { createRouterHandler } from "#handlers/router.ts";
import { DeliveryQueue } from "#shared/adapters/delivery-queue.ts";
import { DepthBoundedLogger } from "#shared/adapters/observability.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import type { RoutingSubscription } from "#shared/domain/ports/subscriptions.ts";
import type { RouterDependencies } from "#shared/services/route-event.ts";
import { sharedEnqueue } from "#shared/services/shared-enqueue.ts";
import { eventBridgeEvent, loadFixtureEvents, routerQueueRecord } from "../support/fixtures.ts";
import { idleRouterPorts } from "../support/router-ports.ts";

const callHangup = loadFixtureEvents().get("call_hangup");
if (!callHangup) throw new Error("fixture call_hangup missing");

type Entry = NonNullable<SendMessageBatchCommand["input"]["Entries"]>[number];

/** An SQS client that records every SendMessageBatch and refuses the entries `refuse` names. */
function fakeSqs(refuse: (body: string) => boolean = () => false) {
  const requests: Entry[][] = [];
  const client = {
    send: async (command: SendMessageBatchCommand) => {
      const entries = command.input.Entries ?? [];
      requests.push(entries);
      const refused = entries.filter((e) => refuse(e.MessageBody ?? ""));
      return {
        Successful: entries.filter((e) => !refused.includes(e)).map((e) => ({ Id: e.Id })),
        Failed: refused.map((e) => ({ Id: e.Id, Code: "InternalError", SenderFault: false })),
      };
    },
  } as unknown as SQSClient;
  return { client, requests };
}

function routerWith(sqs: SQSClient, subscriptionsPerCustomer: number) {
  const deps: RouterDependencies = {
    subscriptions: {
      listForRouting: async (customerId) =>
        Array.from(
          { length: subscriptionsPerCustomer },
          (_, n): RoutingSubscription => ({
            id: `0196f1a2-0000-7000-8000-${customerId.slice(-4)}0000000${n}`,
            customer_id: customerId,
            event_types: ["*"],
            activeflow_id: null,
            status: "enabled",
          }),
        ),
    },
    deliveryQueue: new DeliveryQueue(sqs, "https://sqs.local/delivery", { attempts: 1 }),
    unroutableQueue: { send: async () => undefined },
    ...idleRouterPorts(),
  };
  return createRouterHandler(deps, new DepthBoundedLogger({ serviceName: "test", logLevel: "SILENT" }));
}

/** A batch of call_hangup events of distinct customers (ids ending 0001, 0002, …). */
function batchOf(count: number): { batch: SQSEvent; events: { id: string; customer: string }[] } {
  const events = Array.from({ length: count }, (_, i) => {
    const event = eventBridgeEvent(callHangup as NonNullable<typeof callHangup>) as {
      id: string;
      detail: { customer_id: string };
    };
    event.detail.customer_id = `5e4a0680-804e-11ec-8477-2fea5968${String(i + 1).padStart(4, "0")}`;
    return event;
  });
  return {
    batch: { Records: events.map((event, i) => routerQueueRecord(JSON.stringify(event), `m${i}`)) },
    events: events.map((event) => ({ id: event.id, customer: event.detail.customer_id })),
  };
}

const jobOf = (entry: Entry) => JSON.parse(entry.MessageBody ?? "{}") as DeliveryJob;

describe("the router's batch shares SendMessageBatch requests between its events", () => {
  it("sends the jobs of 3 events × 3 subscriptions in one request, each grouped by its own customer", async () => {
    const sqs = fakeSqs();
    const { batch, events } = batchOf(3);
    expect(await routerWith(sqs.client, 3)(batch)).toEqual({ batchItemFailures: [] });
    expect(sqs.requests).toHaveLength(1);
    const jobs = (sqs.requests[0] ?? []).map((entry) => ({ entry, job: jobOf(entry) }));
    expect(jobs).toHaveLength(9);
    for (const { entry, job } of jobs) expect(entry.MessageGroupId).toBe(job.customer_id);
    expect(new Set(jobs.map(({ job }) => job.event_id))).toEqual(new Set(events.map((e) => e.id)));
  });

  it("needs ceil(jobs / 10) requests for a larger batch", async () => {
    const sqs = fakeSqs();
    const { batch } = batchOf(7);
    expect(await routerWith(sqs.client, 3)(batch)).toEqual({ batchItemFailures: [] });
    expect(sqs.requests.map((r) => r.length)).toEqual([10, 10, 1]);
  });

  it("fails only the event whose jobs SQS refuses; the others' jobs are all sent", async () => {
    const { batch, events } = batchOf(3);
    const refused = events[1]?.id ?? "";
    const sqs = fakeSqs((body) => body.includes(refused));
    expect(await routerWith(sqs.client, 3)(batch)).toEqual({ batchItemFailures: [{ itemIdentifier: "m1" }] });
    const sentFor = (id: string) =>
      new Set(
        sqs.requests
          .flat()
          .map(jobOf)
          .filter((job) => job.event_id === id)
          .map((job) => job.subscription_id),
      );
    expect(sentFor(events[0]?.id ?? "").size).toBe(3);
    expect(sentFor(events[2]?.id ?? "").size).toBe(3);
    // Nothing re-sent at once: each of the others' jobs went out exactly once.
    const sent = sqs.requests
      .flat()
      .map(jobOf)
      .filter((job) => job.event_id !== refused);
    expect(sent).toHaveLength(6);
  });
});

describe("sharedEnqueue", () => {
  const job = (event: string): DeliveryJob => ({ event_id: event }) as unknown as DeliveryJob;

  it("does not hold ready jobs longer than its wait for an event still routing", async () => {
    const sends: string[][] = [];
    const shared = sharedEnqueue(
      {
        enqueue: async (jobs) => {
          sends.push(jobs.map((j) => j.event_id));
          return { sent: jobs.length, requests: 1 };
        },
      },
      3,
      20,
    );
    const [a, b, slow] = [shared.member(), shared.member(), shared.member()];
    const ready = Promise.all([a.enqueue([job("a")]), b.enqueue([job("b")])]);
    await ready; // resolved by the wait's end, while `slow` is still routing
    expect(sends).toEqual([["a", "b"]]);
    await slow.enqueue([job("slow")]);
    expect(sends).toEqual([["a", "b"], ["slow"]]);
    a.leave();
    b.leave();
    slow.leave();
  });

  it("sends as soon as every other event has finished without jobs", async () => {
    const sends: string[][] = [];
    const shared = sharedEnqueue(
      {
        enqueue: async (jobs) => {
          sends.push(jobs.map((j) => j.event_id));
          return { sent: jobs.length, requests: 1 };
        },
      },
      2,
      60_000,
    );
    const [a, unroutable] = [shared.member(), shared.member()];
    const sent = a.enqueue([job("a")]);
    unroutable.leave();
    await sent;
    expect(sends).toEqual([["a"]]);
  });
});
