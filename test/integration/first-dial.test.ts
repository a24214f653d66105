import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsEventSource } from "../../local/sqs-event-source.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/aws-env.ts";
import { enqueueJobs, repositoriesFor } from "../support/pipeline.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { seedSubscription } from "../support/subscriptions.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The first dial (docs/delivery.md, "The first dial"; issue 19, `fairness.burst_onset_p99_ms`): a
 * neighbour's jobs to a black hole nobody has seen all arrive at once and fill every main-lane
 * poller's batch. Without the first dial each of those pollers dials the black hole and is held for
 * the full timeout (an attempt is never abandoned), so another customer's deliveries wait that long.
 * With it, one attempt dials and the rest wait out of flight, so the other customer's deliveries
 * reach their receiver in well under the timeout. Seen where a user sees it: the requests on the
 * wire and when they came, and the delivery records (the deferred jobs used no attempt).
 */

const MAIN_POLLERS = 3;
const TIMEOUT_MS = 20_000;
// Long enough that a healthy receiver on a loaded machine is not marked slow (it would then wait
// behind the black hole in the slow lane); the deferral is the budget, 2 s.
const BUDGET_MS = 2000;

let env: TestEnvironment;
let repos: ReturnType<typeof repositoriesFor>;
let sources: SqsEventSource[] = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  env = await createTestEnvironment({
    retrySchedule: [60, 60],
    fairLanes: true,
    env: {
      RETRY_JITTER: "0",
      DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
      MAIN_LANE_TIMEOUT_MS: String(BUDGET_MS),
      POWERTOOLS_LOG_LEVEL: "SILENT",
      POWERTOOLS_METRICS_DISABLED: "true",
    },
  });
  env.applyToProcessEnv();
  repos = repositoriesFor(env);
  const delivery = await import("#functions/delivery.ts");
  sources = [
    [env.queues.deliveryQueueUrl, MAIN_POLLERS],
    [env.queues.slowDeliveryQueueUrl, 1],
  ].map(
    ([queueUrl, concurrency]) =>
      new SqsEventSource({
        sqs: env.sqs,
        queueUrl: queueUrl as string,
        handler: delivery.handler,
        waitTimeSeconds: 1,
        concurrency: concurrency as number,
      }),
  );
  for (const source of sources) source.start();
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await Promise.all(sources.map((source) => source.stop({ abortReceives: true })));
  env?.close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const started = await startReceiver(...args);
  receivers.push(started);
  return started;
}

describe("the first dial: one attempt at a time to an endpoint not proven fast", () => {
  it("a neighbour's burst to a new black hole holds one poller, not the main lane: another customer's deliveries arrive in a fraction of the timeout", {
    timeout: 90_000,
  }, async () => {
    // Accepts and reads every request, answers none within the timeout.
    const hole = await receiver(() => ({ status: 200, delayMs: 120_000 }));
    const neighbour = randomUUID();
    const holeSubscription = await seedSubscription(repos.subscriptions, {
      customer_id: neighbour,
      url: hole.url,
    });
    const healthy = await receiver();
    const customer = randomUUID();
    const healthySubscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: healthy.url,
    });

    // Enough of the neighbour's jobs to fill every main-lane poller's batch, all at once.
    const holeJobs = await enqueueJobs(env, neighbour, holeSubscription.id, MAIN_POLLERS * 10);
    await waitFor(async () => hole.requests.length >= 1, {
      timeoutMs: 20_000,
      description: "the first dial",
    });
    const firstDialAt = Date.now();
    const put = Date.now();
    await enqueueJobs(env, customer, healthySubscription.id, 5);
    await healthy.waitForRequests(5, 30_000);
    const latencies = healthy.requests.map((request) => request.receivedAt - put);
    // Without the first dial every poller waits out the 20 s timeout first.
    expect(Math.max(...latencies)).toBeLessThan(TIMEOUT_MS / 2);
    // The black hole was dialled once by the main lane before its budget marked it slow.
    const mainLaneDials = hole.requests.filter((request) => request.receivedAt < firstDialAt + BUDGET_MS);
    expect(mainLaneDials).toHaveLength(1);

    // The deferred jobs used no attempt and are still the live jobs of their deliveries.
    const records = await Promise.all(
      holeJobs.map((job) => repos.deliveries.get(neighbour, job.delivery_id)),
    );
    const attempted = records.filter((record) => (record?.attempts.length ?? 0) > 0);
    expect(attempted.length).toBeLessThanOrEqual(hole.requests.length);
    expect(records.every((record) => record === null || record.status !== "dead")).toBe(true);
  });

  it("a new endpoint that answers gets every job of its first burst within seconds, each once", {
    timeout: 60_000,
  }, async () => {
    const endpoint = await receiver();
    const customer = randomUUID();
    const subscription = await seedSubscription(repos.subscriptions, {
      customer_id: customer,
      url: endpoint.url,
    });
    const put = Date.now();
    const jobs = await enqueueJobs(env, customer, subscription.id, 25);
    await endpoint.waitForRequests(jobs.length, 30_000);
    // The first answer proved the endpoint fast and released the first dial: the jobs that waited
    // for it came back after one deferral, not after the lease ran out.
    expect(Math.max(...endpoint.requests.map((request) => request.receivedAt - put))).toBeLessThan(8000);
    await waitFor(
      async () =>
        (await Promise.all(jobs.map((job) => repos.deliveries.get(customer, job.delivery_id)))).every(
          (record) => record?.status === "succeeded",
        ),
      { timeoutMs: 20_000, description: "every delivery succeeded" },
    );
    const ids = endpoint.requests.map((request) => request.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(jobs.length);
    expect(ids.sort()).toEqual(jobs.map((job) => job.webhook_id).sort());
  });
});
