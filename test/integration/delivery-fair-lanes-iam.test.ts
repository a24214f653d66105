/**
 * The delivery function's role allows the calls of fair delivery (docs/security.md, "What the roles
 * allow, and how it is checked"): the endpoint health store's read and write on the main table and
 * the hand-off of a slow endpoint's job to the slow queue. The shared state's writes are advice whose
 * failure is only logged ("could not update the endpoint's shared state"), so on AWS a missing grant
 * would silently turn fair delivery off: only this check sees it.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enqueueJobs, type PipelineHarness, startPipelineHarness } from "../support/pipeline.ts";
import { seedSubscription } from "../support/subscriptions.ts";
import { waitFor } from "../support/wait.ts";

let harness: PipelineHarness;
beforeAll(async () => {
  harness = await startPipelineHarness({
    deliverySource: true,
    fairLanes: true,
    env: {
      RETRY_JITTER: "0",
      DELIVERY_TIMEOUT_MS: "5000",
      MAIN_LANE_TIMEOUT_MS: "300",
      ENDPOINT_HEALTH_CACHE_TTL_MS: "0",
      SLOW_LANE_STICKY_MS: "60000",
    },
  });
});
afterAll(() => harness?.close());

describe("the delivery function's role, fair lanes on", () => {
  it("allows the endpoint health store's calls and the slow-lane hand-off of a slow endpoint's job", {
    timeout: 90_000,
  }, async () => {
    const { env, repos } = harness;
    const customer = randomUUID();
    // Slower than the main lane's budget, well inside the delivery timeout.
    const r = await harness.receiver(() => ({ status: 200, delayMs: 1000 }));
    const subscription = await seedSubscription(repos.subscriptions, { customer_id: customer, url: r.url });
    const delivered = async (jobs: readonly { delivery_id: string }[]) =>
      (await Promise.all(jobs.map((j) => repos.deliveries.get(customer, j.delivery_id)))).every(
        (record) => record?.status === "succeeded",
      );

    // The first job runs past the main lane's budget: the endpoint is marked slow in the shared state.
    const first = await enqueueJobs(env, customer, subscription.id, 1);
    await waitFor(() => delivered(first), { timeoutMs: 30_000, description: "the first job delivered" });
    // The next one is handed to the slow lane unsent, and delivered there.
    const second = await enqueueJobs(env, customer, subscription.id, 1);
    await waitFor(() => delivered(second), { timeoutMs: 30_000, description: "the second job delivered" });
    expect(r.requests.map((q) => q.headers["webhook-id"])).toEqual([
      first[0]?.webhook_id,
      second[0]?.webhook_id,
    ]);

    // The recorder saw the fair-lane calls (an empty record would pass any role).
    const calls = harness.recordedCalls().delivery;
    const table = `table:${env.tableName}`;
    const slowQueue = `queue:${env.queues.slowDeliveryQueueUrl.split("/").at(-1)}`;
    expect(calls).toContainEqual({ action: "dynamodb:BatchGetItem", resource: table });
    expect(calls).toContainEqual({ action: "dynamodb:UpdateItem", resource: table });
    expect(calls).toContainEqual({ action: "sqs:SendMessage", resource: slowQueue });
    expect(harness.ungrantedCalls(), "calls the roles do not allow (AccessDenied on AWS)").toEqual([]);
  });
});
