import { randomUUID } from "node:crypto";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callApi,
  eventBridgeClient,
  killAllStacks,
  mintKey,
  type RunningStack,
  runNpmScript,
  startStack,
} from "../support/e2e-stack.ts";
import { type Receiver, type RecordedRequest, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The catalogue without a redeploy (PRODUCT §11), as an operator runs it against `npm start`: VoIPBIN
 * starts sending a type the catalogue does not know, it is parked; `unroutable drift` shows it with
 * counts; `event-types add` makes it known; `unroutable redrive --type` replays the parked events and
 * a `<resource>_*` subscriber receives them, signed; `GET /v1/event-types` lists the added type.
 */

let stack: RunningStack;
let receiver: Receiver;
let key: string;
let customerId: string;
let callSecret: string;

const NEW_TYPE = "call_transferred";

const ops = (...args: string[]) => runNpmScript("ops", args, stack.cliEnv, 60_000);
const body = (request: RecordedRequest) => JSON.parse(request.body) as { type: string; data: { id: string } };

interface Drift {
  type: string;
  count: number;
  sources: string[];
  first_seen: string | null;
  last_seen: string | null;
  catalogue: string;
}

async function drift(): Promise<Drift[]> {
  const result = await ops("unroutable", "drift", "--json");
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Drift);
}

beforeAll(async () => {
  stack = await startStack({ inMemory: true });
  receiver = await startReceiver();
  const minted = await mintKey(stack);
  key = minted.key;
  customerId = minted.customerId;
  const calls = await callApi<{ secret: string }>(stack, "POST", "/v1/subscriptions", {
    key,
    body: { url: `${receiver.url}/calls`, event_types: ["call_*"] },
  });
  expect(calls.status, calls.text).toBe(201);
  callSecret = calls.body.secret;
  const messages = await callApi(stack, "POST", "/v1/subscriptions", {
    key,
    body: { url: `${receiver.url}/messages`, event_types: ["message_*"] },
  });
  expect(messages.status, messages.text).toBe(201);
}, 90_000);

afterAll(async () => {
  await receiver?.close();
  await stack?.interrupt().catch(() => stack.kill());
  killAllStacks();
});

describe("npm run ops -- event-types and unroutable drift", () => {
  it("refuses a bad type with every problem listed", async () => {
    const result = await ops("event-types", "add", "Call-Moved");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/lower-case snake case/);
    expect(result.stderr).toMatch(/add needs --resource/);
    expect(result.stderr).toMatch(/add needs --description/);
    const reserved = await ops(
      "event-types",
      "add",
      "webhook_replayed",
      "--resource",
      "webhook",
      "--description",
      "x",
    );
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toMatch(/reserved/);
    expect(reserved.stderr).toMatch(/system's own/);
  }, 60_000);

  it("parks an unknown type, shows its drift, and delivers its parked events once the type is added", async () => {
    const ids = [randomUUID(), randomUUID()];
    const bus = eventBridgeClient(stack);
    try {
      const put = await bus.send(
        new PutEventsCommand({
          Entries: [
            ...ids.map((id) => ({
              EventBusName: "voipbin-events",
              Source: "voipbin.call-manager",
              DetailType: NEW_TYPE,
              Detail: JSON.stringify({ customer_id: customerId, data: { id, status: "transferred" } }),
            })),
            {
              EventBusName: "voipbin-events",
              Source: "voipbin.flow-manager",
              DetailType: "flowthing_happened",
              Detail: JSON.stringify({ customer_id: customerId, data: { id: randomUUID() } }),
            },
          ],
        }),
      );
      expect(put.FailedEntryCount).toBe(0);
    } finally {
      bus.destroy();
    }

    let rows: Drift[] = [];
    await waitFor(
      async () => {
        rows = await drift();
        return rows.find((row) => row.type === NEW_TYPE)?.count === 2 && rows.length === 2;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: "both unknown types parked" },
    );
    const parked = rows.find((row) => row.type === NEW_TYPE) as Drift;
    expect(parked).toMatchObject({ count: 2, sources: ["voipbin.call-manager"], catalogue: "unknown" });
    expect(Date.parse(parked.first_seen ?? "")).toBeLessThanOrEqual(Date.parse(parked.last_seen ?? ""));
    expect(rows.find((row) => row.type === "flowthing_happened")).toMatchObject({ count: 1 });
    expect(receiver.requests).toHaveLength(0);
    // Not in the catalogue yet: a customer cannot subscribe to it by name.
    const early = await callApi<{ error: { code: string; details: { path: string }[] } }>(
      stack,
      "POST",
      "/v1/subscriptions",
      { key, body: { url: `${receiver.url}/exact`, event_types: [NEW_TYPE, "fax_*"] } },
    );
    expect(early.status, early.text).toBe(400);
    expect(early.body.error.details.map((detail) => detail.path)).toEqual(["event_types.0", "event_types.1"]);

    const added = await ops(
      "event-types",
      "add",
      NEW_TYPE,
      "--resource",
      "call",
      "--description",
      "A call was transferred to another destination.",
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`unroutable redrive --type ${NEW_TYPE}`);
    const again = await ops("event-types", "add", NEW_TYPE, "--resource", "call", "--description", "again");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/added already/);

    const listed = await ops("event-types", "list", "--json");
    expect(
      listed.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toContainEqual(expect.objectContaining({ type: NEW_TYPE, resource: "call", added: true }));
    expect((await drift()).find((row) => row.type === NEW_TYPE)?.catalogue).toBe("added");

    // Now a customer can subscribe to the added type by its name.
    const exact = await callApi<{ secret: string }>(stack, "POST", "/v1/subscriptions", {
      key,
      body: { url: `${receiver.url}/exact`, event_types: [NEW_TYPE] },
    });
    expect(exact.status, exact.text).toBe(201);

    // The operator redrives only this type: the router replays the original events (same ids).
    await waitFor(
      async () => {
        const redriven = await ops("unroutable", "redrive", "--type", NEW_TYPE);
        expect(redriven.code, redriven.stderr).toBe(0);
        return receiver.requests.length >= 4;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: "the parked events delivered after the redrive" },
    );
    await receiver.waitForRequests(4, 30_000);
    expect(
      receiver.requests
        .filter((request) => request.url === "/exact")
        .map((request) => body(request).data.id)
        .sort(),
    ).toEqual([...ids].sort());
    const delivered = receiver.requests.filter((request) => request.url === "/calls");
    expect(delivered.map((request) => body(request).data.id).sort()).toEqual([...ids].sort());
    for (const request of delivered) {
      expect(body(request).type).toBe(NEW_TYPE);
      expect(() => new Webhook(callSecret).verify(request.body, request.headers)).not.toThrow();
    }
    expect(receiver.requests.filter((request) => request.url === "/messages")).toHaveLength(0);

    // The other unknown type is still parked; the redriven one is gone from the drift.
    const after = await drift();
    expect(after.map((row) => row.type)).toEqual(["flowthing_happened"]);

    const types = await callApi<{ items: { type: string; resource: string; description: string }[] }>(
      stack,
      "GET",
      "/v1/event-types",
      { key },
    );
    expect(types.body.items).toContainEqual({
      type: NEW_TYPE,
      resource: "call",
      description: "A call was transferred to another destination.",
      // Nothing is known of an added type's data (PRODUCT §12: only built-in types have them).
      schema: null,
      example: null,
    });
    expect(types.body.items.find((item) => item.type === "call_hangup")).toBeDefined();
    const one = await callApi<{ type: string; schema: unknown }>(
      stack,
      "GET",
      `/v1/event-types/${NEW_TYPE}`,
      {
        key,
      },
    );
    expect(one.body).toMatchObject({ type: NEW_TYPE, resource: "call", schema: null });

    const removed = await ops("event-types", "remove", NEW_TYPE);
    expect(removed.code, removed.stderr).toBe(0);
    const missing = await ops("event-types", "remove", NEW_TYPE);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not an added type/);
  }, 240_000);
});
