import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleEntry } from "../../local/samples.ts";
import { eventTypeDocs } from "../../shared/domain/events/event-schemas.ts";
import {
  callApi,
  eventBridgeClient,
  mintKey,
  type RunningStack,
  startStack,
  stopE2eStack,
} from "../support/e2e-stack.ts";
import { type Receiver, type RecordedRequest, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Warnings before loss (PRODUCT §12), as a customer meets them: a second subscription of the customer
 * receives `webhook_endpoint_failing` once per failing streak, `webhook_delivery_exhausted` for each
 * dead delivery and `webhook_endpoint_recovered` when the streak ends, signed like any delivery;
 * the failing subscription, subscribed to them too, never receives one. One-second retry schedule
 * (four attempts), so deliveries go dead within seconds.
 */

const AUTO_DISABLE_AFTER_SECONDS = 86_400;
const WARNINGS = ["webhook_endpoint_failing", "webhook_delivery_exhausted", "webhook_endpoint_recovered"];

let stack: RunningStack;
let bus: EventBridgeClient;
const receivers: Receiver[] = [];

beforeAll(async () => {
  stack = await startStack({
    inMemory: true,
    env: { RETRY_SCHEDULE: "1,1,1", AUTO_DISABLE_AFTER_SECONDS: String(AUTO_DISABLE_AFTER_SECONDS) },
  });
  bus = eventBridgeClient(stack);
});

afterAll(() => stopE2eStack(stack, { clients: [bus], receivers }));

/** One call_hangup of the customer's, through the bus. */
async function putHangup(customerId: string): Promise<void> {
  const response = await bus.send(
    new PutEventsCommand({
      Entries: [{ ...sampleEntry("call_hangup", { customerId }), EventBusName: "voipbin-events" }],
    }),
  );
  expect(response.FailedEntryCount).toBe(0);
}

const typeOf = (request: RecordedRequest) => (JSON.parse(request.body) as { type: string }).type;
const dataOf = (request: RecordedRequest) =>
  (JSON.parse(request.body) as { data: Record<string, unknown> }).data;

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);

describe("warnings before loss", () => {
  it("a second subscription is told when an endpoint starts failing, loses a delivery and recovers; the failing one never is", async () => {
    const { key, customerId } = await mintKey(stack);
    let healthy = false;
    const failing = await startReceiver(() => ({ status: healthy ? 200 : 503 }));
    const watcher = await startReceiver();
    receivers.push(failing, watcher);
    const subscribe = async (fields: Record<string, unknown>) => {
      const response = await callApi<{ id: string; secret: string }>(stack, "POST", "/v1/subscriptions", {
        key,
        body: fields,
      });
      expect(response.status, response.text).toBe(201);
      return response.body;
    };
    // The failing endpoint asks for the warnings too: they are about it, so they never go to it.
    const subject = await subscribe({ url: `${failing.url}/crm`, event_types: ["call_hangup", ...WARNINGS] });
    const ops = await subscribe({ url: `${watcher.url}/ops`, event_types: WARNINGS });
    const put = () => putHangup(customerId);
    const received = (type: string) => watcher.requests.filter((request) => typeOf(request) === type);

    // Streak one: two events, eight failed attempts, two dead deliveries, one failing warning.
    await put();
    await put();
    await waitFor(() => received("webhook_delivery_exhausted").length === 2, {
      timeoutMs: 30_000,
      description: "two webhook_delivery_exhausted",
    });
    expect(failing.requests.length).toBe(8);
    expect(received("webhook_endpoint_failing")).toHaveLength(1);

    const [warning] = received("webhook_endpoint_failing");
    const failingData = dataOf(warning as RecordedRequest);
    const firstAttempt = Math.min(...failing.requests.map((request) => request.receivedAt));
    expect(failingData).toMatchObject({
      subscription_id: subject.id,
      url: `${failing.url}/crm`,
      event_type: "call_hangup",
      last_attempt: { status_code: 503, error: null },
    });
    const since = Date.parse(String(failingData.failing_since));
    expect(Math.abs(since - firstAttempt)).toBeLessThan(2_000);
    expect(Date.parse(String(failingData.auto_disable_at)) - since).toBe(AUTO_DISABLE_AFTER_SECONDS * 1000);

    const deliveries = await callApi<{ items: { id: string; status: string }[] }>(
      stack,
      "GET",
      `/v1/subscriptions/${subject.id}/deliveries`,
      { key },
    );
    const dead = deliveries.body.items.filter((delivery) => delivery.status === "dead").map((d) => d.id);
    expect(dead).toHaveLength(2);
    const exhausted = received("webhook_delivery_exhausted").map(dataOf);
    expect(exhausted.map((data) => data.delivery_id).sort()).toEqual([...dead].sort());
    for (const data of exhausted) {
      expect(data).toMatchObject({ subscription_id: subject.id, event_type: "call_hangup", attempts: 4 });
    }

    // Streak ends: one success, one recovered warning.
    healthy = true;
    await put();
    await waitFor(() => received("webhook_endpoint_recovered").length === 1, {
      timeoutMs: 20_000,
      description: "webhook_endpoint_recovered",
    });
    const recovered = dataOf(received("webhook_endpoint_recovered")[0] as RecordedRequest);
    expect(recovered).toMatchObject({
      subscription_id: subject.id,
      failing_since: failingData.failing_since,
    });

    // Streak two: its own failing warning.
    healthy = false;
    await put();
    await waitFor(() => received("webhook_endpoint_failing").length === 2, {
      timeoutMs: 20_000,
      description: "the second streak's webhook_endpoint_failing",
    });
    await waitFor(() => received("webhook_delivery_exhausted").length === 3, {
      timeoutMs: 30_000,
      description: "the second streak's dead delivery",
    });

    // What the watcher got: signed with its own secret (a standardwebhooks receiver accepts each),
    // each `data` valid against the catalogue's schema for its type.
    const verifier = new Webhook(ops.secret);
    for (const request of watcher.requests) {
      expect(() => verifier.verify(request.body, request.headers)).not.toThrow();
      const docs = eventTypeDocs(typeOf(request));
      expect(docs, typeOf(request)).toBeDefined();
      const check = ajv.compile(docs?.schema ?? {});
      expect({ type: typeOf(request), valid: check(dataOf(request)), errors: check.errors ?? null }).toEqual({
        type: typeOf(request),
        valid: true,
        errors: null,
      });
    }
    expect(watcher.requests.map(typeOf).sort()).toEqual(
      [
        "webhook_delivery_exhausted",
        "webhook_delivery_exhausted",
        "webhook_delivery_exhausted",
        "webhook_endpoint_failing",
        "webhook_endpoint_failing",
        "webhook_endpoint_recovered",
      ].sort(),
    );
    // The failing subscription got its call_hangups only, never a warning about itself.
    expect(failing.requests.map(typeOf).every((type) => type === "call_hangup")).toBe(true);
    expect(failing.requests).toHaveLength(8 + 1 + 4);
  });
});

describe("why was it late", () => {
  it("a retried delivery's breakdown adds up to its real age: routing, queue, backoff and the receiver's time", async () => {
    const { key, customerId } = await mintKey(stack);
    const RECEIVER_DELAY_MS = 150;
    const slow = await startReceiver((_request, n) => ({
      status: n < 3 ? 503 : 200,
      delayMs: RECEIVER_DELAY_MS,
    }));
    receivers.push(slow);
    const created = await callApi<{ id: string }>(stack, "POST", "/v1/subscriptions", {
      key,
      body: { url: `${slow.url}/late`, event_types: ["call_hangup"] },
    });
    expect(created.status, created.text).toBe(201);
    await putHangup(customerId);
    await slow.waitForRequests(3, 20_000);
    type Timing = Record<
      "age_ms" | "queued_ms" | "fairness_ms" | "backoff_ms" | "receiver_ms" | "idle_ms",
      number
    > & { routing_ms: number | null };
    type View = { id: string; status: string; created_at: string; timing: Timing };
    let delivery: View | undefined;
    await waitFor(
      async () => {
        const list = await callApi<{ items: View[] }>(
          stack,
          "GET",
          `/v1/subscriptions/${created.body.id}/deliveries`,
          { key },
        );
        const id = list.body.items[0]?.id;
        if (id === undefined) return false;
        delivery = (await callApi<View>(stack, "GET", `/v1/deliveries/${id}`, { key })).body;
        return delivery.status === "succeeded";
      },
      { timeoutMs: 10_000, description: "the retried delivery to succeed" },
    );
    const { timing, created_at } = delivery as View;
    // Its real age: from the event's time to the third answer, as the receiver saw it.
    const third = slow.requests[2]?.receivedAt ?? 0;
    const realAge = third + RECEIVER_DELAY_MS - Date.parse(created_at);
    expect(Math.abs(timing.age_ms - realAge)).toBeLessThan(400);
    const { age_ms, routing_ms, ...parts } = timing;
    expect((routing_ms ?? 0) + Object.values(parts).reduce((a, b) => a + b, 0)).toBe(age_ms);
    expect(routing_ms).not.toBeNull();
    // Two retries of 1 s ± 20 % jitter; three answers of at least 150 ms each; nothing held or idle.
    expect(timing.backoff_ms).toBeGreaterThanOrEqual(1_600);
    expect(timing.backoff_ms).toBeLessThanOrEqual(2_400);
    expect(timing.receiver_ms).toBeGreaterThanOrEqual(3 * RECEIVER_DELAY_MS);
    expect(timing.receiver_ms).toBeLessThan(3 * RECEIVER_DELAY_MS + 600);
    expect(timing.fairness_ms).toBe(0);
    expect(timing.idle_ms).toBe(0);
  });
});
