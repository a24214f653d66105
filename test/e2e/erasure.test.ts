/**
 * Erasure (PRODUCT §12, issue 24) as an operator runs it: `npm run ops -- erase` against `npm start`,
 * checked where the data was — the table (read item by item), the API, and the dead-letter and
 * unroutable queues — for the erased customer and for another customer who must keep everything.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RESOURCE_NAMES } from "#shared/resources.ts";
import { localCredentials } from "../../scripts/lib/local-stack.ts";
import {
  callApi,
  eventBridgeClient,
  killAllStacks,
  mintKey,
  type RunningStack,
  runNpmScript,
  startStack,
} from "../support/e2e-stack.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { itemsMentioning as itemsOfTable } from "../support/table-items.ts";
import { waitFor } from "../support/wait.ts";

let stack: RunningStack;
let ok: Receiver;
let failing: Receiver;
let doc: DynamoDBDocumentClient;

interface Customer {
  key: string;
  customerId: string;
  subscriptions: string[];
}
let erased: Customer;
let kept: Customer;
const callX = randomUUID();
const callY = randomUUID();

beforeAll(async () => {
  // One retry a second after the first attempt: a failing endpoint's deliveries are dead-lettered at once.
  stack = await startStack({ inMemory: true, env: { RETRY_SCHEDULE: "1" } });
  ok = await startReceiver(() => ({ status: 200, body: "ok" }));
  failing = await startReceiver(() => ({ status: 500, body: "down" }));
  doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.endpoints.dynamodb,
      region: "us-east-1",
      credentials: localCredentials(stack.endpoints.dynamodb),
    }),
  );
  erased = { ...(await mintKey(stack)), subscriptions: [] };
  kept = { ...(await mintKey(stack)), subscriptions: [] };
  for (const [customer, url] of [
    [erased, `${ok.url}/a`],
    [erased, `${failing.url}/a`],
    [kept, `${ok.url}/b`],
  ] as const) {
    const created = await callApi<{ id: string }>(stack, "POST", "/v1/subscriptions", {
      key: customer.key,
      body: { url, event_types: ["call_*"] },
    });
    expect(created.status, created.text).toBe(201);
    customer.subscriptions.push(created.body.id);
  }
}, 120_000);

afterAll(async () => {
  doc?.destroy();
  await ok?.close();
  await failing?.close();
  if (stack) await stack.interrupt().catch(() => stack.kill());
  killAllStacks();
});

async function put(customer: Customer, type: string, data: Record<string, unknown>): Promise<string> {
  const bus = eventBridgeClient(stack);
  try {
    const response = await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: "voipbin-events",
            Source: "voipbin.call-manager",
            DetailType: type,
            Detail: JSON.stringify({ customer_id: customer.customerId, data }),
          },
        ],
      }),
    );
    const id = response.Entries?.[0]?.EventId;
    if (!id) throw new Error(`PutEvents accepted nothing: ${JSON.stringify(response)}`);
    return id;
  } finally {
    bus.destroy();
  }
}

const hangup = (customer: Customer, callId: string) => ({
  id: callId,
  customer_id: customer.customerId,
  status: "hangup",
  hangup_reason: "normal",
  source: { type: "tel", target: "+821012345678" },
});

/** Both tables: the delivery records are in the deliveries one (docs/data-model.md). */
const itemsMentioning = async (text: string) => [
  ...(await itemsOfTable(doc, DEFAULT_RESOURCE_NAMES.table, text)),
  ...(await itemsOfTable(doc, DEFAULT_RESOURCE_NAMES.deliveriesTable, text)),
];

async function ops(...args: string[]) {
  return runNpmScript("ops", args, stack.cliEnv, 120_000);
}

async function parked(kind: "dead-letters" | "unroutable"): Promise<Record<string, unknown>[]> {
  const listed = await ops(kind, "list", "--json");
  expect(listed.code, listed.stderr).toBe(0);
  return listed.stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function deliveriesOf(customer: Customer, eventId: string): Promise<{ id: string; status: string }[]> {
  const response = await callApi<{ items: { id: string; status: string }[] }>(
    stack,
    "GET",
    `/v1/events/${eventId}/deliveries`,
    { key: customer.key },
  );
  return response.status === 200 ? response.body.items : [];
}

describe("npm run ops -- erase", () => {
  it("erases one resource's records, attempts, payloads and dead letters, then a whole customer, and nothing of anyone else", async () => {
    const eventX = await put(erased, "call_hangup", hangup(erased, callX));
    const eventY = await put(erased, "call_hangup", hangup(erased, callY));
    // Another customer's event about the same call id: not the erased customer's to lose.
    const keptX = await put(kept, "call_hangup", hangup(kept, callX));
    // An event VoIPBIN sent with a type nobody knows: parked on the unroutable queue with the customer's data.
    await put(erased, "call_teleported", hangup(erased, callY));

    // Each of the erased customer's events: delivered to one endpoint, dead-lettered at the other.
    await waitFor(
      async () => {
        const done = await Promise.all([eventX, eventY].map((event) => deliveriesOf(erased, event)));
        return done.every(
          (list) =>
            list.length === 2 &&
            list.some((d) => d.status === "dead") &&
            list.some((d) => d.status === "succeeded"),
        );
      },
      { timeoutMs: 60_000, intervalMs: 300, description: "the erased customer's deliveries to finish" },
    );
    await waitFor(async () => (await deliveriesOf(kept, keptX)).some((d) => d.status === "succeeded"), {
      timeoutMs: 30_000,
      intervalMs: 300,
      description: "the other customer's delivery",
    });
    const [xDeliveries, yDeliveries] = await Promise.all([
      deliveriesOf(erased, eventX),
      deliveriesOf(erased, eventY),
    ]);
    const deadX = xDeliveries.find((d) => d.status === "dead")?.id as string;
    const deadY = yDeliveries.find((d) => d.status === "dead")?.id as string;
    await waitFor(
      async () => {
        const ids = (await parked("dead-letters")).map((m) => m.delivery_id);
        return ids.includes(deadX) && ids.includes(deadY);
      },
      { timeoutMs: 30_000, intervalMs: 500, description: "both dead letters on the DLQ" },
    );
    await waitFor(async () => (await parked("unroutable")).some((m) => m.customer_id === erased.customerId), {
      timeoutMs: 30_000,
      intervalMs: 500,
      description: "the unknown type parked",
    });
    expect((await itemsMentioning(callX)).length).toBeGreaterThan(0);

    // A dry run counts and changes nothing.
    const before = (await itemsMentioning(erased.customerId)).length;
    const dry = await ops("erase", "--customer", erased.customerId, "--resource", callX, "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("Dry run: nothing changed.");
    expect(dry.stdout).toMatch(/\b2 {2}delivery records/);
    expect(dry.stdout).toMatch(/\b1 {2}event payloads/);
    expect(dry.stdout).toMatch(/\b1 {2}parked queue messages/);
    expect((await itemsMentioning(erased.customerId)).length).toBe(before);
    expect((await parked("dead-letters")).map((m) => m.delivery_id)).toContain(deadX);

    // One resource: the call's two deliveries (with their attempts), its payload and its dead letter.
    const byResource = await ops("erase", "--customer", erased.customerId, "--resource", callX);
    expect(byResource.code, byResource.stderr).toBe(0);
    expect(byResource.stderr).toContain("erase: scan:");
    expect(byResource.stdout).toMatch(/erased:/);
    expect(byResource.stdout).toMatch(/\b2 {2}delivery records/);
    for (const delivery of xDeliveries) {
      const read = await callApi(stack, "GET", `/v1/deliveries/${delivery.id}`, { key: erased.key });
      expect(read.status, delivery.id).toBe(404);
    }
    expect(await deliveriesOf(erased, eventX)).toEqual([]);
    // Their attempt items (kept under DELIVERY#<id>, without the customer's id) went with them.
    for (const delivery of xDeliveries) expect(await itemsMentioning(delivery.id), delivery.id).toEqual([]);
    expect(
      (await itemsMentioning(deadY)).length,
      "the other call's dead delivery has attempt items",
    ).toBeGreaterThan(1);
    expect(await deliveriesOf(erased, eventY)).toHaveLength(2);
    // Only the other customer's copy of the call is left in the table.
    const leftOfX = await itemsMentioning(callX);
    expect(leftOfX.length).toBeGreaterThan(0);
    expect(
      leftOfX.every(
        (item) => JSON.stringify(item).includes(kept.customerId) || String(item.SK).includes(kept.customerId),
      ),
    ).toBe(true);
    const dlq = (await parked("dead-letters")).map((m) => m.delivery_id);
    expect(dlq).not.toContain(deadX);
    expect(dlq).toContain(deadY);

    // The whole customer: nothing of it is left anywhere, and its key no longer opens the API.
    const all = await ops("erase", "--customer", erased.customerId);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/\b2 {2}subscriptions/);
    expect(await itemsMentioning(erased.customerId)).toEqual([]);
    for (const delivery of yDeliveries) expect(await itemsMentioning(delivery.id), delivery.id).toEqual([]);
    expect((await parked("dead-letters")).map((m) => m.customer_id)).not.toContain(erased.customerId);
    expect((await parked("unroutable")).map((m) => m.customer_id)).not.toContain(erased.customerId);
    const signedIn = await callApi(stack, "GET", "/v1/subscriptions", { key: erased.key });
    expect(signedIn.status).toBe(401);

    // The other customer keeps its subscription, its delivery of the same call, and its key.
    const keptDeliveries = await deliveriesOf(kept, keptX);
    expect(keptDeliveries).toHaveLength(1);
    const keptDelivery = await callApi<{ body: string }>(
      stack,
      "GET",
      `/v1/deliveries/${keptDeliveries[0]?.id}`,
      {
        key: kept.key,
      },
    );
    expect(keptDelivery.status).toBe(200);
    expect(keptDelivery.body.body).toContain(callX);
  }, 240_000);

  it("refuses a bad command line, listing every problem", async () => {
    const bad = await ops("erase", "--customer", "nope", "--resource", "", "--stage", "x");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--customer "nope" is not a UUID');
    expect(bad.stderr).toContain("--resource takes a resource id");
    expect(bad.stderr).toContain("--stage and --region apply to --aws");
  });
});
