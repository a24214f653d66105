import { randomUUID } from "node:crypto";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EndpointHealthStore } from "#shared/adapters/dynamodb/endpoint-health.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { DELIVERY_BATCH } from "#shared/resources.ts";
import type { SqsEventSource } from "../../local/sqs-event-source.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/aws-env.ts";
import { enqueueJobs, repositoriesFor, startDeliverySources } from "../support/pipeline.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { seedSubscription } from "../support/subscriptions.ts";
import { waitFor } from "../support/wait.ts";

/**
 * PRODUCT §4, "Waits are never held in flight", with fair delivery on (both lanes, each polled by the
 * delivery function as its event source mapping would): whatever is waiting — retries, breaker and
 * cap deferrals — the queues' in-flight count stays bounded by the work, every waiting job is still
 * queued and is delivered when its wait is over, with its webhook-id. Seen where a user sees it:
 * `GetQueueAttributes`, the requests on the wire, the delivery records, the dead-letter queue.
 */

const POLLERS = 2;
// Waits of a few seconds, so that many deliveries wait at once even on a loaded machine.
const SCHEDULE = [3, 3, 3];

let env: TestEnvironment;
let repos: ReturnType<typeof repositoriesFor>;
let sources: SqsEventSource[] = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  env = await createTestEnvironment({
    retrySchedule: SCHEDULE,
    fairLanes: true,
    env: {
      RETRY_JITTER: "0",
      DELIVERY_TIMEOUT_MS: "1500",
      MAIN_LANE_TIMEOUT_MS: "300",
      BREAKER_THRESHOLD: "1",
      BREAKER_COOLDOWN_MS: "2000",
      ENDPOINT_CONCURRENCY: "2",
      ENDPOINT_HEALTH_CACHE_TTL_MS: "0",
      SLOW_LANE_STICKY_MS: "60000",
      POWERTOOLS_LOG_LEVEL: "SILENT",
      POWERTOOLS_METRICS_DISABLED: "true",
    },
  });
  env.applyToProcessEnv();
  repos = repositoriesFor(env);
  const delivery = await import("#functions/delivery.ts");
  sources = startDeliverySources(
    env,
    [env.queues.deliveryQueueUrl, env.queues.slowDeliveryQueueUrl],
    delivery.handler,
    POLLERS,
  );
});

afterAll(async () => {
  await Promise.all(sources.map((source) => source.stop()));
  await Promise.all(receivers.map((r) => r.close()));
  env?.close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const started = await startReceiver(...args);
  receivers.push(started);
  return started;
}

async function queueCounts(queueUrl: string) {
  const { Attributes = {} } = await env.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    }),
  );
  return {
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed),
  };
}

async function statusesOf(customerId: string, jobs: readonly DeliveryJob[]) {
  return Promise.all(
    jobs.map(async (job) => (await repos.deliveries.get(customerId, job.delivery_id))?.status),
  );
}

describe("waits out of flight, fair lanes on", () => {
  it("keeps in flight ≤ pollers × batch size while sixty failing deliveries wait out their retries", {
    timeout: 200_000,
  }, async () => {
    const customer = randomUUID();
    const r = await receiver(() => ({ status: 500, body: "down" }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const jobs = await enqueueJobs(env, customer, subscription.id, 60);
    const bound = POLLERS * DELIVERY_BATCH.batchSize;
    let maxInFlight = 0;
    let maxDelayed = 0;
    await waitFor(
      async () => {
        const counts = await queueCounts(env.queues.deliveryQueueUrl);
        maxInFlight = Math.max(maxInFlight, counts.inFlight);
        maxDelayed = Math.max(maxDelayed, counts.delayed);
        return r.requests.length >= jobs.length * (SCHEDULE.length + 1);
      },
      { timeoutMs: 160_000, intervalMs: 20, description: "every attempt of every delivery made" },
    );
    // More were waiting at once, as delayed messages, than in flight could hold; in flight stayed at
    // the work.
    expect(maxDelayed).toBeGreaterThan(bound);
    expect(maxInFlight).toBeLessThanOrEqual(bound + 2);
    // Every delivery got its four attempts and was dead-lettered by our code, none by SQS.
    await waitFor(async () => (await statusesOf(customer, jobs)).every((s) => s === "dead"), {
      timeoutMs: 20_000,
    });
    const dead = await env.receiveAll(env.queues.deliveryDlqUrl, { waitMs: 2000 });
    const mine = dead.filter((m) => JSON.parse(m.Body ?? "{}").subscription_id === subscription.id);
    expect(mine).toHaveLength(jobs.length);
    expect(mine.every((m) => m.MessageAttributes?.reason?.StringValue === "attempts_exhausted")).toBe(true);
    expect(r.requests).toHaveLength(jobs.length * (SCHEDULE.length + 1));
  });

  it("a job deferred by an open breaker stays queued (pending, no attempt used) and is delivered after the cooldown, in the slow lane, with its webhook-id", {
    timeout: 60_000,
  }, async () => {
    const customer = randomUUID();
    let blackHole = true;
    const r = await receiver(() => (blackHole ? { status: 200, delayMs: 5000 } : { status: 204 }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    // The endpoint is known to black-hole: its jobs go to the slow lane unsent, the first one dialled
    // there times out and opens the breaker (threshold 1), and the others are deferred.
    const health = new EndpointHealthStore(DynamoDBDocumentClient.from(env.dynamodb), env.tableName, 0);
    await health.apply(r.url, { kind: "mark_slow", slowUntil: Date.now() + 60_000 }, Date.now());
    const jobs = await enqueueJobs(env, customer, subscription.id, 6);
    // Deferred ones show as pending with a due time and no attempt: queued, not lost, not retried.
    await waitFor(
      async () => {
        const records = await Promise.all(jobs.map((job) => repos.deliveries.get(customer, job.delivery_id)));
        return records.some(
          (rec) => rec?.status === "pending" && rec.attempts.length === 0 && rec.next_attempt_at,
        );
      },
      { timeoutMs: 15_000, description: "a job deferred by the open breaker" },
    );
    const slow = await env.inspectQueue(env.queues.slowDeliveryQueueUrl);
    expect(slow.delayed.length).toBeGreaterThan(0);
    expect(slow.inflight.length).toBeLessThanOrEqual(POLLERS * DELIVERY_BATCH.batchSize);
    blackHole = false;
    await waitFor(async () => (await statusesOf(customer, jobs)).every((s) => s === "succeeded"), {
      timeoutMs: 30_000,
      description: "every job delivered after the cooldown",
    });
    // Each delivered once with its own webhook-id (the deferrals and the hand-over kept it).
    const answered = r.requests.slice(-jobs.length);
    expect(new Set(answered.map((q) => q.headers["webhook-id"]))).toEqual(
      new Set(jobs.map((j) => j.webhook_id)),
    );
    for (const job of jobs) {
      const record = await repos.deliveries.get(customer, job.delivery_id);
      // A deferral uses no attempt: at most the black-holed ones and the success.
      expect(record?.attempts.at(-1)?.status_code).toBe(204);
      expect(record?.attempts.length).toBeLessThanOrEqual(3);
    }
    const dead = await env.receiveAll(env.queues.deliveryDlqUrl, { waitMs: 200 });
    expect(dead.filter((m) => JSON.parse(m.Body ?? "{}").subscription_id === subscription.id)).toHaveLength(
      0,
    );
  });

  it("holds a slow endpoint to exactly its cap of concurrent requests, and keeps sending it jobs after the cap filled and drained", {
    timeout: 60_000,
  }, async () => {
    const customer = randomUUID();
    let inFlight = 0;
    let maxConcurrent = 0;
    const r = await receiver(async () => {
      inFlight++;
      maxConcurrent = Math.max(maxConcurrent, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 600));
      inFlight--;
      return { status: 200 };
    });
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const health = new EndpointHealthStore(DynamoDBDocumentClient.from(env.dynamodb), env.tableName, 0);
    await health.apply(r.url, { kind: "mark_slow", slowUntil: Date.now() + 60_000 }, Date.now());
    const jobs = await enqueueJobs(env, customer, subscription.id, 12);
    await waitFor(async () => (await statusesOf(customer, jobs)).every((s) => s === "succeeded"), {
      timeoutMs: 40_000,
      description: "every job of the slow endpoint delivered",
    });
    // ENDPOINT_CONCURRENCY is 2: reached, never passed.
    expect(maxConcurrent).toBe(2);
    expect(new Set(r.requests.map((q) => q.headers["webhook-id"]))).toEqual(
      new Set(jobs.map((j) => j.webhook_id)),
    );
    expect(r.requests).toHaveLength(jobs.length);
  });
});
