import { randomUUID } from "node:crypto";
import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleEntry } from "../../local/samples.ts";
import { localCredentials } from "../../scripts/lib/local-stack.ts";
import {
  callApi,
  eventBridgeClient,
  mintKey,
  type RunningStack,
  startStack,
  stopE2eStack,
} from "../support/e2e-stack.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Tenant fairness end to end (PRODUCT §4 "Fairness", §5 "Quotas"), as users meet it: `npm start` in a
 * child process, events on the bus, subscriptions and abuse over HTTP. Two customers: a hostile one
 * whose endpoint accepts connections and never answers, who also spams test events and recovers; and
 * a healthy one, whose deliveries must keep arriving promptly.
 *
 * The delivery timeout is 8 s and the main lane's budget 0.5 s: without fair delivery, every batch
 * holding a hostile job would hold its poller for 8 s (the local stack has 2 pollers here), and the
 * healthy customer's deliveries would queue behind them for several seconds each, for as long as the
 * hostile customer keeps sending.
 */

const TIMEOUT_MS = 8000;
let stack: RunningStack;
let bus: EventBridgeClient;
const receivers: Receiver[] = [];

beforeAll(async () => {
  stack = await startStack({
    inMemory: true,
    env: {
      RETRY_SCHEDULE: "1,1,1",
      DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
      MAIN_LANE_TIMEOUT_MS: "500",
      DELIVERY_CONCURRENCY: "2",
      BREAKER_THRESHOLD: "3",
      BREAKER_COOLDOWN_MS: "60000",
      QUOTA_TEST_EVENTS_PER_MINUTE: "5",
      QUOTA_RECOVERS_PER_HOUR: "2",
    },
  });
  bus = eventBridgeClient(stack);
});

afterAll(() => stopE2eStack(stack, { clients: [bus], receivers }));

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(respond);
  receivers.push(started);
  return started;
}

async function subscribe(key: string, url: string): Promise<string> {
  const response = await callApi<{ id: string }>(stack, "POST", "/v1/subscriptions", {
    key,
    body: { url, event_types: ["*"] },
  });
  expect(response.status, response.text).toBe(201);
  return response.body.id;
}

async function emit(customerId: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    const entries = Array.from({ length: Math.min(10, count - start) }, () => ({
      ...sampleEntry("call_hangup", { customerId }),
      EventBusName: "voipbin-events",
    }));
    const response = await bus.send(new PutEventsCommand({ Entries: entries }));
    expect(response.FailedEntryCount).toBe(0);
  }
}

describe("a hostile neighbour", () => {
  it("delays only its own deliveries, is dialled a bounded number of times, and its abuse is answered 429", async () => {
    const hostile = await mintKey(stack);
    const healthy = await mintKey(stack);
    // Accepts the connection, reads the request, never answers (a black hole).
    const blackHole = await receiver(() => ({ status: 200, delayMs: 3_600_000 }));
    const good = await receiver();
    const hostileSubscription = await subscribe(hostile.key, `${blackHole.url}/hole`);
    await subscribe(healthy.key, `${good.url}/hooks`);

    // The hostile customer floods first: 40 events, then its abuse of the API.
    await emit(hostile.customerId, 40);
    const tests = await Promise.all(
      Array.from({ length: 12 }, () =>
        callApi(stack, "POST", `/v1/subscriptions/${hostileSubscription}/test`, { key: hostile.key }),
      ),
    );
    expect(tests.filter((r) => r.status === 202)).toHaveLength(5);
    for (const refused of tests.filter((r) => r.status !== 202)) {
      expect(refused.status).toBe(429);
      expect((refused.body as { error: { code: string } }).error.code).toBe("QUOTA_EXCEEDED");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    const since = new Date(Date.now() - 60_000).toISOString();
    const recovers: Awaited<ReturnType<typeof callApi>>[] = [];
    for (let i = 0; i < 4; i++) {
      recovers.push(
        await callApi(stack, "POST", `/v1/subscriptions/${hostileSubscription}/recover`, {
          key: hostile.key,
          body: { since },
        }),
      );
    }
    expect(recovers.map((r) => r.status)).toEqual([202, 202, 429, 429]);
    expect(Number(recovers[3]?.headers.get("retry-after"))).toBeGreaterThan(60);

    // The onset: the first hostile jobs are dialled in the main lane and run to the full timeout (a
    // request is never abandoned), while the budget's mark hands every later one to the slow lane.
    await waitFor(
      () => {
        const first = blackHole.requests[0];
        return first !== undefined && Date.now() - first.receivedAt > TIMEOUT_MS + 1000;
      },
      { timeoutMs: 60_000, description: "the onset is over" },
    );
    // From then on the healthy customer's events keep arriving promptly, a few at a time.
    const latencies: number[] = [];
    for (let round = 0; round < 6; round++) {
      const before = good.requests.length;
      const sentAt = Date.now();
      await emit(healthy.customerId, 5);
      await good.waitForRequests(before + 5, 30_000);
      latencies.push(Date.now() - sentAt);
    }
    // Well under one delivery timeout each: no healthy event waited for a black-holed attempt.
    expect(Math.max(...latencies), JSON.stringify(latencies)).toBeLessThan(TIMEOUT_MS / 2);

    // The black hole is dialled a bounded number of times: the main lane gives up at its budget and
    // hands over; the slow lane's breaker opens after 3 timeouts (in flight at once: 4 per slow-lane
    // poller) and then only probes, once a minute here. Wait until the dialling stops...
    let seen = -1;
    await waitFor(
      () => {
        const now = blackHole.requests.length;
        const settled = now === seen && now > 0;
        seen = now;
        return settled;
      },
      {
        timeoutMs: 60_000,
        intervalMs: TIMEOUT_MS + 1000,
        description: "the black hole is no longer dialled",
      },
    );
    // ... well before every job had its attempt: 45 jobs (40 events and 5 test events), each of which
    // would have been dialled (and re-dialled on the 1-second schedule) without the breaker.
    expect(seen).toBeLessThan(45);
    // Nothing was given up on: the hostile deliveries wait (failed or pending), none is dead.
    const log = await callApi<{ items: { status: string }[] }>(
      stack,
      "GET",
      `/v1/subscriptions/${hostileSubscription}/deliveries`,
      { key: hostile.key, headers: {} },
    );
    expect(log.status).toBe(200);
    expect(log.body.items.filter((item) => item.status === "dead")).toEqual([]);
  });
});

describe("a burst of one customer's events", () => {
  it("does not queue another customer's event behind it at routing (the router's fair queue)", async () => {
    const bursting = await mintKey(stack);
    const other = await mintKey(stack);
    const good = await receiver();
    await subscribe(other.key, `${good.url}/burst-neighbour`);
    const sqs = new SQSClient({
      endpoint: stack.endpoints.sqs,
      region: "us-east-1",
      credentials: localCredentials(stack.endpoints.sqs),
    });
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: "voipbin-webhooks-router" }));
      const routerBacklog = async () => {
        const { Attributes } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl,
            AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
          }),
        );
        return (
          Number(Attributes?.ApproximateNumberOfMessages) +
          Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
        );
      };
      // 5,000 events of one customer (no subscription: routing is all they cost) sit on the router's
      // fair queue before the other customer's event is put, as EventBridge's SQS target puts them
      // (the event envelope as the body, MessageGroupId = the customer). Sent straight to the queue
      // in batches of 10, 50 batches at a time, faster than the router drains them, so the backlog is
      // there on any machine; through PutEvents, a quiet machine routed the burst as fast as it was
      // put (and the router reads a bursting customer's subscriptions once per batch).
      const burst = Array.from({ length: 5000 }, () => {
        const entry = sampleEntry("call_hangup", { customerId: bursting.customerId });
        return JSON.stringify({
          version: "0",
          id: randomUUID(),
          "detail-type": entry.DetailType,
          source: entry.Source,
          account: "000000000000",
          time: new Date().toISOString(),
          region: "us-east-1",
          resources: [],
          detail: JSON.parse(entry.Detail),
        });
      });
      for (let start = 0; start < burst.length; start += 500) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, chunk) => {
            const bodies = burst.slice(start + chunk * 10, start + chunk * 10 + 10);
            if (bodies.length === 0) return;
            const { Failed } = await sqs.send(
              new SendMessageBatchCommand({
                QueueUrl,
                Entries: bodies.map((body, i) => ({
                  Id: String(i),
                  MessageBody: body,
                  MessageGroupId: bursting.customerId,
                })),
              }),
            );
            expect(Failed ?? []).toEqual([]);
          }),
        );
      }
      // The claim needs a backlog to be ahead of: the burst is still there when the event is put.
      expect(await routerBacklog()).toBeGreaterThan(100);
      const before = good.requests.length;
      await emit(other.customerId, 1);
      await good.waitForRequests(before + 1, 60_000);
      // Delivered while the burst, put before it, was still being routed: it did not wait its turn.
      const backlogWhenDelivered = await routerBacklog();
      expect(backlogWhenDelivered).toBeGreaterThan(0);
      await waitFor(async () => (await routerBacklog()) === 0, {
        timeoutMs: 120_000,
        description: "the burst routed too",
      });
    } finally {
      sqs.destroy();
    }
  });
});
