import { createHmac, randomUUID } from "node:crypto";
import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleEntry } from "../../local/samples.ts";
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
 * The delivery side end to end, as users meet it: `npm start` in a child process, events put with the
 * AWS SDK, subscriptions made over HTTP, real receivers on loopback. One stack for the file, with a
 * one-second retry schedule so that retries and dead letters happen within seconds.
 */

let stack: RunningStack;
let bus: EventBridgeClient;
const receivers: Receiver[] = [];

beforeAll(async () => {
  stack = await startStack({ inMemory: true, env: { RETRY_SCHEDULE: "1,1,1" } });
  bus = eventBridgeClient(stack);
});

afterAll(() => stopE2eStack(stack, { clients: [bus], receivers }));

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(respond);
  receivers.push(started);
  return started;
}

interface Created {
  id: string;
  secret: string;
}

async function subscribe(key: string, fields: Record<string, unknown>): Promise<Created> {
  const response = await callApi<Created>(stack, "POST", "/v1/subscriptions", { key, body: fields });
  expect(response.status, response.text).toBe(201);
  return response.body;
}

async function put(entries: { Source: string; DetailType: string; Detail: string }[]): Promise<string[]> {
  const response = await bus.send(
    new PutEventsCommand({ Entries: entries.map((entry) => ({ ...entry, EventBusName: "voipbin-events" })) }),
  );
  expect(response.FailedEntryCount).toBe(0);
  return (response.Entries ?? []).map((entry) => entry.EventId ?? "");
}

const pathOf = (request: RecordedRequest) => request.url.split("?")[0] ?? "";
const typeOf = (request: RecordedRequest) => (JSON.parse(request.body) as { type: string }).type;

interface DeliveryView {
  id: string;
  webhook_id: string;
  status: string;
  attempts: { status_code: number | null }[];
}

async function deliveriesOf(key: string, subscriptionId: string): Promise<DeliveryView[]> {
  const response = await callApi<{ items: DeliveryView[] }>(
    stack,
    "GET",
    `/v1/subscriptions/${subscriptionId}/deliveries`,
    { key },
  );
  expect(response.status).toBe(200);
  return response.body.items;
}

describe("fan-out", () => {
  it("delivers each event to the matching subscriptions only (exact type, resource_*, *, activeflow_id), signed", async () => {
    const { key, customerId } = await mintKey(stack);
    const other = await mintKey(stack);
    const endpoint = await receiver();
    const flowId = randomUUID();
    const subscriptions = {
      exact: await subscribe(key, { url: `${endpoint.url}/exact`, event_types: ["call_hangup"] }),
      wildcard: await subscribe(key, { url: `${endpoint.url}/wildcard`, event_types: ["message_*"] }),
      all: await subscribe(key, { url: `${endpoint.url}/all`, event_types: ["*"] }),
      flow: await subscribe(key, {
        url: `${endpoint.url}/flow`,
        event_types: ["*"],
        activeflow_id: flowId,
        method: "PUT",
      }),
      otherCustomer: await subscribe(other.key, { url: `${endpoint.url}/other`, event_types: ["*"] }),
    };
    const entries = [
      sampleEntry("call_hangup", { customerId, activeflowId: flowId }),
      sampleEntry("call_created", { customerId, activeflowId: randomUUID() }),
      sampleEntry("message_created", { customerId }),
      sampleEntry("recording_finished", { customerId }),
    ];
    await put(entries);

    const expected: Record<string, string[]> = {
      "/exact": ["call_hangup"],
      "/wildcard": ["message_created"],
      "/all": ["call_created", "call_hangup", "message_created", "recording_finished"],
      "/flow": ["call_hangup"],
    };
    const got = () => {
      const byPath: Record<string, string[]> = {};
      for (const request of endpoint.requests) {
        byPath[pathOf(request)] = [...(byPath[pathOf(request)] ?? []), typeOf(request)];
      }
      for (const types of Object.values(byPath)) types.sort();
      return byPath;
    };
    await waitFor(() => endpoint.requests.length >= 7, { timeoutMs: 15_000, description: "7 deliveries" });
    expect(got()).toEqual(expected);

    const secrets: Record<string, string> = {
      "/exact": subscriptions.exact.secret,
      "/wildcard": subscriptions.wildcard.secret,
      "/all": subscriptions.all.secret,
      "/flow": subscriptions.flow.secret,
    };
    for (const request of endpoint.requests) {
      const secret = secrets[pathOf(request)] ?? "";
      const entry = entries.find((candidate) => candidate.DetailType === typeOf(request));
      const data = (JSON.parse(entry?.Detail ?? "{}") as { data: unknown }).data;
      // VoIPBIN's envelope byte for byte, signed per Standard Webhooks and the legacy header.
      expect(request.body).toBe(JSON.stringify({ type: typeOf(request), data }));
      expect(new Webhook(secret).verify(request.body, request.headers)).toEqual(JSON.parse(request.body));
      expect(() =>
        new Webhook(subscriptions.otherCustomer.secret).verify(request.body, request.headers),
      ).toThrow();
      const keyBytes = Buffer.from(secret.slice("whsec_".length), "base64");
      expect(request.headers["x-voipbin-signature"]).toBe(
        `sha256=${createHmac("sha256", keyBytes).update(request.body).digest("hex")}`,
      );
      expect(request.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["user-agent"]).toMatch(/^voipbin-webhooks\//);
      expect(request.method).toBe(pathOf(request) === "/flow" ? "PUT" : "POST");
    }
    // One event, three subscriptions: three different webhook-ids.
    const hangupIds = endpoint.requests
      .filter((request) => typeOf(request) === "call_hangup")
      .map((request) => request.headers["webhook-id"]);
    expect(new Set(hangupIds).size).toBe(3);
    // The delivery log agrees with what the receiver saw.
    const [logged] = await deliveriesOf(key, subscriptions.exact.id);
    expect(logged).toMatchObject({ status: "succeeded", attempts: [{ status_code: 200 }] });
    expect(logged?.webhook_id).toBe(
      endpoint.requests.find((r) => pathOf(r) === "/exact")?.headers["webhook-id"],
    );
  });
});

describe("retries", () => {
  it("retries on the schedule, dead-letters after the last attempt, and a manual retry delivers with the same webhook-id", async () => {
    const { key, customerId } = await mintKey(stack);
    let up = false;
    const endpoint = await receiver(() => (up ? { status: 200 } : { status: 503, body: "down" }));
    const subscription = await subscribe(key, { url: `${endpoint.url}/hook`, event_types: ["call_created"] });
    await put([sampleEntry("call_created", { customerId })]);

    // RETRY_SCHEDULE 1,1,1: four attempts, about a second apart (±20 % jitter).
    const attempts = await endpoint.waitForRequests(4, 15_000);
    const gaps = attempts.slice(1).map((request, i) => request.receivedAt - (attempts[i]?.receivedAt ?? 0));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(750);
    const webhookId = attempts[0]?.headers["webhook-id"];
    expect(new Set(attempts.map((request) => request.headers["webhook-id"]))).toEqual(new Set([webhookId]));
    for (const request of attempts) {
      expect(() => new Webhook(subscription.secret).verify(request.body, request.headers)).not.toThrow();
    }

    let delivery: DeliveryView | undefined;
    await waitFor(
      async () => {
        [delivery] = await deliveriesOf(key, subscription.id);
        return delivery?.status === "dead";
      },
      { timeoutMs: 10_000, description: "the delivery to be dead" },
    );
    expect(delivery?.attempts.map((attempt) => attempt.status_code)).toEqual([503, 503, 503, 503]);
    expect(endpoint.requests).toHaveLength(4);

    up = true;
    const retry = await callApi(stack, "POST", `/v1/deliveries/${delivery?.id}/retry`, { key });
    expect(retry.status, retry.text).toBe(202);
    const [, , , , redelivered] = await endpoint.waitForRequests(5, 10_000);
    expect(redelivered?.headers["webhook-id"]).toBe(webhookId);
    expect(redelivered?.body).toBe(attempts[0]?.body);
    expect(() =>
      new Webhook(subscription.secret).verify(redelivered?.body ?? "", redelivered?.headers ?? {}),
    ).not.toThrow();
    await waitFor(
      async () => {
        const one = await callApi<DeliveryView>(stack, "GET", `/v1/deliveries/${delivery?.id}`, { key });
        return one.body.status === "succeeded" && one.body.attempts.length === 5;
      },
      { timeoutMs: 10_000, description: "the retried delivery to succeed" },
    );
  });

  it("a 410 Gone disables the subscription, stops its deliveries and announces webhook_subscription_disabled", async () => {
    const { key, customerId } = await mintKey(stack);
    const gone = await receiver(() => ({ status: 410 }));
    const watcher = await receiver();
    const subscription = await subscribe(key, { url: `${gone.url}/gone`, event_types: ["call_hangup"] });
    await subscribe(key, {
      url: `${watcher.url}/ops`,
      event_types: ["webhook_subscription_disabled", "call_hangup"],
    });
    await put([sampleEntry("call_hangup", { customerId })]);

    await gone.waitForRequests(1, 10_000);
    await waitFor(
      async () => {
        const one = await callApi<{ status: string; disabled_reason: string | null }>(
          stack,
          "GET",
          `/v1/subscriptions/${subscription.id}`,
          { key },
        );
        return one.body.status === "disabled" && one.body.disabled_reason === "endpoint_gone";
      },
      { timeoutMs: 10_000, description: "the subscription to be disabled" },
    );
    const [delivery] = await deliveriesOf(key, subscription.id);
    expect(delivery).toMatchObject({ status: "dead", attempts: [{ status_code: 410 }] });

    // The system's own event reaches the customer's other endpoint, without any secret.
    await waitFor(() => watcher.requests.some((r) => typeOf(r) === "webhook_subscription_disabled"), {
      timeoutMs: 10_000,
      description: "webhook_subscription_disabled to be delivered",
    });
    const announced = watcher.requests.find((r) => typeOf(r) === "webhook_subscription_disabled");
    expect(JSON.parse(announced?.body ?? "{}")).toMatchObject({
      data: {
        id: subscription.id,
        status: "disabled",
        disabled_reason: "endpoint_gone",
        reason: "endpoint_gone",
      },
    });
    expect(announced?.body).not.toContain("whsec_");

    // A later event reaches the other subscription, not the disabled one.
    const hangups = () => watcher.requests.filter((r) => typeOf(r) === "call_hangup").length;
    await put([sampleEntry("call_hangup", { customerId })]);
    await waitFor(() => hangups() === 2, { timeoutMs: 10_000, description: "the second call_hangup" });
    expect(gone.requests).toHaveLength(1);
    expect(await deliveriesOf(key, subscription.id)).toHaveLength(1);
  });
});
